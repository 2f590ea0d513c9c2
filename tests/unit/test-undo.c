/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* vc_op_result_undo() (lib/bind.h): a successful operation is taken back exactly, and nothing
 * else: the devices it moved, the reset_method it wrote, the record as it was. The cells run
 * like those of tests/unit/test-bind.c: each in a child on a fresh fake-kernel tree. */

#include "bind.h"
#include "reset.h"
#include "state.h"
#include "sysfs.h"
#include "tests.h"
#include "fake.h"

typedef void (*cell_fn)(const char *root);
struct cell {
        const char *name, *fixture;
        cell_fn fn;
};
static struct cell cells[32];
static size_t n_cells;

static void run_cell(const char *name, const char *fixture) {
        _cleanup_tree_ char *root = fake_tree(fixture);
        char *args[] = { (char *) "test-undo", (char *) "--cell", (char *) name, root, NULL };
        if (!root)
                FAIL_AT("cannot make the tree");
        int r = fake_spawn(root, args);
        if (r != 0) {
                fprintf(stderr, "  cell %s failed (exit %d); tree kept in %s\n", name, r, root);
                free(TAKE_PTR(root));
                FAIL_AT("cell failed");
        }
}

#define CELL(name, fixture)                                                            \
        static void cell_##name(const char *root);                                     \
        TEST(name) { run_cell(#name, fixture); }                                       \
        __attribute__((constructor)) static void register_cell_##name(void) {          \
                cells[n_cells++] = (struct cell){ #name, fixture, cell_##name };       \
        }                                                                              \
        static void cell_##name(const char *root)

static struct vc_pci_addr A(const char *s) {
        struct vc_pci_addr a = { 0 };
        if (vc_pci_addr_parse(s, &a) < 0)
                abort();
        return a;
}

static struct vc_ctx *new_ctx(const char *root) {
        (void) root; /* the shim opens the tree for "/" (tests/unit/fake.h): claims load vfio-pci */
        struct vc_ctx *ctx = fake_ctx();
        vc_ctx_set_unbind_timeout_ms(ctx, 10000);
        return ctx;
}

static char *reset_method(const char *root, const char *addr) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/reset_method", addr);
        char *s = tree_read(root, rel);
        return s ? s : strdup("?");
}

static char *dev_driver(const char *root, const char *addr) {
        char p[PATH_MAX];
        char *name = NULL;
        snprintf(p, sizeof p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        if (vc_sysfs_read_link_name(p, &name) < 0)
                return strdup("none");
        return name;
}

#define ASSERT_DRIVER(root, addr, want)                                                \
        do {                                                                           \
                _cleanup_free_ char *_d = dev_driver(root, addr);                      \
                ASSERT_STREQ(_d, want);                                                \
        } while (0)

/* The record as text, "" when there is none. */
static char *record_text(struct vc_ctx *ctx, unsigned group) {
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        char *text = NULL;
        if (vc_record_read(ctx, group, &rec) < 0)
                return strdup("");
        if (vc_record_format(rec, &text) < 0)
                abort();
        return text;
}

#define ASSERT_RESET_METHOD(root, addr, want)                                          \
        do {                                                                           \
                _cleanup_free_ char *_m = reset_method(root, addr);                    \
                ASSERT_STREQ(_m, want);                                                \
        } while (0)

/* The audio function of the GPU with "reset = flr" (it offers flr and bus). */
static const struct vc_reset_choice audio_flr[] = { { .reset = VC_RESET_FLR } };

static struct vc_claim_opts opts_with_flr(struct vc_reset_choice *c) {
        c[0] = audio_flr[0];
        c[0].addr = A("0000:01:00.1");
        return (struct vc_claim_opts){ .resets = c, .n_resets = 1 };
}

/* A fresh claim, undone: every device back on its host driver, no override, the kernel's
 * reset_method, no record, no /dev/vfio/1; what the record said of the original is used. */
CELL(undo_fresh_claim, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *before = fake_snapshot(root), *after = NULL, *rec = NULL;
        struct vc_reset_choice c[1];
        struct vc_claim_opts o = opts_with_flr(c);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, &o, &res));
        ASSERT_NOT_NULL(res.undo);
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr\n");
        rec = record_text(ctx, 1);
        ASSERT_TRUE(strstr(rec, "device 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none "
                                "reset_method=flr,bus\n") != NULL);

        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        ASSERT_NULL(res.undo);
        ASSERT_EQ(res.rollback_error, 0);
        after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr bus\n");
        free(rec);
        rec = record_text(ctx, 1);
        ASSERT_STREQ(rec, "");

        /* a second call finds nothing to do and writes nothing */
        long n = fake_counter(root);
        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        ASSERT_EQ(fake_counter(root), n);
        vc_op_result_done(&res);
}

/* The defect of issue 11 (1): a group already claimed, where the claim only wrote reset_method
 * and took ownership. Undo keeps it claimed; reset_method and the record go back as they were. */
CELL(undo_claim_of_claimed_group, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *claimed = NULL, *after = NULL, *rec_before = NULL, *rec_after = NULL;
        struct vc_reset_choice c[1];
        struct vc_claim_opts o = opts_with_flr(c);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .by = "vfio-claim enable" }, &res));
        vc_op_result_done(&res);
        claimed = fake_snapshot(root);
        rec_before = record_text(ctx, 1);
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr bus\n");

        o.owner = "win11";
        ASSERT_OK(vc_group_claim(ctx, 1, &o, &res));
        ASSERT_TRUE(res.changed); /* a reset_method was written: "changed", yet claimed before */
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr\n");
        rec_after = record_text(ctx, 1);
        ASSERT_TRUE(strstr(rec_after, "owner win11\n") != NULL);

        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        after = fake_snapshot(root);
        ASSERT_STREQ(after, claimed); /* still on vfio-pci, /dev/vfio/1 there */
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr bus\n");
        free(rec_after);
        rec_after = record_text(ctx, 1);
        ASSERT_STREQ(rec_after, rec_before);
        vc_op_result_done(&res);
}

/* Only the owner taken: undo writes the record back and nothing under sys/. */
CELL(undo_owner_only, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *rec_before = NULL, *rec_after = NULL;
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        vc_op_result_done(&res);
        rec_before = record_text(ctx, 1);
        long n = fake_counter(root);
        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .owner = "win11" }, &res));
        ASSERT_FALSE(res.changed);
        ASSERT_NOT_NULL(res.undo);
        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        ASSERT_EQ(fake_counter(root), n);
        rec_after = record_text(ctx, 1);
        ASSERT_STREQ(rec_after, rec_before);

        /* nothing changed at all: nothing to undo */
        vc_op_result_done(&res);
        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        ASSERT_NULL(res.undo);
        vc_op_result_done(&res);
}

/* A release, undone: back on vfio-pci with its record, the reset_method of the claim again. */
CELL(undo_release, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *claimed = NULL, *after = NULL, *rec_before = NULL, *rec_after = NULL;
        struct vc_reset_choice c[1];
        struct vc_claim_opts o = opts_with_flr(c);
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, &o, &res));
        vc_op_result_done(&res);
        claimed = fake_snapshot(root);
        rec_before = record_text(ctx, 1);

        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr bus\n"); /* the host's, restored */
        rec_after = record_text(ctx, 1);
        ASSERT_STREQ(rec_after, "");

        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        after = fake_snapshot(root);
        ASSERT_STREQ(after, claimed);
        ASSERT_RESET_METHOD(root, "0000:01:00.1", "flr\n");
        free(rec_after);
        rec_after = record_text(ctx, 1);
        ASSERT_STREQ(rec_after, rec_before);
        vc_op_result_done(&res);
}

/* An undo that cannot put a device back, of a claim of a group that had no record (the first
 * group of an apply whose second failed): the record it wrote, "claimed", says "claiming" then,
 * as a claim's own failed rollback leaves it, and release finishes from it. */
CELL(undo_of_claim_that_fails_leaves_claiming, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *before = fake_snapshot(root), *after = NULL;
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, NULL, &res));
        fake_inject(root, "glob:sys/bus/pci/drivers/vfio-pci/unbind EIO\n");
        ASSERT_ERRNO(vc_op_result_undo(ctx, &res, false), EIO);
        ASSERT_EQ(res.rollback_error, -EIO);
        ASSERT_DRIVER(root, "0000:01:00.1", "vfio-pci");
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_CLAIMING);
        ASSERT_NULL(rec->owner);
        ASSERT_EQ(rec->n_devices, 2);
        vc_op_result_done(&res);

        fake_inject(root, "");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

/* The same of a give-back: the record it removed comes back "releasing", not "claimed", and
 * release finishes from it. */
CELL(undo_of_release_that_fails_leaves_releasing, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *before = fake_snapshot(root), *after = NULL;
        struct vc_op_result res = { 0 };

        ASSERT_OK(vc_group_claim(ctx, 1, &(struct vc_claim_opts){ .by = "vfio-claim enable" }, &res));
        vc_op_result_done(&res);
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        fake_inject(root, "glob:sys/bus/pci/drivers/snd_hda_intel/unbind EIO\n");
        ASSERT_ERRNO(vc_op_result_undo(ctx, &res, false), EIO);
        ASSERT_DRIVER(root, "0000:01:00.1", "snd_hda_intel");
        ASSERT_DRIVER(root, "0000:01:00.0", "vfio-pci");
        ASSERT_OK(vc_record_read(ctx, 1, &rec));
        ASSERT_EQ(rec->state, VC_RECORD_RELEASING);
        ASSERT_STREQ(rec->by, "vfio-claim enable");
        ASSERT_EQ(rec->n_devices, 2);
        vc_op_result_done(&res);

        fake_inject(root, "");
        ASSERT_OK(vc_group_release(ctx, 1, NULL, &res));
        after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_record_free(TAKE_PTR(rec));
        ASSERT_ERRNO(vc_record_read(ctx, 1, &rec), ENOENT);
        vc_op_result_done(&res);
}

/* A failed operation rolled itself back: undo has nothing left to do. */
CELL(undo_after_failure_is_a_noop, "gpu-audio") {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = new_ctx(root);
        _cleanup_free_ char *before = fake_snapshot(root), *after = NULL;
        struct vc_op_result res = { 0 };

        fake_inject(root, "glob:*/drivers/snd_hda_intel/unbind EIO\n");
        ASSERT_ERRNO(vc_group_claim(ctx, 1, NULL, &res), EIO);
        ASSERT_NULL(res.undo);
        long n = fake_counter(root);
        ASSERT_OK(vc_op_result_undo(ctx, &res, false));
        ASSERT_EQ(fake_counter(root), n);
        after = fake_snapshot(root);
        ASSERT_STREQ(after, before);
        vc_op_result_done(&res);
}

int main(int argc, char **argv) {
        if (argc == 4 && streq(argv[1], "--cell")) {
                for (size_t i = 0; i < n_cells; i++)
                        if (streq(cells[i].name, argv[2])) {
                                cells[i].fn(argv[3]);
                                return test_failed ? EXIT_FAILURE : EXIT_SUCCESS;
                        }
                return 127;
        }
        if (!fake_available()) {
                printf("SKIP: the fake kernel (tests/fakekernel) is not built\n");
                return 77;
        }
        return tests_run();
}
