/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fault matrix (issue 3, item 2): on the nics-bridge fixture (group 5: a PCIe-to-PCI bridge
 * and three NICs on e1000, e1000 and 8139cp), make write N of a claim, or of a release, fail
 * with EIO or EBUSY, or hang past the timeout (5 s); the operation must fail with that error, name the
 * device that write concerned, and leave every driver link, every driver_override, /dev/vfio and the state record
 * exactly as it found them. A hang is the exception: the write may still take effect, so the device
 * it concerned is left alone and the record stays "claiming"/"releasing" (check_hang()). Then
 * the same operation, without the fault, must succeed.
 *
 *   test-fault-matrix claim|release|reprobe N EIO|EBUSY|HANG   one cell (make check runs each alone)
 *   test-fault-matrix clean                                    the write counts the cells are made for
 *
 * VC_FAULT_SKIP=EBUSY (make check-valgrind sets it) skips the EBUSY cells: the engine has no path
 * of its own for a write that fails with EBUSY, so under memcheck they would run the EIO cells'
 * code again. make check and the ASan build run every cell.
 *
 * "reprobe" is the release of a group claimed at boot: its record marks every endpoint host=probe
 * (no host driver had it), so the release clears driver_override, unbinds and lets the kernel
 * probe; the loaded e1000 and 8139cp take the NICs back.
 *
 * FAULT_CLAIM_WRITES, FAULT_RELEASE_WRITES and FAULT_REPROBE_WRITES (from configure.ac, which
 * also makes the list of cells from them) are the writes of a clean claim, release and reprobe; "clean" fails when the
 * engine's writes change, so that the cell list is updated with them. */

#include "bind.h"
#include "pci.h"
#include "root.h"
#include "state.h"
#include "sysfs.h"
#include "tests.h"
#include "fake.h"

#define FIXTURE "nics-bridge"
#define GROUP 5
/* A hang is detected by the timeout; every other write of that operation must finish within it
 * even on a loaded two-CPU builder running the cells in parallel (a write killed midway through
 * the shim would corrupt the fake kernel's own files). So: a timeout a fork and one write fit in
 * many times over for the hang cells, and a generous one for the rest. */
#define HANG_TIMEOUT_MS 5000
#define TIMEOUT_MS 120000

static int fail(const char *fmt, ...) _printf_(1, 2);
static int fail(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("  FAIL: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        return EXIT_FAILURE;
}

static char *record_text(struct vc_ctx *ctx) {
        _cleanup_free_ char *path = NULL;
        char *text = NULL;
        if (vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &path, "group-%d", GROUP) < 0)
                abort();
        if (vc_sysfs_read(path, &text) < 0)
                return NULL;
        return text;
}

enum op { OP_CLAIM, OP_RELEASE, OP_REPROBE, _OP_MAX };
static const char *const op_names[_OP_MAX] = { "claim", "release", "reprobe" };

static int op_from_name(const char *s) {
        for (int i = 0; i < _OP_MAX; i++)
                if (streq(s, op_names[i]))
                        return i;
        return -1;
}

static int op(struct vc_ctx *ctx, enum op kind, struct vc_op_result *res, unsigned timeout_ms) {
        const struct vc_claim_opts o = { .timeout_ms = timeout_ms };
        return kind == OP_CLAIM ? vc_group_claim(ctx, GROUP, &o, res) : vc_group_release(ctx, GROUP, &o, res);
}

/* Make the group's record say what a boot claim records: no endpoint ever had a host driver. */
static int mark_claimed_at_boot(struct vc_ctx *ctx) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        int r = vc_record_read(ctx, GROUP, &rec);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rec->n_devices; i++) {
                struct vc_record_device *d = &rec->devices[i];
                free(d->driver);
                free(d->module);
                free(d->override);
                d->driver = d->module = d->override = NULL;
                d->host_probe = true;
        }
        return vc_record_write(ctx, rec);
}

/* The claim a release or reprobe cell starts from. */
static int setup(struct vc_ctx *ctx, enum op kind) {
        struct vc_op_result res = { 0 };
        int r = 0;
        if (kind != OP_CLAIM)
                r = op(ctx, OP_CLAIM, &res, TIMEOUT_MS);
        if (r >= 0 && kind == OP_REPROBE)
                r = mark_claimed_at_boot(ctx);
        vc_op_result_done(&res);
        return r;
}

static int child_clean(const char *root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_op_result res = { 0 };
        int r;

        ctx = fake_ctx(); /* the tree is "/" in the spawned child (tests/unit/fake.h) */
        _cleanup_free_ char *before = fake_snapshot(root);
        if ((r = op(ctx, OP_CLAIM, &res, TIMEOUT_MS)) < 0)
                return fail("clean claim: %s", strerror(-r));
        if (fake_counter(root) != FAULT_CLAIM_WRITES)
                return fail("a clean claim makes %ld writes, the matrix is made for %d: update Makefile.am",
                            fake_counter(root), FAULT_CLAIM_WRITES);
        if ((r = op(ctx, OP_RELEASE, &res, TIMEOUT_MS)) < 0)
                return fail("clean release: %s", strerror(-r));
        if (fake_counter(root) != FAULT_CLAIM_WRITES + FAULT_RELEASE_WRITES)
                return fail("a clean release makes %ld writes, the matrix is made for %d: update Makefile.am",
                            fake_counter(root) - FAULT_CLAIM_WRITES, FAULT_RELEASE_WRITES);
        _cleanup_free_ char *after = fake_snapshot(root);
        if (!streq(before, after))
                return fail("the round trip changed the tree:\n%s\nbecame\n%s", before, after);

        if ((r = setup(ctx, OP_REPROBE)) < 0)
                return fail("claim for the reprobe: %s", strerror(-r));
        long base = fake_counter(root);
        if ((r = op(ctx, OP_REPROBE, &res, TIMEOUT_MS)) < 0)
                return fail("clean reprobe: %s", strerror(-r));
        if (fake_counter(root) - base != FAULT_REPROBE_WRITES)
                return fail("a clean reprobe makes %ld writes, the matrix is made for %d: update Makefile.am",
                            fake_counter(root) - base, FAULT_REPROBE_WRITES);
        _cleanup_free_ char *again = fake_snapshot(root);
        if (!streq(before, again))
                return fail("the kernel's picks differ from the original drivers:\n%s\nbecame\n%s", before, again);
        vc_op_result_done(&res);
        return EXIT_SUCCESS;
}

/* EIO, EBUSY: the rollback put every driver link, override and the record back. */
static int check_restored(struct vc_ctx *ctx, const char *root, const struct vc_op_result *res,
                          const char *before, const char *rec_before) {
        if (res->rollback_error != 0)
                return fail("rollback failed: %s", strerror(-res->rollback_error));
        _cleanup_free_ char *after = fake_snapshot(root);
        if (!streq(before, after))
                return fail("the tree changed:\n--- before\n%s--- after\n%s", before, after);
        _cleanup_free_ char *rec_after = record_text(ctx);
        if (!streq_ptr(rec_before, rec_after))
                return fail("the record changed:\n--- before\n%s\n--- after\n%s", strna(rec_before),
                            strna(rec_after));
        return EXIT_SUCCESS;
}

/* The snapshot lines (fake_snapshot()) of every device but @dev. */
static char *snapshot_without(const char *snap, const char *dev) {
        char *out = calloc(1, strlen(snap) + 1), *o = out;
        if (!out)
                abort();
        for (const char *l = snap; *l;) {
                const char *nl = strchr(l, '\n');
                size_t n = nl ? (size_t) (nl - l + 1) : strlen(l);
                if (strncmp(l, dev, strlen(dev)) != 0) {
                        memcpy(o, l, n);
                        o += n;
                }
                l += n;
        }
        return out;
}

/* HANG: the write timed out, and may still take effect in the kernel (lib/bind.h), so the engine
 * leaves the device it concerned alone: the rollback reports -ETIMEDOUT for it, every other
 * device is put back, and the record stays "claiming" (claim) or "releasing" (release, with
 * the originals it had) for the next command to finish, which the retry below then does. */
static int check_hang(struct vc_ctx *ctx, const char *root, enum op kind, const struct vc_op_result *res,
                      const char *before, const char *rec_before) {
        if (res->rollback_error != -ETIMEDOUT)
                return fail("rollback error %d, expected -ETIMEDOUT for the device left alone", res->rollback_error);
        const char *dev = VC_PCI_ADDR_TO_STRING(&res->failed_device);
        _cleanup_free_ char *after = fake_snapshot(root);
        _cleanup_free_ char *b = snapshot_without(before, dev), *a = snapshot_without(after, dev);
        if (!streq(a, b))
                return fail("devices other than %s changed:\n--- before\n%s--- after\n%s", dev, b, a);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        int r = vc_record_read(ctx, GROUP, &rec);
        if (r < 0)
                return fail("no record after a hang: %s", strerror(-r));
        if (rec->state != (kind == OP_CLAIM ? VC_RECORD_CLAIMING : VC_RECORD_RELEASING))
                return fail("the record says %s", vc_record_state_to_string(rec->state));
        if (rec_before) {
                _cleanup_(vc_record_freep) struct vc_record *old = NULL;
                _cleanup_free_ char *t1 = NULL, *t2 = NULL;
                if (vc_record_parse(rec_before, GROUP, &old) < 0)
                        return fail("cannot parse the record before");
                rec->state = old->state;
                if (vc_record_format(rec, &t1) < 0 || vc_record_format(old, &t2) < 0)
                        abort();
                if (!streq(t1, t2))
                        return fail("the record changed beyond its state:\n--- before\n%s\n--- after\n%s", t2, t1);
        }
        return EXIT_SUCCESS;
}

static int child_cell(const char *root, enum op kind, long n, const char *err) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_op_result res = { 0 };
        _cleanup_free_ char *msg = NULL;
        char fault[64];
        int r, want;

        ctx = fake_ctx(); /* the tree is "/" in the spawned child (tests/unit/fake.h) */
        if ((r = setup(ctx, kind)) < 0)
                return fail("setup claim: %s", strerror(-r));

        long base = fake_counter(root);
        _cleanup_free_ char *before = fake_snapshot(root);
        _cleanup_free_ char *rec_before = record_text(ctx);

        snprintf(fault, sizeof fault, "%ld %s\n", base + n, err);
        fake_inject(root, fault);
        want = streq(err, "HANG") ? -ETIMEDOUT : streq(err, "EBUSY") ? -EBUSY : -EIO;

        r = op(ctx, kind, &res, streq(err, "HANG") ? HANG_TIMEOUT_MS : TIMEOUT_MS);
        msg = vc_op_result_message(&res);
        fprintf(stderr, "  %s with write %ld failing (%s): %s\n", op_names[kind], n, err, msg ? msg : "succeeded");
        if (fake_counter(root) < base + n)
                return fail("the operation made only %ld writes; the fault at %ld never fired",
                            fake_counter(root) - base, n);
        if (r != want)
                return fail("returned %d (%s), expected %d", r, strerror(-r), want);
        if (!res.has_failed_device)
                return fail("the error names no device");
        /* The plan lists the writes made, the failed one last; it concerns the named device. */
        if (!res.plan || res.plan->n_writes != (size_t) n)
                return fail("the plan lists %zu writes, expected %ld", res.plan ? res.plan->n_writes : 0, n);
        const struct vc_plan_write *w = &res.plan->writes[n - 1];
        const char *dev = VC_PCI_ADDR_TO_STRING(&res.failed_device);
        if (!strstr(w->path, dev) && !streq(w->value, dev))
                return fail("write %ld (%s <- %s) does not concern %s, the device named", n, w->path,
                            w->value, dev);
        if (streq(err, "HANG"))
                r = check_hang(ctx, root, kind, &res, before, rec_before);
        else
                r = check_restored(ctx, root, &res, before, rec_before);
        if (r != EXIT_SUCCESS)
                return r;

        /* No fault any more: the same operation goes through from the restored state. */
        fake_inject(root, "");
        if ((r = op(ctx, kind, &res, TIMEOUT_MS)) < 0)
                return fail("retry without the fault: %s", strerror(-r));
        vc_op_result_done(&res);
        return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        if (argc >= 3 && streq(argv[1], "--in")) {
                if (argc == 3)
                        return child_clean(argv[2]);
                if (argc == 6 && op_from_name(argv[3]) >= 0)
                        return child_cell(argv[2], (enum op) op_from_name(argv[3]), strtol(argv[4], NULL, 10), argv[5]);
                return 2;
        }

        bool clean = argc == 2 && streq(argv[1], "clean");
        if (!clean && !(argc == 4 && op_from_name(argv[1]) >= 0 &&
                        strtol(argv[2], NULL, 10) > 0 &&
                        (streq(argv[3], "EIO") || streq(argv[3], "EBUSY") || streq(argv[3], "HANG")))) {
                fprintf(stderr, "usage: %s claim|release|reprobe N EIO|EBUSY|HANG | clean\n", argv[0]);
                return 2;
        }
        const char *skip = getenv("VC_FAULT_SKIP");
        if (!clean && skip && streq(skip, argv[3])) {
                printf("SKIP: VC_FAULT_SKIP=%s\n", skip);
                return 77;
        }
        if (!fake_available()) {
                printf("SKIP: the fake kernel (tests/fakekernel) is not built\n");
                return 77;
        }

        char *root = fake_tree(FIXTURE);
        if (!root)
                return EXIT_FAILURE;
        char *args[] = { argv[0], (char *) "--in", root, NULL, NULL, NULL, NULL };
        if (!clean) {
                args[3] = argv[1];
                args[4] = argv[2];
                args[5] = argv[3];
        }
        int r = fake_spawn(root, args);
        if (r != 0) {
                fprintf(stderr, "  tree and logs kept in %s (.fakekernel/writes.log)\n", root);
                free(root);
                return r == 77 ? EXIT_FAILURE : r;
        }
        tree_remove(root);
        printf("ok\n");
        return EXIT_SUCCESS;
}
