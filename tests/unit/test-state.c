/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "fileio.h"
#include "pci.h"
#include "root.h"
#include "state.h"
#include "sysfs.h"
#include "tests.h"
#include "tree.h"

static struct vc_pci_addr addr(const char *s) {
        struct vc_pci_addr a = { 0 };
        if (vc_pci_addr_parse(s, &a) < 0)
                abort();
        return a;
}

static const char *record_rel(void) {
        /* The state directory inside a root, as configured (RUNSTATEDIR/vfio-claim). */
        return RUNSTATEDIR "/vfio-claim" + 1;
}

TEST(record_roundtrip) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct vc_pci_addr a0 = addr("0000:01:00.0"), a1 = addr("0000:01:00.1");

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_record_new(12, &rec));
        rec->since = 1763771234;
        ASSERT_OK(vc_record_set_owner(rec, "win11 gaming"));
        ASSERT_OK(vc_record_set_by(rec, "udev (PCI add event)"));
        ASSERT_ERRNO(vc_record_set_by(rec, "two\nlines"), EINVAL);
        ASSERT_ERRNO(vc_record_set_by(rec, " padded"), EINVAL);
        ASSERT_OK(vc_record_add_device(rec, &a0, "nouveau", "nouveau", NULL));
        ASSERT_OK(vc_record_add_device(rec, &a1, NULL, NULL, "vfio-pci"));
        ASSERT_ERRNO(vc_record_add_device(rec, &a1, NULL, NULL, NULL), EEXIST);
        ASSERT_ERRNO(vc_record_add_device(rec, &(struct vc_pci_addr){ .bus = 2 }, "a/b", NULL, NULL), EINVAL);
        ASSERT_OK(vc_record_format(rec, &text));
        ASSERT_STREQ(text, "group 12\nowner win11 gaming\nby udev (PCI add event)\nsince 1763771234\nstate claiming\n"
                           "device 0000:01:00.0 driver=nouveau module=nouveau override=none\n"
                           "device 0000:01:00.1 driver=none module=none override=vfio-pci\n");

        ASSERT_OK(vc_record_write(ctx, rec));
        ASSERT_OK(vc_record_read(ctx, 12, &back));
        ASSERT_EQ(back->group, 12);
        ASSERT_STREQ(back->owner, "win11 gaming");
        ASSERT_STREQ(back->by, "udev (PCI add event)");
        ASSERT_EQ(back->since, 1763771234);
        ASSERT_EQ(back->state, VC_RECORD_CLAIMING);
        ASSERT_EQ(back->n_devices, 2);
        ASSERT_STREQ(back->devices[0].driver, "nouveau");
        ASSERT_STREQ(back->devices[0].module, "nouveau");
        ASSERT_NULL(back->devices[0].override);
        ASSERT_NULL(back->devices[1].driver);
        ASSERT_STREQ(back->devices[1].override, "vfio-pci");
        ASSERT_NOT_NULL(vc_record_find_device(back, &a1));

        /* No temporary file is left next to it. */
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &dir, NULL));
        ASSERT_OK(vc_dir_list(dir, &names));
        ASSERT_STREQ(names[0], "group-12");
        ASSERT_NULL(names[1]);
}

TEST(record_list_and_remove) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ unsigned *groups = NULL;
        size_t n = 99;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_record_list(ctx, &groups, &n)); /* no state directory yet */
        ASSERT_EQ(n, 0);
        free(groups);
        groups = NULL;

        unsigned nums[] = { 7, 13, 2 };
        for (size_t i = 0; i < ELEMENTSOF(nums); i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                ASSERT_OK(vc_record_new(nums[i], &rec));
                rec->state = VC_RECORD_CLAIMED;
                ASSERT_OK(vc_record_write(ctx, rec));
        }
        char rel[256];
        snprintf(rel, sizeof rel, "%s/group-x", record_rel());
        tree_file(root, rel, "junk\n"); /* ignored by list */
        snprintf(rel, sizeof rel, "%s/lock", record_rel());
        tree_file(root, rel, "");

        ASSERT_OK(vc_record_list(ctx, &groups, &n));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(groups[0], 2);
        ASSERT_EQ(groups[1], 7);
        ASSERT_EQ(groups[2], 13);

        ASSERT_OK(vc_record_remove(ctx, 7));
        ASSERT_OK(vc_record_remove(ctx, 7)); /* again: nothing to do */
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        ASSERT_ERRNO(vc_record_read(ctx, 7, &rec), ENOENT);
}

/* fsync() and fdatasync() fail with EROFS in this process from now on (a seccomp filter). */
static int forbid_fsync(void) {
        struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fsync, 1, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fdatasync, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EROFS & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(code), .filter = code };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -errno;
        return 0;
}

static void records_without_fsync(const char *root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL, *back = NULL;
        _cleanup_free_ char *conf = NULL;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(forbid_fsync());
        /* The filter works: a configuration file is made durable, so its write fails. */
        ASSERT_OK(asprintf(&conf, "%s/x.conf", root));
        ASSERT_ERRNO(vc_write_file_atomic(conf, "[device a]\n", 0644), EROFS);
        /* A state record is not fsync()ed (lib/fileio.h, VC_WRITE_RUNTIME): written, replaced,
         * read back and removed all the same, its directory made on the way. */
        ASSERT_OK(vc_record_new(3, &rec));
        ASSERT_OK(vc_record_write(ctx, rec));
        rec->state = VC_RECORD_CLAIMED;
        ASSERT_OK(vc_record_write(ctx, rec));
        ASSERT_OK(vc_record_read(ctx, 3, &back));
        ASSERT_EQ(back->state, VC_RECORD_CLAIMED);
        ASSERT_OK(vc_record_remove(ctx, 3));
        vc_record_free(TAKE_PTR(back));
        ASSERT_ERRNO(vc_record_read(ctx, 3, &back), ENOENT);
}

TEST(records_are_not_fsynced) {
        _cleanup_tree_ char *root = tree_new();
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                records_without_fsync(root);
                free(TAKE_PTR(root)); /* the parent removes the tree */
                _exit(test_failed ? 1 : 0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(record_rejects_bad_content) {
        static const char *const bad[] = {
                "",
                "group 1\nsince 5\n",                                   /* no state */
                "group 1\nsince 5\nstate claimed\nstate claimed\n",    /* twice */
                "group 1\nsince 5\nstate done\n",                      /* unknown state */
                "group -1\nsince 5\nstate claimed\n",
                "group 01\nsince 5\nstate claimed\n",
                "group 1\nsince 5\nstate claimed\nbogus x\n",
                "group 1\nsince 5\nstate claimed\ndevice 01:00.0 driver=a module=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=../x module=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a/b module=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 module=a driver=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none x\n",
                /* host=probe: only for a device that had no driver, only as the fifth word */
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none host=probe\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=none module=none override=none host=keep\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=none module=none override=none host=probe x\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 host=probe driver=none module=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none\n"
                "device 0000:01:00.0 driver=a module=none override=none\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:20.0 driver=a module=none override=none\n",
                "group 1\nowner a/b\nsince 5\nstate claimed\n",
                "group 1\nowner \nsince 5\nstate claimed\n",
                "group 1\nby a\nby b\nsince 5\nstate claimed\n",
                "group 1\nby \x01\nsince 5\nstate claimed\n",
                "group 1\nsince 5\nstate claimed\n\n",
                /* reset_method=: kernel method names, commas for spaces, after host=probe */
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none reset_method=\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none reset_method=flr,,bus\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none reset_method=FLR\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none reset_method=../x\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none "
                "reset_method=flr,bus,pm,acpi,af_flr,device_specific,flr\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=a module=none override=none reset_method=flr reset_method=bus\n",
                "group 1\nsince 5\nstate claimed\ndevice 0000:01:00.0 driver=none module=none override=none reset_method=flr host=probe\n",
                /* starter PID START: only with an owner, once, PID 1..2^31-1 */
                "group 1\nstarter 5 7\nsince 5\nstate claimed\n",
                "group 1\nstarter 5 7\nowner vm\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 5 7\nstarter 5 7\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 0 7\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 5\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 5 7 9\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 2147483648 7\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter -5 7\nsince 5\nstate claimed\n",
                "group 1\nowner vm\nstarter 05 7\nsince 5\nstate claimed\n",
                "group 2\nsince 5\nstate claimed\n", /* not the group asked for */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
                long r = vc_record_parse(bad[i], 1, &rec);
                if (r != -EBADMSG)
                        FAIL_AT("case %zu accepted (%ld): \"%s\"", i, r, bad[i]);
        }
        _cleanup_(vc_record_freep) struct vc_record *ok = NULL;
        ASSERT_OK(vc_record_parse("group 1\nsince 5\nstate releasing\n", 1, &ok));
        ASSERT_EQ(ok->state, VC_RECORD_RELEASING);
}

TEST(record_host_probe_round_trip) {
        static const char text[] = "group 3\nsince 5\nstate claimed\n"
                                   "device 0000:02:00.0 driver=none module=none override=none host=probe\n"
                                   "device 0000:02:00.1 driver=none module=none override=none\n";
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *back = NULL;
        ASSERT_OK(vc_record_parse(text, 3, &rec));
        ASSERT_TRUE(rec->devices[0].host_probe);
        ASSERT_FALSE(rec->devices[1].host_probe);
        ASSERT_OK(vc_record_format(rec, &back));
        ASSERT_STREQ(back, text);
}

TEST(record_setters_for_the_boot_pass) {
        _cleanup_(vc_record_freep) struct vc_record *r = NULL;
        _cleanup_free_ char *text = NULL;
        struct vc_pci_addr a = addr("0000:02:00.0"), b = addr("0000:02:00.1"), c = addr("0000:03:00.0");
        ASSERT_OK(vc_record_new(2, &r));
        r->since = 5;
        ASSERT_OK(vc_record_add_device(r, &a, NULL, NULL, "vfio-pci"));
        ASSERT_OK(vc_record_add_device(r, &b, "xhci_hcd", "xhci_pci", "vfio-pci"));
        ASSERT_ERRNO(vc_record_set_host_probe(r, &c), ENOENT);
        ASSERT_ERRNO(vc_record_drop_boot_override(r, &c), ENOENT);
        ASSERT_EQ(vc_record_drop_boot_override(r, &a), 1);
        ASSERT_EQ(vc_record_drop_boot_override(r, &a), 0);
        ASSERT_EQ(vc_record_drop_boot_override(r, &b), 1);
        ASSERT_OK(vc_record_format(r, &text));
        ASSERT_STREQ(text, "group 2\nsince 5\nstate claiming\n"
                           "device 0000:02:00.0 driver=none module=none override=none host=probe\n"
                           "device 0000:02:00.1 driver=xhci_hcd module=xhci_pci override=none\n");
        ASSERT_OK(vc_record_set_host_probe(r, &b));
        ASSERT_TRUE(vc_record_find_device(r, &b)->host_probe);
}

TEST(record_reset_method_round_trip) {
        static const char text[] = "group 3\nsince 5\nstate claimed\n"
                                   "device 0000:02:00.0 driver=none module=none override=none host=probe reset_method=flr,bus\n"
                                   "device 0000:02:00.1 driver=e1000e module=e1000e override=none reset_method=none\n"
                                   "device 0000:02:00.2 driver=e1000e module=e1000e override=none\n";
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *back = NULL;
        ASSERT_OK(vc_record_parse(text, 3, &rec));
        ASSERT_TRUE(rec->devices[0].host_probe);
        ASSERT_STREQ(rec->devices[0].reset_method, "flr bus");
        ASSERT_STREQ(rec->devices[1].reset_method, "");
        ASSERT_NULL(rec->devices[2].reset_method);
        ASSERT_OK(vc_record_format(rec, &back));
        ASSERT_STREQ(back, text);

        /* as sysfs shows it: a trailing newline is dropped, an empty list is "none" */
        ASSERT_OK(vc_record_set_reset_method(rec, &rec->devices[2].addr, "bus flr\n"));
        ASSERT_STREQ(rec->devices[2].reset_method, "bus flr");
        ASSERT_OK(vc_record_set_reset_method(rec, &rec->devices[1].addr, "\n"));
        ASSERT_STREQ(rec->devices[1].reset_method, "");
        ASSERT_ERRNO(vc_record_set_reset_method(rec, &rec->devices[1].addr, "flr  bus"), EINVAL);
        ASSERT_ERRNO(vc_record_set_reset_method(rec, &rec->devices[1].addr, "flr/x"), EINVAL);
        struct vc_pci_addr other;
        ASSERT_OK(vc_pci_addr_parse("0000:05:00.0", &other));
        ASSERT_ERRNO(vc_record_set_reset_method(rec, &other, "flr"), ENOENT);
}

/* A record written by the version before reset_method= (tests/bats and the lab wrote these):
 * it still reads, and nothing is to be restored. */
TEST(record_old_format_still_reads) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        char rel[256];

        ASSERT_OK(vc_ctx_new(root, &ctx));
        snprintf(rel, sizeof rel, "%s/group-12", record_rel());
        tree_file(root, rel, "group 12\nowner win11\nby vfio-claim enable\nsince 1763771234\nstate claimed\n"
                             "device 0000:01:00.0 driver=nouveau module=nouveau override=none\n"
                             "device 0000:01:00.1 driver=none module=none override=none host=probe\n");
        ASSERT_OK(vc_record_read(ctx, 12, &rec));
        ASSERT_EQ(rec->n_devices, 2u);
        ASSERT_STREQ(rec->devices[0].driver, "nouveau");
        ASSERT_NULL(rec->devices[0].reset_method);
        ASSERT_TRUE(rec->devices[1].host_probe);
        ASSERT_NULL(rec->devices[1].reset_method);
}

/* "starter PID START": the libvirtd starting the owner VM. It round-trips, goes with the owner,
 * and a record without it (every older record) has none: the VM runs. */
TEST(record_starter_round_trip) {
        static const char text[] = "group 5\nowner vm4\nstarter 4242 987654321\nby libvirt hook\nsince 5\n"
                                   "state claimed\ndevice 0000:03:00.0 driver=e1000e module=e1000e override=none\n";
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL, *old = NULL;
        _cleanup_free_ char *back = NULL, *again = NULL;
        ASSERT_OK(vc_record_parse(text, 5, &rec));
        ASSERT_EQ(rec->starter.pid, 4242u);
        ASSERT_EQ(rec->starter.start_time, 987654321u);
        ASSERT_OK(vc_record_format(rec, &back));
        ASSERT_STREQ(back, text);

        /* started: the starter goes, the owner stays */
        ASSERT_OK(vc_record_set_starter(rec, NULL));
        ASSERT_OK(vc_record_format(rec, &again));
        ASSERT_NULL(strstr(again, "starter"));
        ASSERT_STREQ(rec->owner, "vm4");

        /* another owner (or none) never inherits the starter */
        ASSERT_OK(vc_record_set_starter(rec, &(struct vc_process_id){ .pid = 7, .start_time = 9 }));
        ASSERT_OK(vc_record_set_owner(rec, "vm4"));
        ASSERT_EQ(rec->starter.pid, 7u);
        ASSERT_OK(vc_record_set_owner(rec, "vm5"));
        ASSERT_EQ(rec->starter.pid, 0u);
        ASSERT_OK(vc_record_set_owner(rec, NULL));
        ASSERT_ERRNO(vc_record_set_starter(rec, &(struct vc_process_id){ .pid = 7, .start_time = 9 }), EINVAL);

        ASSERT_OK(vc_record_parse("group 5\nowner vm4\nsince 5\nstate claimed\n", 5, &old));
        ASSERT_EQ(old->starter.pid, 0u);
}

/* "console = handoff": the record lists the VT consoles the claim unbound, or says it unbound
 * none; release binds exactly those again. */
TEST(record_consoles_round_trip) {
        static const char text[] = "group 0\nsince 5\nstate claimed\nconsoles vtcon1 vtcon12\n"
                                   "device 0000:00:02.0 driver=i915 module=i915 override=none\n";
        static const char none[] = "group 0\nsince 5\nstate claiming\nconsoles none\n";
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL, *empty = NULL, *old = NULL;
        _cleanup_free_ char *back = NULL, *back2 = NULL;

        ASSERT_OK(vc_record_parse(text, 0, &rec));
        ASSERT_TRUE(rec->console_handoff);
        ASSERT_EQ(rec->n_consoles, 2u);
        ASSERT_STREQ(rec->consoles[1], "vtcon12");
        ASSERT_OK(vc_record_format(rec, &back));
        ASSERT_STREQ(back, text);
        ASSERT_OK(vc_record_add_console(rec, "vtcon1")); /* listed once */
        ASSERT_EQ(rec->n_consoles, 2u);
        ASSERT_ERRNO(vc_record_add_console(rec, "vtcon"), EINVAL);
        ASSERT_ERRNO(vc_record_add_console(rec, "vtcon12345"), EINVAL);
        ASSERT_ERRNO(vc_record_add_console(rec, "../vtcon1"), EINVAL);

        ASSERT_OK(vc_record_parse(none, 0, &empty));
        ASSERT_TRUE(empty->console_handoff);
        ASSERT_EQ(empty->n_consoles, 0u);
        ASSERT_OK(vc_record_format(empty, &back2));
        ASSERT_STREQ(back2, none);

        /* a record from before: no handoff recorded */
        ASSERT_OK(vc_record_parse("group 0\nsince 5\nstate claimed\n", 0, &old));
        ASSERT_FALSE(old->console_handoff);

        static const char *const bad[] = {
                "group 0\nsince 5\nstate claimed\nconsoles vtcon1 vtcon1\n",
                "group 0\nsince 5\nstate claimed\nconsoles none vtcon1\n",
                "group 0\nsince 5\nstate claimed\nconsoles vtcon1\nconsoles vtcon2\n",
                "group 0\nsince 5\nstate claimed\nconsoles fb0\n",
                "group 0\nsince 5\nstate claimed\nconsoles vtcon/1\n",
                "group 0\nsince 5\nstate claimed\nconsoles \n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct vc_record *r = NULL;
                ASSERT_ERRNO(vc_record_parse(bad[i], 0, &r), EBADMSG);
                ASSERT_NULL(r);
        }
}

/* "stop = UNIT": the record lists the units the claim stopped; release starts them again. */
TEST(record_stopped_units_round_trip) {
        static const char text[] = "group 0\nsince 5\nstate claimed\nconsoles none\n"
                                   "stopped display-manager.service gdm@tty1.service\n";
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        _cleanup_free_ char *back = NULL;

        ASSERT_OK(vc_record_parse(text, 0, &rec));
        ASSERT_EQ(rec->n_stopped_units, 2u);
        ASSERT_STREQ(rec->stopped_units[1], "gdm@tty1.service");
        ASSERT_OK(vc_record_format(rec, &back));
        ASSERT_STREQ(back, text);
        ASSERT_OK(vc_record_add_stopped_unit(rec, "gdm@tty1.service"));
        ASSERT_EQ(rec->n_stopped_units, 2u);
        ASSERT_ERRNO(vc_record_add_stopped_unit(rec, "gdm"), EINVAL);
        ASSERT_ERRNO(vc_record_add_stopped_unit(rec, "../x.service"), EINVAL);
        ASSERT_ERRNO(vc_record_add_stopped_unit(rec, ".service"), EINVAL);

        static const char *const bad[] = {
                "group 0\nsince 5\nstate claimed\nstopped a.service a.service\n",
                "group 0\nsince 5\nstate claimed\nstopped a.service\nstopped b.service\n",
                "group 0\nsince 5\nstate claimed\nstopped a.device\n",
                "group 0\nsince 5\nstate claimed\nstopped a/b.service\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct vc_record *r = NULL;
                ASSERT_ERRNO(vc_record_parse(bad[i], 0, &r), EBADMSG);
                ASSERT_NULL(r);
        }
}

/* The identity of a process from /proc/PID/stat inside the root: the start time is field 22,
 * counted after the last ')' (a command name may hold spaces and parentheses). */
TEST(process_id_read_and_alive) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        struct vc_process_id id = {};

        ASSERT_OK(vc_ctx_new(root, &ctx));
        tree_file(root, "proc/4242/stat",
                  "4242 (lib virtd) (x) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654321 0 0\n");
        tree_file(root, "proc/17/stat", "17 (short) S 1 17\n");
        ASSERT_OK(vc_process_id_read(ctx, 4242, &id));
        ASSERT_EQ(id.pid, 4242u);
        ASSERT_EQ(id.start_time, 987654321u);
        ASSERT_EQ(vc_process_id_alive(ctx, &id), 1);
        ASSERT_EQ(vc_process_id_alive(ctx, &(struct vc_process_id){ .pid = 4242, .start_time = 5 }), 0);
        ASSERT_EQ(vc_process_id_alive(ctx, &(struct vc_process_id){ .pid = 4243, .start_time = 987654321 }), 0);
        ASSERT_ERRNO(vc_process_id_read(ctx, 4243, &id), ESRCH);
        ASSERT_ERRNO(vc_process_id_read(ctx, 17, &id), EBADMSG);
        ASSERT_ERRNO(vc_process_id_alive(ctx, &(struct vc_process_id){ .pid = 17, .start_time = 1 }), EBADMSG);
        ASSERT_ERRNO(vc_process_id_read(ctx, 0, &id), EINVAL);
}

TEST(record_read_bad_file) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;
        char rel[256];

        ASSERT_OK(vc_ctx_new(root, &ctx));
        snprintf(rel, sizeof rel, "%s/group-4", record_rel());
        tree_file(root, rel, "group 4\nsince 1\nstate claimed\ndevice 0000:01:00.0 driver=x module=none\n");
        ASSERT_ERRNO(vc_record_read(ctx, 4, &rec), EBADMSG);
        tree_file(root, rel, "group 5\nsince 1\nstate claimed\n");
        ASSERT_ERRNO(vc_record_read(ctx, 4, &rec), EBADMSG);
}

TEST(lock_excludes_other_processes) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_close_ int fd = -1;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_state_lock(ctx, 0, &fd));
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);

        /* A second open file description conflicts, even in this process. */
        int fd2 = -1;
        ASSERT_ERRNO(vc_state_lock(ctx, 0, &fd2), EWOULDBLOCK);
        ASSERT_ERRNO(vc_state_lock(ctx, 50, &fd2), ETIMEDOUT);

        /* Another process waits until we let go. */
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int cfd = -1;
                close(fd); /* the inherited copy shares the parent's lock */
                /* generous: the parent lets go after 100 ms, but a loaded machine may not run it */
                _exit(vc_state_lock(ctx, 300000, &cfd) == 0 ? 0 : 1);
        }
        nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
        close(TAKE_FD(fd));
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        ASSERT_OK(vc_state_lock(ctx, 0, &fd));
}

/* Does process @pid have @path open (one of its /proc/PID/fd links)? */
static bool process_has_open(pid_t pid, const char *path) {
        for (int fd = 0; fd < 256; fd++) {
                char l[64], target[PATH_MAX];
                snprintf(l, sizeof l, "/proc/%d/fd/%d", (int) pid, fd);
                ssize_t n = readlink(l, target, sizeof target - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                if (streq(target, path))
                        return true;
        }
        return false;
}

/* A writer waits on the lock file; it is replaced (mv of a new file over it), and another writer
 * takes the new one. When the first holder lets the old file go, the waiter must not take it as
 * the lock: it opens the file now at the path, and waits for the writer that holds it. */
TEST(lock_replaced_while_waiting_is_taken_again) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_close_ int old_holder = -1, new_holder = -1;
        _cleanup_free_ char *rel = NULL, *tmp_rel = NULL;

        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_state_lock(ctx, 0, &old_holder));
        ASSERT_TRUE(asprintf(&rel, "%s/lock", record_rel()) > 0);
        ASSERT_TRUE(asprintf(&tmp_rel, "%s/lock.new", record_rel()) > 0);
        _cleanup_free_ char *path = tree_path(root, rel), *tmp = tree_path(root, tmp_rel);

        int pipefd[2], ready[2];
        ASSERT_OK(pipe(pipefd));
        ASSERT_OK(pipe(ready));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int cfd = -1;
                close(old_holder); /* the inherited copy shares the parent's lock */
                close(pipefd[0]);
                close(ready[0]);
                close(ready[1]); /* from now on, the lock file open here is the one it waits on */
                /* long enough for the parent's steps on a loaded machine; the new holder keeps
                 * the lock until this ends */
                int r = vc_state_lock(ctx, 3000, &cfd);
                (void) !write(pipefd[1], &r, sizeof r);
                _exit(0);
        }
        close(pipefd[1]);
        close(ready[1]);
        char c;
        ASSERT_EQ(read(ready[0], &c, 1), 0);
        close(ready[0]);
        for (int i = 0; i < 30000 && !process_has_open(pid, path); i++)
                nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
        ASSERT_TRUE(process_has_open(pid, path));

        tree_file(root, tmp_rel, "");
        ASSERT_OK(rename(tmp, path) < 0 ? -errno : 0);
        ASSERT_OK(vc_state_lock(ctx, 0, &new_holder)); /* the new file: free */
        close(TAKE_FD(old_holder));

        int r = 1;
        ASSERT_EQ(read(pipefd[0], &r, sizeof r), (ssize_t) sizeof r);
        close(pipefd[0]);
        ASSERT_EQ(r, -ETIMEDOUT); /* it waited for the new holder, and did not take the old file */
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
}

int main(int argc, char **argv) { return tests_run(); }
