/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What vfio-claim remembers between runs, under RUNSTATEDIR/vfio-claim inside the root:
 *
 *   lock      flock(LOCK_EX) serializes every writer: the CLI, the libvirt hook, the udev helper.
 *   group-N   one record per group the engine changed, written atomically (temporary file in the
 *             same directory, fsync, rename, fsync of the directory) before the first sysfs write.
 *
 * A record is plain text, one item per line:
 *
 *   group 12
 *   owner win11                       (absent when no VM owns the group)
 *   starter 1234 5678                 (optional, only with owner: the VM is starting, see below)
 *   by vfio-claim enable              (who claimed it; absent when unknown)
 *   since 1763771234                  (seconds since the epoch)
 *   state claiming|claimed|releasing
 *   device 0000:01:00.0 driver=nouveau module=nouveau override=none
 *   device 0000:01:00.1 driver=none module=none override=none
 *   device 0000:02:00.0 driver=none module=none override=none host=probe
 *   device 0000:03:00.0 driver=e1000e module=e1000e override=none reset_method=flr,bus
 *
 * "host=probe" marks a device claimed at boot, before any host driver could bind it: it had no
 * driver, but the host would have given it one. Its release lets the kernel choose, as at boot
 * without vfio-claim (clear driver_override, probe, load what the modalias names), where a plain
 * "driver=none" device stays unbound.
 *
 * "reset_method=" (optional, after host=probe when both are present) is the device's reset_method
 * before vfio-claim first wrote it ("reset =" of vfio-claim.conf(5)): the kernel's list with
 * commas for spaces, or "none" for an empty list (every method disabled). Release writes it back.
 * A device line without it (every record of a version before this field, and every device whose
 * reset_method vfio-claim never wrote) leaves reset_method alone at release.
 *
 * "starter PID START" (optional, added later; only after an owner) says the owner VM is still
 * starting: the libvirt hook's "prepare" took the group, and its "started" has not yet run. PID
 * is the libvirtd that runs the start (the hook's parent) and START its start time (field 22 of
 * /proc/PID/stat, clock ticks since boot), so that a reused PID is not mistaken for it. libvirt
 * may report a starting domain as shut off: while that libvirtd lives, the hold is live whatever
 * libvirt says. A record without the line (every record of a version before this field) is a
 * hold of a VM that runs, decided by asking libvirt, as before.
 *
 * Records are input like any other: reading one validates every field and returns -EBADMSG for
 * anything unexpected; addresses are parsed before they are used to build a path. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "pci.h"
#include "root.h"

/* Take the lock. @timeout_ms: 0 tries once, a negative value waits forever, otherwise polls
 * until the deadline. Returns the locked fd in *ret_fd (close it to unlock: _cleanup_close_).
 * -ETIMEDOUT (or -EWOULDBLOCK for a single try) when another writer holds it. The state
 * directory is created (0755) when missing. A lock file removed or replaced (mv) while this
 * process waited on it is opened again: the lock is the file now at the path. Once it is held,
 * @ctx reads what takes a device's lock with a deadline (vc_ctx_get_device_reads_bounded()). */
int vc_state_lock(struct vc_ctx *ctx, int timeout_ms, int *ret_fd);

enum vc_record_state {
        VC_RECORD_CLAIMING,  /* writes under way, or interrupted by a crash */
        VC_RECORD_CLAIMED,
        VC_RECORD_RELEASING, /* writes under way, or interrupted by a crash */
        _VC_RECORD_STATE_MAX,
};
const char *vc_record_state_to_string(enum vc_record_state s);
int vc_record_state_from_string(const char *s); /* -EINVAL when unknown */

struct vc_record_device {
        struct vc_pci_addr addr;
        char *driver;   /* the driver it had before the claim, NULL: none */
        char *module;   /* the module behind that driver, NULL: none or built in */
        char *override; /* driver_override before the claim, NULL: none */
        bool host_probe; /* claimed at boot: on release, the kernel picks the host driver */
        char *reset_method; /* reset_method before vfio-claim wrote it, as the kernel shows it
                             * ("flr bus", "" for none); NULL: not written, not to restore */
};

/* A process, identified against PID reuse: its PID and its start time (/proc/PID/stat). */
struct vc_process_id {
        uint32_t pid;        /* 0: none */
        uint64_t start_time; /* clock ticks after boot */
};

struct vc_record {
        unsigned group;
        char *owner; /* the VM the group was claimed for, NULL: none */
        struct vc_process_id starter; /* with an owner: the libvirtd starting it; .pid 0: none
                                       * (the VM runs, or an older record) */
        char *by;    /* who claimed it ("udev (PCI add event)", "vfio-claim enable", ...), NULL */
        uint64_t since;
        enum vc_record_state state;
        struct vc_record_device *devices;
        size_t n_devices;
        /* "console = handoff": the claim handed the console over (a "consoles" line), and the VT
         * consoles it unbound for that (vtconN), which release binds again. */
        bool console_handoff;
        char **consoles;
        size_t n_consoles;
        /* "stop = UNIT...": the systemd units the claim stopped (a "stopped" line), which
         * release starts again. */
        char **stopped_units;
        size_t n_stopped_units;
};

int vc_record_new(unsigned group, struct vc_record **ret);
struct vc_record *vc_record_free(struct vc_record *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vc_record *, vc_record_free);
/* Append a device. Names are validated: -EINVAL for an empty name, one with a '/', whitespace
 * or control characters. */
int vc_record_add_device(struct vc_record *r, const struct vc_pci_addr *addr, const char *driver,
                         const char *module, const char *override);
/* Remember the original reset_method of the listed device @addr, as read from sysfs ("flr bus",
 * "" or "\n" for none; a trailing newline is dropped). -ENOENT when the record does not list
 * @addr, -EINVAL for anything but at most 6 method names of [a-z_] separated by single spaces. */
int vc_record_set_reset_method(struct vc_record *r, const struct vc_pci_addr *addr, const char *value);
/* Mark the listed device @addr as claimed at boot (host=probe). -ENOENT when not listed. */
int vc_record_set_host_probe(struct vc_record *r, const struct vc_pci_addr *addr);
/* The boot pass wrote driver_override=vfio-pci to the listed device @addr before the claim, so an
 * override "vfio-pci" in its entry is not the host's: forget it, and mark a device that had no
 * driver host=probe. Returns 1 when the entry changed, 0 when it had no such override, -ENOENT
 * when not listed. */
int vc_record_drop_boot_override(struct vc_record *r, const struct vc_pci_addr *addr);
/* The claim hands the console over ("console = handoff"): mark the record, and add the VT console
 * @name (NULL: none, only the mark) unless it is listed already. -EINVAL when @name is not
 * "vtconN" (N at most 4 digits), -E2BIG past 64 consoles. */
int vc_record_add_console(struct vc_record *r, const char *name);
/* The claim stopped the systemd unit @name (lib/units.h); listed once. -EINVAL for a name that
 * is not a unit's, -E2BIG past 64 units. */
int vc_record_add_stopped_unit(struct vc_record *r, const char *name);
/* Is "vtconN" (N at most 4 digits) what @name says? */
bool vc_vtconsole_name_is_valid(const char *name);
/* Also clears the starter when @owner differs from the recorded owner. */
int vc_record_set_owner(struct vc_record *r, const char *owner);
/* The libvirtd starting the owner VM (NULL or .pid 0: none, the VM runs). -EINVAL without an
 * owner, or for PID 0 with a start time. */
int vc_record_set_starter(struct vc_record *r, const struct vc_process_id *starter);

/* The identity of process @pid from /proc/PID/stat inside @ctx's root: -ESRCH when there is no
 * such process, -EBADMSG for a stat line it cannot read. */
int vc_process_id_read(struct vc_ctx *ctx, uint32_t pid, struct vc_process_id *ret);
/* Does the process @id still run (the same PID with the same start time)? 1: yes, 0: gone or
 * another process under that PID now, negative errno: cannot tell. */
int vc_process_id_alive(struct vc_ctx *ctx, const struct vc_process_id *id);
/* Who claimed the group, for status: one printable line of at most 64 characters. */
int vc_record_set_by(struct vc_record *r, const char *by);
const struct vc_record_device *vc_record_find_device(const struct vc_record *r,
                                                     const struct vc_pci_addr *addr);

/* Serialize and parse (exposed for tests and for "status --json"). Parsing returns -EBADMSG for
 * malformed content, a record too large (64 KiB) or a group number that differs from
 * @expected_group (pass -1 to accept any). */
int vc_record_format(const struct vc_record *r, char **ret);
int vc_record_parse(const char *text, int expected_group, struct vc_record **ret);

/* Write atomically; the caller should hold the lock. */
int vc_record_write(struct vc_ctx *ctx, const struct vc_record *r);
/* -ENOENT when there is no record for @group, -EBADMSG when it is malformed. */
int vc_record_read(struct vc_ctx *ctx, unsigned group, struct vc_record **ret);
/* 0 also when there was none. */
int vc_record_remove(struct vc_ctx *ctx, unsigned group);
/* Groups that have a record, ascending. Names other than "group-N" are ignored. An empty list
 * when the state directory does not exist. */
int vc_record_list(struct vc_ctx *ctx, unsigned **ret, size_t *ret_n);
