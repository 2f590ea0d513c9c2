/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Writes that did not finish. A sysfs write the engine gave up on (lib/bind.c: killed after the
 * timeout) may still be running in the kernel, holding the device lock; in Linux 6.1 reading
 * driver_override or sriov_numvfs takes that lock (driver_override_show(), sriov_numvfs_show()),
 * and a process waiting for it sleeps in D state, where no signal and no timeout reach it. So:
 *
 *   - the engine marks such a device (RUNSTATEDIR/vfio-claim/stuck-ADDR): before each request
 *     whose writes take its lock, the mark removed when the writer answers, so that a program
 *     killed while its write is in the kernel leaves it too;
 *   - vc_pci_dev_read() reads those attributes of a marked device only after a read in a child
 *     finished within the unbind timeout (the lock is free again: the mark goes, when this
 *     program holds the state lock, vc_ctx_get_state_locked(): a reader without it could come
 *     between two writes of a request under way); otherwise the device reads as
 *     vc_pci_dev_write_pending(), without them, and the caller does not wait.
 *
 * Nothing that takes a device's lock then runs without a deadline in a process that holds the
 * state lock, and no later command hangs on a device an earlier one left stuck. */

#include <stdbool.h>

#include "pci.h"
#include "root.h"

/* Write @value to @path in a child process (@value NULL: read @path and discard what it says),
 * and wait at most @timeout_ms: its result, or -ETIMEDOUT after killing the child (a child
 * stuck in the kernel is abandoned, not waited for). The caller must not ignore SIGCHLD. */
int vc_timed_access(const char *path, const char *value, unsigned timeout_ms);
/* Read @path in the writer, at most @size bytes into @buf (at most VC_TIMED_READ_MAX), and wait
 * at most @timeout_ms: the bytes read, or -ETIMEDOUT (the writer killed or abandoned) or the
 * read's error. For an attribute whose read takes a lock a driver may hold for long: a USB
 * device's string descriptors (lib/usb.h). */
#define VC_TIMED_READ_MAX 4096
int vc_timed_read(const char *path, char *buf, size_t size, unsigned timeout_ms);
/* The writes of @values[i] to @paths[i] (at most VC_TIMED_WRITES_MAX), in order, in one request
 * to the child: the first that fails ends it. Each write has @timeout_ms from when it began.
 * Returns 0 or the error of the write that failed (-ETIMEDOUT: it did not finish, and the child
 * was killed or abandoned); *ret_done: the writes made before it (all of them on success). */
#define VC_TIMED_WRITES_MAX 4
int vc_timed_writes(const char *const *paths, const char *const *values, size_t n, unsigned timeout_ms,
                    size_t *ret_done);

/* vc_timed_access() of a write that takes @a's lock: @a is marked (vc_stuck_mark()) before the
 * write goes to the writer, and the mark removed when it answers; on -ETIMEDOUT, or when this
 * program dies first, the mark stays for the commands after this one. @a NULL: a write that
 * takes no device's lock, never marked. */
int vc_stuck_timed_write(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *path, const char *value,
                         unsigned timeout_ms);
/* vc_timed_writes() of writes that take @a's lock, marked as vc_stuck_timed_write() does. */
int vc_stuck_timed_writes(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *const *paths,
                          const char *const *values, size_t n, unsigned timeout_ms, size_t *ret_done);

/* Read the attribute @attr of the device @a, whose read takes the device lock (driver_override),
 * in the writer within @timeout_ms: into @buf (@size bytes, NUL-terminated, a trailing newline
 * dropped), its length. -ETIMEDOUT when it did not finish: something holds the lock (a write
 * that did not finish, or a driver's probe or remove that does not return), and the device is
 * then marked, as for a write that did not finish, so that the commands after this one read it
 * with a deadline too. A read that finishes removes the device's mark when this program holds the
 * state lock (@may_be_marked false: the caller knows there is none). Otherwise the read's error (-E2BIG: it did not fit, -EBADMSG:
 * not text). For a program that holds the state lock (vc_ctx_get_device_reads_bounded()). A dry
 * run (vc_ctx_get_dry_run()) neither makes nor removes a mark. */
int vc_stuck_read(struct vc_ctx *ctx, const struct vc_pci_addr *a, const char *attr, char *buf, size_t size,
                  unsigned timeout_ms, bool may_be_marked);

int vc_stuck_mark(struct vc_ctx *ctx, const struct vc_pci_addr *a);
bool vc_stuck_is_marked(struct vc_ctx *ctx, const struct vc_pci_addr *a);
/* 0 when the device is not marked, or its lock was free within @timeout_ms (the mark is
 * removed, by a holder of the state lock); -ETIMEDOUT when a write still holds it. */
int vc_stuck_wait(struct vc_ctx *ctx, const struct vc_pci_addr *a, unsigned timeout_ms);
