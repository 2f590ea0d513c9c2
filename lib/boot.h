/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Claiming at boot (docs/DESIGN.md, "The data's way through the system", step 2): the part of
 * vfio-claim-udev that is logic.
 *
 * A boot target is a PCI device present now whose first matching configuration entry (file
 * order, as vc_config_match_device() decides) says "boot = yes". Finding the targets reads as
 * little as possible: the directory of each configured address, and the vendor/device files of
 * every device only when an entry matches by id. This runs for every PCI "add" event, so the
 * common case (nothing to do) must stay a handful of small reads.
 *
 * The override pass closes the coldplug race: a host module loaded for one device probes every
 * matching device at once, so every boot target's group must carry driver_override=vfio-pci
 * before any host module loads. The pass writes "vfio-pci" to the driver_override of each
 * endpoint of a target's group that has neither a driver nor an override; it never touches a
 * bound device (taking a device from a driver is the engine's job, under its checks), never a
 * device without an IOMMU group (vfio-pci would refuse it and the host would lose it), and never
 * a group the engine would refuse to claim (it asks the engine first, in a dry run).
 *
 * A boot claim is all or nothing: the whole group ends up claimed with a record, or nothing the
 * pass did stays. The pass writes a "claiming" record before its first override, and a claim
 * that then fails gives the group back from that record (vc_boot_claim()). */

#include <stdbool.h>
#include <stddef.h>

#include "bind.h"
#include "config.h"
#include "pci.h"
#include "root.h"

/* Is boot-time claiming switched off on the kernel command line (ROOT/proc/cmdline)?
 * "vfio_claim=0" and "rd.vfio_claim=0" both switch it off, in the initramfs and after it; the
 * value is read the way dracut's getargbool does (0, no, off, false: off; anything else: on) and
 * the last occurrence of a key wins; '-' and '_' are the same in the key. Returns 1 (off; the
 * switch that did it in *ret_switch, static storage), 0 (on; also when there is no cmdline
 * file), or a negative errno when the file cannot be read. */
int vc_boot_cmdline_disabled(struct vc_ctx *ctx, const char **ret_switch);

/* Runs inside an initramfs: ROOT/etc/initrd-release (dracut, systemd) or ROOT/conf/initramfs.conf
 * (initramfs-tools). */
bool vc_boot_in_initrd(struct vc_ctx *ctx);

enum vc_boot_target_state {
        VC_BOOT_TARGET_OK,
        VC_BOOT_TARGET_ID_MISMATCH, /* the "id =" guard does not hold: hardware changed */
        VC_BOOT_TARGET_NO_GROUP,    /* no IOMMU group: vfio-pci cannot take it */
        _VC_BOOT_TARGET_STATE_MAX,
};

struct vc_boot_target {
        struct vc_pci_addr addr;
        const struct vc_config_device *cd; /* points into the config */
        enum vc_boot_target_state state;
        struct vc_pci_id found; /* the ids read, for the guard's message (the subsystem's when the
                                 * guard has it) */
        int found_error;        /* negative errno: the ids could not be read (found is unset) */
        int group;              /* IOMMU group, -1 when none */
};

/* The boot targets present, in address order. An empty list (NULL, 0) is not an error. */
int vc_boot_targets_find(struct vc_ctx *ctx, const struct vc_config *cfg,
                         struct vc_boot_target **ret, size_t *ret_n);
/* The target at @addr, NULL when the device is none. */
const struct vc_boot_target *vc_boot_target_find(const struct vc_boot_target *t, size_t n,
                                                 const struct vc_pci_addr *addr);

/* The first target (state OK) of the IOMMU group of the device at @addr, NULL when there is none. */
const struct vc_boot_target *vc_boot_target_of_group(struct vc_ctx *ctx, const struct vc_boot_target *t,
                                                     size_t n, const struct vc_pci_addr *addr);
/* Does the record of @group say "claimed"? Read it under the lock. */
bool vc_boot_group_claimed(struct vc_ctx *ctx, unsigned group);

/* One driver_override the pass wrote (or failed to write). */
struct vc_boot_write {
        struct vc_pci_addr addr;
        unsigned group;
        const struct vc_config_device *cd; /* the target that brought its group in */
        int error;                         /* 0, or the negative errno of the write */
        bool not_written;                  /* -ETIMEDOUT before any write: the device's lock stayed held
                                            * through the bounded read of its override (lib/root.h) */
};

/* The override pass over @targets (states other than OK are skipped). A target whose own
 * driver_override is already set costs one read, made in the writer with the write's deadline
 * (lib/stuck.h: a driver's probe may hold the device's lock). The writers' lock is taken before the first
 * group is examined and handed to the caller in *lock_fd (left alone when it is already >= 0;
 * -1 stays -1 when nothing needed examining).
 *
 * A group is left alone when none of its endpoints needs an override, when its boot claim failed
 * earlier in this boot (vc_boot_group_failed()), and when the engine would refuse to claim it
 * (vc_group_claim() as a dry run, with the options vc_boot_claim() uses: protect, every "id ="
 * guard of the group, the resets): nothing is changed for a group the claim would refuse.
 * Otherwise, before its first override, the group's record is written in state "claiming",
 * listing the endpoints about to get one (host=probe, by @by), so that a claim that fails or
 * never comes leaves a record that says what to give back. Every write is reported in *ret (may
 * be NULL, 0). Returns the number of successful writes or a negative errno (lock, memory). */
int vc_boot_set_overrides(struct vc_ctx *ctx, const struct vc_config *cfg,
                          const struct vc_boot_target *targets, size_t n, const char *by,
                          int lock_timeout_ms, int *lock_fd, struct vc_boot_write **ret,
                          size_t *ret_n);

/* Does the configuration consent to moving @g? A group that holds an endpoint of another slot
 * than every configured endpoint of it (a GPU sharing its group with the onboard USB controller
 * and NIC) needs "consent = yes" on an entry of the group; the boot pass and the libvirt hook,
 * which cannot ask anyone, move it only then. 0: yes (or nothing of another slot); -EPERM, with
 * the first such endpoint and the reason in @result (release it with vc_op_result_done()). */
int vc_boot_consent_check(const struct vc_config *cfg, const struct vc_group *g, struct vc_op_result *result);

/* Has a boot claim of @group failed during this boot (RUNSTATEDIR/vfio-claim/boot-failed-N)?
 * The override pass then leaves the group to the host for the rest of the boot. */
bool vc_boot_group_failed(struct vc_ctx *ctx, unsigned group);
/* Was @message, the failure of a boot claim of @group, logged before in this boot? The group's
 * boot-failed mark holds the one logged last: 1 when that is @message; else 0, and the mark now
 * holds @message; or a negative errno. A refusal that every run of the boot meets again (the
 * pass in the initramfs, its events, the early unit, the real root's events) is logged once. */
int vc_boot_group_failure_logged(struct vc_ctx *ctx, unsigned group, const char *message);
/* A group whose record had devices claimed at boot (host=probe) was given back: the override
 * pass leaves it to the host for the rest of this boot (RUNSTATEDIR/vfio-claim/boot-released-N),
 * until a boot claim of it succeeds. Called by the engine's release (lib/bind.c), under the lock.
 * Returns 1 when it wrote the mark, 0 when the mark was there already, or a negative errno. */
int vc_boot_group_mark_released(struct vc_ctx *ctx, unsigned group);
/* Remove that mark: the engine's undo of a give-back that wrote it (vc_op_result_undo()). */
int vc_boot_group_unmark_released(struct vc_ctx *ctx, unsigned group);

/* Claim the group of @target through the engine, with the caller holding the lock: the engine's
 * checks (a dry run, as above) before anything else, then make sure vfio-pci is registered
 * (libkmod), then vc_group_claim() with every "id =" guard of the group, [global] protect and
 * the configured resets (the options of enable and apply); finally make sure a claimed group has
 * a state record, so that `vfio-claim status` shows boot claims too: a group that vfio-pci took
 * by itself when it loaded gets one (original driver none), and an override of "vfio-pci" is
 * never recorded as the original (only the boot path sets it, and restoring it on release would
 * be wrong). @by names the program in the record (VC_BOOT_BY_*, below).
 *
 * Either the whole group is claimed with a record, or nothing of the boot pass stays: when any of
 * this fails and the group's record says "claiming" (the override pass wrote it, or a claim
 * could not roll back), the group is given back through vc_group_release() (overrides cleared,
 * no device left on vfio-pci, the host's driver probed) and marked failed for this boot.
 * *ret_given_back: 0 nothing to give back, 1 given back, or the negative errno of a give-back
 * that failed (the "claiming" record stays, for `vfio-claim release`).
 *
 * Returns 0 (claimed, now or before), 1 when the group has no endpoint (@target is a bridge, a
 * root port an entry names, alone in its group: bridges stay on their drivers, so there is
 * nothing to claim; nothing is checked, written or marked), or a negative errno. */
int vc_boot_claim(struct vc_ctx *ctx, const struct vc_config *cfg,
                  const struct vc_boot_target *target, const char *by, struct vc_op_result *result,
                  int *ret_given_back);

/* Who claimed a boot group, as its record says (struct vc_record's "by"): the boot pass and a
 * udev event's run, in the initramfs or after the switch to the real root. */
#define VC_BOOT_BY_PASS_INITRD "boot pass in the initramfs"
#define VC_BOOT_BY_PASS "boot pass (vfio-claim-early)"
#define VC_BOOT_BY_EVENT_INITRD "udev (PCI add event in the initramfs)"
#define VC_BOOT_BY_EVENT "udev (PCI add event)"
/* A USB device the initramfs held for a [usb] boot = yes entry (the "by" line of its record,
 * lib/usb.h): by the boot pass (VC_BOOT_BY_PASS_INITRD) or at its add event. */
#define VC_BOOT_BY_USB_EVENT_INITRD "udev (USB add event in the initramfs)"

/* For the boot pass after the switch to the real root: the groups the initramfs claimed that the
 * real root's configuration does not claim at boot. The initramfs carries the copy of the
 * configuration it was built with, so an entry dropped or set to boot = no since its last
 * rebuild is claimed there. Such a group: its record says the initramfs claimed it
 * (VC_BOOT_BY_PASS_INITRD or VC_BOOT_BY_EVENT_INITRD), state claimed, for no VM, and no device of
 * it is one of @targets (vc_boot_targets_find() of the real root's configuration, in any state).
 * Ascending group numbers in *ret (free() it; NULL, 0 when none), or a negative errno. */
int vc_boot_stale_groups(struct vc_ctx *ctx, const struct vc_boot_target *targets, size_t n, unsigned **ret,
                         size_t *ret_n);

/* For the boot pass after the switch to the real root, for a group a boot = yes entry of the real
 * root's configuration (@cfg) still selects: does that configuration refuse the claim the
 * initramfs made of @group with its older copy? The initramfs claimed it (its record says
 * VC_BOOT_BY_PASS_INITRD or VC_BOOT_BY_EVENT_INITRD, state claimed, for no VM), and a boot claim
 * with @cfg would be refused: consent (vc_boot_consent_check()), an "id =" guard of a member, or
 * [global] protect, here over every endpoint, those on vfio too (the engine does not check a
 * device already on vfio, but these are there only because of the older copy), the image's list
 * of host-critical devices included (lib/critical.h). The real root's claim of a group already
 * claimed changes nothing, so without this the group would stay with vfio-pci, its other-slot
 * devices (a USB controller, a NIC) lost to the host for the whole boot. Under the lock.
 * Returns 1 (refused: why in @result, release it with vc_op_result_done()), 0 (not such a group,
 * or the configuration claims it too), or a negative errno. */
int vc_boot_initrd_claim_refused(struct vc_ctx *ctx, const struct vc_config *cfg, unsigned group,
                                 struct vc_op_result *result);

/* The event udev hands vfio-claim-udev, from its environment (ACTION, SUBSYSTEM, PCI_SLOT_NAME;
 * each NULL when unset). Returns 1 for a PCI "add" event, with the device's address in *ret; 0
 * for any other event (nothing to do); -EINVAL for a PCI "add" event whose PCI_SLOT_NAME is
 * missing or not a PCI address. */
int vc_boot_event_parse(const char *action, const char *subsystem, const char *slot,
                        struct vc_pci_addr *ret);

/* ------------------------------------------------------------ the generated udev rule
 *
 * The rule udev uses: RUNDIR/udev/rules.d/VC_BOOT_RULES_NAME, which takes the place of the file
 * of the same name in udev's directory (udev/70-vfio-claim.rules, which runs nothing). It makes
 * udev run vfio-claim-udev for a PCI add event only when the event can matter for a boot = yes
 * device, so every other event starts no process:
 *   - KERNEL=="ADDR": every address a boot = yes entry matches, and every endpoint present now
 *     in the IOMMU group of a boot target in state OK (a sibling's event must set the group's
 *     overrides before its own module load: see udev/70-vfio-claim.rules); not the bridges of
 *     the group, and not through a target whose guard fails (its group is refused whole);
 *   - ENV{PCI_ID}=="VVVV:DDDD": every id a boot = yes entry matches, its "id =" guard, and the
 *     ids of every group endpoint above (not of a bridge an entry names: a twin root port loads
 *     no host module): a twin card with the same ids loads the same host module,
 *     which would probe the configured device before that device's own event ran the helper.
 * and, before those, for USB (lib/usb.h): ENV{PRODUCT}=="V/P/..." of every id vc_usb_held_ids()
 * gives, for the device's add event and for each bind of a driver other than usbfs to one of its
 * interfaces; and before those, for the add event of a device of each [usb NAME] entry with
 * vm = (its ids, and KERNEL== its port when the entry names one), TAG+="systemd" and
 * ENV{SYSTEMD_WANTS}+=VC_USB_REATTACH_UNIT: systemd starts "vfio-claim usb-reattach PORT"
 * (systemd/vfio-claim-usb-reattach@.service.in), which attaches it to its running VM again.
 * Neither the udev helper nor the libvirt hook talks to libvirt.
 * The helper reads the configuration again on every run, so a rule older than the configuration
 * costs a process start and never claims a device the configuration no longer names.
 * What the rule says depends on the configuration, the USB records of the state directory and,
 * of the PCI bus, only which devices exist, their addresses, ids, IOMMU groups and whether each
 * is a bridge: never on a device's driver or driver_override. The CLI, the boot pass and the
 * libvirt hook (after it took or gave back a USB device) write it under the lock, so those are read without anything that takes a device's lock
 * (VC_PCI_READ_NO_DEVICE_LOCK, lib/pci.h: not driver_override, sriov_numvfs or uevent), which
 * the kernel holds for as long as a driver's probe of the device is stuck. */
#define VC_BOOT_RULES_NAME "70-vfio-claim.rules"
#define VC_USB_REATTACH_UNIT "vfio-claim-usb-reattach@%k.service"

/* The rule's text for @cfg (NULL: a configuration that cannot be used; no rule then). */
int vc_boot_rules_format(struct vc_ctx *ctx, const struct vc_config *cfg, char **ret);
/* Write it (atomically, creating the directory): 1 written, 0 the file says that already. */
int vc_boot_rules_write(struct vc_ctx *ctx, const struct vc_config *cfg);
