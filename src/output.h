/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How devices and groups are described to people (tables) and programs (JSON). */

#include "cli.h"
#include "json.h"

/* Facts about a device that do not come from its own sysfs directory. */
struct device_facts {
        const char *config_name; /* configured device name, NULL when not configured */
        const char *critical;    /* why the host cannot lose it, NULL when it can */
        const char *vm;          /* owner VM from the state records */
};

void device_facts_for(struct vc_cli *cli, const struct vc_pci_dev *d, struct device_facts *ret);
void json_device(struct vc_cli *cli, struct vc_json *j, const struct vc_pci_dev *d, bool detail);
void json_group(struct vc_cli *cli, struct vc_json *j, const struct vc_group *g, bool detail);
/* "ID 10de:2204" with names when the hardware database knows them. */
char *device_description(struct vc_cli *cli, const struct vc_pci_dev *d);

/* The version of every --json document's layout: raised when a field changes meaning or goes
 * away (adding a field does not raise it). */
#define VC_JSON_SCHEMA_VERSION 1
/* "schema_version" and "host": {"hostname", "machine_id"} (read inside --sysroot; null when
 * unknown), first in a document, so that inventories from many hosts can be merged. */
void json_host_identity(struct vc_cli *cli, struct vc_json *j);
