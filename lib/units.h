/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd units that hold a device the claim needs ("stop = UNIT...", vfio-claim.conf(5)): a
 * display manager that keeps the GPU's nodes open. They are stopped and started through
 * systemd's D-Bus API (org.freedesktop.systemd1.Manager on the system bus: StopUnit, StartUnit,
 * ListUnitsByNames), waiting for the job to finish (its JobRemoved signal). libsystemd is opened
 * on first use, not linked: only a claim that has units to stop pays for it. The bus is
 * sd_bus_open_system()'s: $DBUS_SYSTEM_BUS_ADDRESS when set, the system bus otherwise. */

#include <stdbool.h>

/* A unit name as systemd accepts it, of a kind that runs (service, socket, target, scope,
 * mount, path, timer): letters, digits and ":-_.\@", at most 255 bytes, a name before the
 * suffix. */
bool vc_unit_name_is_valid(const char *name);

/* Is the unit active (or activating, reloading)? 1 yes, 0 no (also a unit systemd does not
 * know), -ELIBACC without libsystemd, or the -errno of the bus. */
int vc_unit_is_active(const char *name);

/* Stop (@start false) or start the unit, and wait up to @timeout_ms for the job to finish.
 * 0 when it finished as "done"; -ETIMEDOUT past the deadline; -EIO for a job that ended
 * otherwise (failed, canceled, dependency), with its result in *ret_result (free(), NULL
 * when not asked); -ELIBACC without libsystemd, or the -errno of the bus. */
int vc_unit_change(const char *name, bool start, unsigned timeout_ms, char **ret_result);
