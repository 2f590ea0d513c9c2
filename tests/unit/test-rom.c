/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/rom.c: the ROM signature, QEMU's user from qemu.conf, and readability judged from mode bits
 * for a user who is not root (this test runs as root or not; the files are its own). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root.h"
#include "rom.h"
#include "tests.h"
#include "tree.h"

/* Under /tmp, not $TMPDIR: every directory above the files must be searchable by others. */
static char *tmpdir(void) {
        char t[] = "/tmp/vc-test-rom.XXXXXX";
        if (!mkdtemp(t) || chmod(t, 0755) < 0)
                return NULL;
        return strdup(t);
}

static int put(const char *dir, const char *name, const char *content, mode_t mode) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        if (!f)
                return -errno;
        fputs(content, f);
        fclose(f);
        return chmod(p, mode) < 0 ? -errno : 0;
}

TEST(signature) {
        static const uint8_t good[] = { 0x55, 0xaa, 0x40 }, bad[] = { 0xaa, 0x55, 0x40 }, mz[] = { 'M', 'Z' };
        ASSERT_TRUE(vc_rom_has_signature(good, sizeof good));
        ASSERT_TRUE(vc_rom_has_signature(good, 2));
        ASSERT_FALSE(vc_rom_has_signature(good, 1));
        ASSERT_FALSE(vc_rom_has_signature(bad, sizeof bad));
        ASSERT_FALSE(vc_rom_has_signature(mz, sizeof mz));
        ASSERT_FALSE(vc_rom_has_signature(NULL, 0));
}

TEST(qemu_user_from_qemu_conf_or_debian_default) {
        _cleanup_tree_ char *root = tmpdir();
        _cleanup_free_ char *etc = NULL, *user = NULL, *group = NULL, *user2 = NULL, *group2 = NULL;
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        bool from = true;
        ASSERT_NOT_NULL(root);
        ASSERT_OK(vc_ctx_new(root, &ctx));
        ASSERT_OK(vc_qemu_user(ctx, &user, &group, &from));
        ASSERT_STREQ(user, "libvirt-qemu");
        ASSERT_NULL(group);
        ASSERT_FALSE(from);

        ASSERT_TRUE(asprintf(&etc, "%s/etc/libvirt", root) > 0);
        tree_dir(root, "etc/libvirt");
        ASSERT_OK(put(etc, "qemu.conf", "# user = \"root\"\n#group = \"root\"\nuser=\"qemu\"\n  group = \"+107\" # kvm\nuser_x = \"no\"\n", 0600));
        ASSERT_OK(vc_qemu_user(ctx, &user2, &group2, &from));
        ASSERT_STREQ(user2, "qemu");
        ASSERT_STREQ(group2, "+107");
        ASSERT_TRUE(from);
}

TEST(identity_numeric) {
        struct vc_identity id = {};
        ASSERT_OK(vc_identity_resolve("+64055", "+64056", &id));
        ASSERT_EQ(id.uid, 64055);
        ASSERT_EQ(id.gid, 64056);
        vc_identity_done(&id);
        ASSERT_ERRNO(vc_identity_resolve("+12x", NULL, &id), EINVAL);
        ASSERT_ERRNO(vc_identity_resolve("no-such-user-vc-test", NULL, &id), ESRCH);
}

/* Owner bits for the owner only (even when "other" may read), group bits for a member, other
 * bits for the rest; every directory above needs the search bit. */
TEST(readable_by_mode_bits) {
        _cleanup_tree_ char *dir = tmpdir();
        _cleanup_free_ char *file = NULL, *sub = NULL, *hidden = NULL, *blocker = NULL;
        ASSERT_NOT_NULL(dir);
        ASSERT_OK(put(dir, "a.rom", "\x55\xaa", 0644));
        ASSERT_TRUE(asprintf(&file, "%s/a.rom", dir) > 0);
        gid_t member[] = { 5000 };
        struct vc_identity other = { .uid = 64055, .gid = 64055 }, owner = { .uid = 4000, .gid = 4000 },
                           grp = { .uid = 64055, .gid = 64055, .groups = member, .n_groups = 1 }, root = {};
        ASSERT_EQ(vc_path_readable_by(file, &other, NULL), 1);
        ASSERT_OK(chmod(file, 0600) < 0 ? -errno : 0);
        ASSERT_EQ(vc_path_readable_by(file, &other, &blocker), 0);
        ASSERT_STREQ(blocker, file);
        ASSERT_EQ(vc_path_readable_by(file, &root, NULL), 1);
        if (geteuid() == 0) {
                ASSERT_OK(chown(file, 4000, 5000) < 0 ? -errno : 0);
                ASSERT_EQ(vc_path_readable_by(file, &owner, NULL), 1);
                ASSERT_OK(chmod(file, 0044) < 0 ? -errno : 0); /* the owner is denied though others may read */
                ASSERT_EQ(vc_path_readable_by(file, &owner, NULL), 0);
                ASSERT_EQ(vc_path_readable_by(file, &other, NULL), 1);
                ASSERT_OK(chmod(file, 0040) < 0 ? -errno : 0);
                ASSERT_EQ(vc_path_readable_by(file, &grp, NULL), 1);
                ASSERT_EQ(vc_path_readable_by(file, &other, NULL), 0);
        }
        ASSERT_TRUE(asprintf(&sub, "%s/private", dir) > 0);
        ASSERT_OK(mkdir(sub, 0700) < 0 ? -errno : 0);
        ASSERT_OK(put(sub, "b.rom", "\x55\xaa", 0644));
        ASSERT_TRUE(asprintf(&hidden, "%s/b.rom", sub) > 0);
        free(blocker);
        blocker = NULL;
        ASSERT_EQ(vc_path_readable_by(hidden, &other, &blocker), 0);
        ASSERT_STREQ(blocker, sub);
        ASSERT_OK(chmod(sub, 0711) < 0 ? -errno : 0);
        ASSERT_EQ(vc_path_readable_by(hidden, &other, NULL), 1);
        char missing[4200];
        snprintf(missing, sizeof missing, "%s/none.rom", dir);
        ASSERT_ERRNO(vc_path_readable_by(missing, &other, NULL), ENOENT);
}

int main(int argc, char **argv) { return tests_run_argv(argc, argv); }
