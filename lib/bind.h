/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The claim engine: move every endpoint of an IOMMU group to vfio-pci and back, as one
 * transaction.
 *
 * One primitive moves one device to a target (driver, override):
 *   set driver_override to the target driver, load its module when the driver is missing,
 *   unbind the current driver, write the address to drivers_probe, re-read the driver link and
 *   verify, then set driver_override to the target's value ("\n" clears it).
 * A device whose target is "no driver" is unbound and its override restored; nothing probes it.
 * Every sysfs write runs in a forked child that the parent waits for with a deadline (the
 * unbind timeout of the context, or opts->timeout_ms): a write that blocks (an unbind waiting
 * for a GPU in use, a probe waiting on a device lock) is killed with SIGKILL and reported as
 * -ETIMEDOUT; a child stuck in the kernel (D state) is abandoned, never waited for forever.
 * The caller must not ignore SIGCHLD (SIG_IGN makes children unwaitable).
 *
 * After a timeout: the abandoned write may still take effect, and until it ends it holds the
 * device lock, which reading driver_override takes (lib/stuck.h). So the operation touches that
 * device no more: no read of driver_override (the driver is read from the driver link), no
 * write, no rollback of it; the other devices are rolled back; result->rollback_error is
 * -ETIMEDOUT, and the record stays "claiming" or "releasing" with the originals, because the
 * device is in neither state for sure. The device is marked stuck (RUNSTATEDIR/vfio-claim/
 * stuck-ADDR): a later operation on its group first waits for its device lock, at most the
 * unbind timeout, in a child; while it is still held it fails at once (VC_STEP_WAIT_DEVICE,
 * -ETIMEDOUT) without writing, and once the write is over, release gives the group back to the
 * drivers the record lists (or claim finishes the claim), whatever the write did. The lock is
 * never held while waiting without a deadline, so no other command hangs behind it. A member
 * whose lock something else holds (a driver's probe or remove that does not return) is found the
 * same way: under the state lock its driver_override is read with the deadline (lib/root.h,
 * vc_ctx_get_device_reads_bounded()), and the operation fails as above, with nothing written.
 *
 * Claim moves every endpoint that is not already on vfio-pci (or a vfio variant driver) to
 * (vfio-pci, override "vfio-pci"); bridges are never touched. Release moves every device of the
 * record back to (original driver, original override). A device claimed at boot (host=probe)
 * goes to the kernel's pick, never to a vfio driver: when an id of vfio-pci's makes the probe
 * pick vfio-pci, it is bound by name to a driver its modalias names, or left unbound with the
 * reason in its plan entry's description. When any step fails, every device the
 * operation touched is moved back to where the operation found it, in reverse order, best
 * effort, and the result names the device, the step and the errno.
 *
 * Locking: claim and release take the state lock themselves (vc_state_lock()) unless
 * opts->lock_held says the caller already holds it; a caller that must check and act
 * atomically (the hook: "is this group held by a running VM?", enable: write config then
 * claim) takes the lock first and sets lock_held. Never take it twice in one process: flock
 * locks of two open files conflict even within one process.
 *
 * Records: a claim writes the group's record (state "claiming", original driver of every
 * endpoint) before its first sysfs write, and "claimed" at the end; a failed fresh claim
 * removes it again. A release marks it "releasing", and removes it at the end; a failed release
 * puts the record back as it was. A record left "claiming" or "releasing" by a crash, a failed
 * rollback or a write that timed out is valid input to release: it restores the originals it
 * lists. Before a claim first writes an
 * endpoint's reset_method ("reset ="), the record notes what it said (state.h: reset_method=);
 * release writes that back once the device is the host's again.
 *
 * Undo: a successful operation leaves in its result what it moved and wrote (result->undo);
 * vc_op_result_undo() takes back exactly that (with a give-back, the boot-released mark it wrote,
 * lib/boot.h; one that was there before stays). A command that claims or releases several groups
 * and fails on a later one undoes the earlier ones with it, so that a group that was claimed
 * before the command stays claimed. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "pci.h"
#include "plan.h"
#include "reset.h"
#include "root.h"

struct vc_critical_set;

struct vc_process_id; /* state.h */

enum vc_step {
        VC_STEP_NONE,
        VC_STEP_LOCK,           /* "take the lock" */
        VC_STEP_READ,           /* "read the group" */
        VC_STEP_READ_RECORD,    /* "read the state record" */
        VC_STEP_PROTECT,        /* "pass the host-critical check" (see ->reason) */
        VC_STEP_IDENTITY,       /* "check the device identity" */
        VC_STEP_OWNER,          /* "check the owner" (held by another VM) */
        VC_STEP_LOAD_MODULE,    /* "load module" + ->failed_arg */
        VC_STEP_WRITE_RECORD,   /* "write the state record" */
        VC_STEP_SET_OVERRIDE,   /* "set driver_override" */
        VC_STEP_UNBIND,         /* "unbind from" + ->failed_arg */
        VC_STEP_PROBE,          /* "probe" */
        VC_STEP_VERIFY,         /* "verify the binding to" + ->failed_arg */
        VC_STEP_CLEAR_OVERRIDE, /* "clear driver_override" */
        VC_STEP_VFIO_NODE,      /* "find the vfio group node" */
        VC_STEP_RESET_METHOD,   /* "set reset_method to" + ->failed_arg */
        VC_STEP_RESET,          /* "reset the device before giving it back" */
        VC_STEP_WAIT_DEVICE,    /* "wait for the device's lock, held by a write or a driver's probe ..." */
        VC_STEP_HOLDERS,        /* "check for processes holding the device" (see ->reason) */
        VC_STEP_VTCONSOLE,      /* "set the binding of" + ->failed_arg (vtconN, console = handoff) */
        VC_STEP_FIRMWARE_FB,    /* "release the firmware framebuffer" + ->failed_arg (efi-framebuffer.0) */
        VC_STEP_STOP_UNIT,      /* "stop" + ->failed_arg (the systemd unit; ->reason: the job's result) */
        VC_STEP_START_UNIT,     /* "start" + ->failed_arg (as above) */
        _VC_STEP_MAX,
};
const char *vc_step_to_string(enum vc_step s);

/* Guard for "id =" (vfio-claim.conf(5)): refuse the claim when the device at @addr does not carry @id. */
struct vc_claim_guard {
        struct vc_pci_addr addr;
        struct vc_pci_id id;
};
struct vc_config;
struct vc_group;
/* What the configuration says about a claim or release of a group, for struct vc_claim_opts. */
struct vc_claim_config {
        struct vc_claim_guard *guards;   /* one per member an entry with "id =" selects */
        size_t n_guards;
        struct vc_reset_choice *resets;  /* "reset =" of every configured endpoint (lib/reset.h) */
        size_t n_resets;
        struct vc_pci_addr *handoffs;    /* the endpoints configured with "console = handoff" */
        size_t n_handoffs;
        char **stop_units;               /* "stop =" units, each once, in the order of the members */
        size_t n_stop_units;
};
/* Fill @ret from the entries of @c that select members of @g (vc_config_match_device()). @c
 * NULL: nothing. The arrays are never NULL on success; vc_claim_config_done() frees them.
 * -ENOMEM, @ret untouched. */
int vc_claim_config_for_group(const struct vc_config *c, const struct vc_group *g, struct vc_claim_config *ret);
void vc_claim_config_done(struct vc_claim_config *cc);

struct vc_claim_opts {
        const char *by;        /* claim: who claims, recorded for status ("vfio-claim enable") */
        const char *owner;     /* claim: the VM it is claimed for (recorded); release: only
                                * release when the record has no owner or this one. NULL: any */
        const struct vc_process_id *starter; /* claim with an owner: the libvirtd starting that VM,
                                               * recorded ("starter", lib/state.h); NULL: the VM
                                               * runs (no starter recorded) */
        bool dry_run;          /* plan only: no sysfs write, no module load, no record */
        unsigned timeout_ms;   /* per sysfs write; 0: vc_ctx_get_unbind_timeout_ms() */
        bool lock_held;        /* the caller holds vc_state_lock() */
        const struct vc_group *group; /* with lock_held: group N as the caller read it
                                       * (vc_group_read()) after it took the lock, used instead
                                       * of a read of its own (borrowed; ignored for another
                                       * group, or without lock_held). NULL: read here */
        int lock_timeout_ms;   /* 0: 60 s; negative: wait forever */
        bool protect;          /* claim: refuse (-EPERM) when an endpoint it would move is
                                * host-critical (endpoints already on vfio are not checked) */
        struct vc_critical_set **critical; /* claim with protect: where the host-critical scan
                                            * (lib/critical.h) of an operation of several claims
                                            * under one hold of the lock is kept: made by the
                                            * first claim that needs it, used by the next ones;
                                            * the caller frees it. NULL: each claim scans */
        bool any_host_driver;  /* release: an endpoint whose original driver cannot be loaded
                                * (its module gone, say) is taken off vfio-pci, its override
                                * cleared, and the loaded drivers probed (libvirt's reattach),
                                * and the result's not_restored says so; without it the release
                                * fails at that module */
        bool ignore_holders;   /* go on when a display device (PCI class 0x03) the operation would
                                * unbind has device nodes a process holds open, or a block device
                                * below a device it would unbind is (lib/critical.h,
                                * vc_block_nodes_below()); without it the operation refuses
                                * (-EBUSY, VC_STEP_HOLDERS) before any write, as the unbind would
                                * wait for them (lib/display.h) or pull the disk from under them */
        bool ignore_block_holders; /* only the display devices' holders are looked for: the boot
                                    * claims, when no VM runs yet and at coldplug pvscan, blkid or
                                    * udisks open a disk for a moment */
        /* Endpoints configured with "console = handoff" (struct vc_claim_config). Claim:
         * the boot VGA driving the console is not refused for them (every other guard stays);
         * the record lists ("consoles", lib/state.h) every VT console bound to a driver other
         * than the dummy console, and before the first device moves they are unbound
         * (sys/class/vtconsole/vtconN/bind <- 0), then every bound firmware framebuffer
         * (lib/display.h) is unbound from its driver, both through the transaction (a failed
         * claim binds them again). Only when one of these endpoints moves. Release: after the
         * devices are back, the consoles the record lists are bound again (<- 1), whatever the
         * configuration says now (one that does not bind goes to result->not_restored, and
         * fails nothing); the firmware framebuffer is not (the GPU's own driver, back
         * now, drives the console). A record from before "consoles" existed: with a handoff
         * endpoint configured, every unbound console but the dummy is bound again. */
        const struct vc_pci_addr *handoffs;
        size_t n_handoffs;
        /* "stop = UNIT..." of the group's endpoints (struct vc_claim_config). Claim, when
         * devices move: the units that are active are listed in the record ("stopped") and
         * stopped through systemd (lib/units.h) after the record of intent and before anything
         * else; the check for processes holding a display device's nodes comes after them (not
         * in a dry run, which asks systemd nothing). A failed claim starts them again. Release:
         * the units the record lists are started again last, after the drivers and consoles; a
         * unit that does not start fails nothing: it goes to result->not_restored. */
        char *const *stop_units;
        size_t n_stop_units;
        const struct vc_claim_guard *guards; /* claim: identity guards, checked before any write */
        size_t n_guards;
        /* "reset =" of the endpoints (reset.h): claim writes each to reset_method before moving
         * the group (an already claimed group only when it differs); release resets an endpoint
         * configured with flr, bus or device_specific before giving it back. A failure fails
         * the operation like any other step. Endpoints not listed are left alone. */
        const struct vc_reset_choice *resets;
        size_t n_resets;
};

/* Point the guards, resets, handoffs and stop units of @o at those of @cc (borrowed). */
void vc_claim_opts_use_config(struct vc_claim_opts *o, const struct vc_claim_config *cc);

/* Zero it before the first use; release its contents with vc_op_result_done(). */
struct vc_op_undo;

struct vc_op_result {
        int error;               /* the return value */
        unsigned group;
        bool has_failed_device;
        struct vc_pci_addr failed_device;
        enum vc_step failed_step;
        char *failed_arg;        /* driver or module the failed step concerned */
        char *reason;            /* VC_STEP_PROTECT: why the device is critical; VC_STEP_HOLDERS:
                                  * who holds it ("/dev/dri/card0 is open by Xorg (pid 812)") */
        bool console;            /* VC_STEP_PROTECT: the reason is the console the boot VGA drives,
                                  * which "console = handoff" would have let the claim take along */
        bool changed;            /* the system was changed, and the change was kept: devices
                                  * moved or a reset_method written (a record written alone, an
                                  * owner taken, does not count). Not "this call claimed the
                                  * group": to take an operation back, use vc_op_result_undo() */
        int rollback_error;      /* 0, or the first error of a rollback that could not restore */
        char **not_restored;     /* a release that succeeded: what the claim took from the host
                                  * that could not be given back with the group (a unit of
                                  * "stop =" that did not start, a VT console that did not bind),
                                  * one line each for a person: "display-manager.service did not
                                  * start again (systemd's job ended \"failed\"); start it once
                                  * fixed: systemctl start display-manager.service". NULL: none */
        size_t n_not_restored;
        struct vc_plan *plan;    /* always filled when the group could be read: members, actions,
                                  * and the writes made (or, with dry_run, that would be made) */
        struct vc_op_undo *undo; /* what a successful operation changed, for vc_op_result_undo():
                                  * the devices it moved (as it found them), the attributes it
                                  * wrote (with their old values), the record as it was. NULL:
                                  * nothing to undo (nothing changed, a dry run, or undone) */
};
void vc_op_result_done(struct vc_op_result *r);

/* Take back exactly what the successful operation of @result changed, and nothing else: move
 * each device it moved back to the driver and driver_override it found, newest first (a device
 * of a claim goes back to its host driver, one of a release back to vfio-pci), write back the
 * old value of each attribute it wrote (reset_method), and put the group's record back as it
 * was (removed when there was none): an owner or reset_method= the operation added goes away,
 * an already claimed group stays claimed. For a multi-group command whose later group failed:
 * call it for each earlier group, newest first, under the same lock (@lock_held; otherwise it
 * takes vc_state_lock() with the engine's default timeout).
 * Returns 0 when everything is back, also when there was nothing to undo (a failed operation
 * rolled itself back already; a second call finds nothing). Errors:
 *   -ETIMEDOUT, -EWOULDBLOCK  the lock could not be taken (nothing was done)
 *   the first error of a write, module load or verification (-EIO, -EBUSY, -ENXIO, ...) that
 *   could not restore a device: the rest is still restored, result->rollback_error holds it too,
 *   and the record says the operation is unfinished, so that vc_group_release() can finish
 *   later: a claim's stays, "claiming" (a group that had a record before gets that one back), a
 *   give-back's comes back "releasing"
 *   any errno of writing or removing the record (-EIO, -ENOSPC, ...). */
int vc_op_result_undo(struct vc_ctx *ctx, struct vc_op_result *result, bool lock_held);
/* One line for a person: "0000:01:00.0: failed to unbind from nouveau: Device or resource busy",
 * "0000:00:1f.2: refused: controller of the root filesystem /dev/sda2",
 * "0000:01:00.0: hardware changed (expected 10de:2204)",
 * "0000:01:00.0: /dev/dri/card0 is open by Xorg (pid 812); stop them first". NULL when there is no error. */
char *vc_op_result_message(const struct vc_op_result *r);
/* Did the operation fail because one sysfs write (an unbind, a probe, driver_override, a reset) did not
 * finish within the timeout (vc_ctx_get_unbind_timeout_ms())? The kernel may still carry that
 * write out; the device was left alone and the record kept (see vc_group_claim()). Not the lock,
 * a unit's job or the wait for a device, which time out with no write of ours under way. */
bool vc_op_result_write_timed_out(const struct vc_op_result *r);

/* Claim group @group for vfio. Returns 0 when the group is claimed (result->changed tells
 * whether anything was done: an already claimed group is a no-op, but for a reset_method that
 * differs from opts->resets, and an owner or record to write). Before it first writes an
 * endpoint's reset_method, the record notes the original (state.h: reset_method=), which
 * release writes back. Errors:
 *   -ENOENT  no such group          -EPERM   host-critical (opts->protect)
 *   -ESTALE  identity guard failed  -EBUSY   recorded owner is another VM, or a process
 *                                             holds a display device or a disk below a
 *                                             device open (VC_STEP_HOLDERS)
 *   -EBADMSG malformed record       -ETIMEDOUT a write did not finish in time, or one an
 *                                             earlier operation gave up on still holds a
 *                                             device (VC_STEP_WAIT_DEVICE)
 *   -ENXIO   verify: the device is not bound to the expected driver after the probe
 *   -ENODEV  /dev/vfio/N did not appear
 *   any errno of a failed sysfs write or module load. */
int vc_group_claim(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                   struct vc_op_result *result);

/* Give group @group back to the drivers its record lists, and each endpoint the reset_method
 * the record lists (the host's, before a claim wrote its own). No record: 0, nothing changed.
 * Errors as for claim; -EBUSY when opts->owner is set and the record names another owner. */
int vc_group_release(struct vc_ctx *ctx, unsigned group, const struct vc_claim_opts *opts,
                     struct vc_op_result *result);

/* Convenience: the plan of a claim without doing it (a dry run). */
int vc_claim_plan_new(struct vc_ctx *ctx, unsigned group, struct vc_plan **ret);

/* The identity guard: 0 when @d carries @expected (subsystem ids too when given), -ESTALE
 * ("hardware changed") otherwise. */
int vc_device_check_identity(const struct vc_pci_dev *d, const struct vc_pci_id *expected);
