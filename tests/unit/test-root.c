/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context's path builder, the JSON writer, and sysfs link resolution. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "fileio.h"
#include "json.h"
#include "name.h"
#include "root.h"
#include "sysfs.h"
#include "tests.h"
#include "tree.h"

TEST(path_host_root) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *p = NULL;
        ASSERT_OK(vc_ctx_new(NULL, &ctx));
        ASSERT_TRUE(vc_ctx_is_host(ctx));
        ASSERT_STREQ(vc_ctx_root(ctx), "/");
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/driver_override", "0000:01:00.0"));
        ASSERT_STREQ(p, "/sys/bus/pci/devices/0000:01:00.0/driver_override");
}

TEST(path_test_root_strips_trailing_slashes) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *p = NULL, *q = NULL;
        ASSERT_OK(vc_ctx_new("/tmp/tree//", &ctx));
        ASSERT_FALSE(vc_ctx_is_host(ctx));
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_DEV_VFIO, &p, "%u", 12u));
        ASSERT_STREQ(p, "/tmp/tree/dev/vfio/12");
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_IOMMU_GROUPS, &q, NULL));
        ASSERT_STREQ(q, "/tmp/tree/sys/kernel/iommu_groups");
}

TEST(path_root_slash_is_host) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *p = NULL;
        ASSERT_OK(vc_ctx_new("/", &ctx));
        ASSERT_TRUE(vc_ctx_is_host(ctx));
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_ROOT, &p, NULL));
        ASSERT_STREQ(p, "/");
}

TEST(path_rejects_relative_root) {
        struct vc_ctx *ctx = NULL;
        ASSERT_ERRNO(vc_ctx_new("tree", &ctx), EINVAL);
        ASSERT_NULL(ctx);
}

TEST(path_rejects_climbing_out) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        char *p = NULL;
        ASSERT_OK(vc_ctx_new("/tmp/tree", &ctx));
        ASSERT_ERRNO(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s", "../../../etc/passwd"), EINVAL);
        ASSERT_ERRNO(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s/..", "0000:01:00.0"), EINVAL);
        ASSERT_ERRNO(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "%s", "/etc"), EINVAL);
        ASSERT_ERRNO(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "a/./b"), EINVAL);
        ASSERT_ERRNO(vc_ctx_path(ctx, _VC_PLACE_MAX, &p, NULL), EINVAL);
        ASSERT_NULL(p);
}

TEST(path_allows_dots_inside_names) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        _cleanup_free_ char *p = NULL;
        ASSERT_OK(vc_ctx_new("/r", &ctx));
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &p, "0000:01:00.0/..x"));
        ASSERT_STREQ(p, "/r/sys/bus/pci/devices/0000:01:00.0/..x");
}

static char *json_of(void (*fn)(struct vc_json *), int *ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        struct vc_json *j = vc_json_new(f);
        fn(j);
        *ret = vc_json_finish(j);
        vc_json_free(j);
        fclose(f);
        return buf;
}

static void emit_nested(struct vc_json *j) {
        vc_json_object_begin(j);
        vc_json_kv_string(j, "s", "a\"b\\c\n\x01");
        vc_json_kv_int(j, "i", -5);
        vc_json_key(j, "a");
        vc_json_array_begin(j);
        vc_json_bool(j, true);
        vc_json_null(j);
        vc_json_string(j, NULL);
        vc_json_array_end(j);
        vc_json_key(j, "e");
        vc_json_object_begin(j);
        vc_json_object_end(j);
        vc_json_object_end(j);
}

TEST(json_escapes_and_nests) {
        int r;
        _cleanup_free_ char *s = json_of(emit_nested, &r);
        ASSERT_OK(r);
        ASSERT_STREQ(s, "{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"i\": -5,\n  \"a\": [\n    true,\n    null,\n    null\n  ],\n  \"e\": {}\n}\n");
}

static void emit_deep(struct vc_json *j) {
        for (int i = 0; i < 31; i++)
                vc_json_array_begin(j);
        vc_json_string(j, "\x7f\x1f\t\r~");
        vc_json_string(j, "");
        for (int i = 0; i < 31; i++)
                vc_json_array_end(j);
}

/* The writer puts runs of plain characters and indentation out in one call each
 * (lib/json.c): the deepest level it allows and every escape still come out right. */
TEST(json_deepest_level_and_escapes) {
        int r;
        _cleanup_free_ char *s = json_of(emit_deep, &r);
        ASSERT_OK(r);
        char want[4096], *w = want;
        for (int i = 0; i < 31; i++)
                w += sprintf(w, "[\n%*s", 2 * (i + 1), "");
        w += sprintf(w, "\"\\u007f\\u001f\\t\\r~\",\n%*s\"\"", 62, "");
        for (int i = 30; i >= 0; i--)
                w += sprintf(w, "\n%*s]", 2 * i, "");
        strcpy(w, "\n");
        ASSERT_STREQ(s, want);
}

static void emit_numbers(struct vc_json *j) {
        vc_json_array_begin(j);
        vc_json_int(j, INT64_MIN);
        vc_json_int(j, INT64_MAX);
        vc_json_int(j, 0);
        vc_json_int(j, -1);
        vc_json_uint(j, UINT64_MAX);
        vc_json_uint(j, 10);
        vc_json_array_end(j);
}

/* Numbers are written by hand (lib/json.c): the extremes of both types. */
static void emit_utf8(struct vc_json *j) {
        /* é and € as they are; C1 (U+0085, U+009B) escaped; a lone continuation byte, a Latin-1
         * byte, an overlong '/' and a truncated sequence each one U+FFFD a byte */
        vc_json_string(j, "caf\xc3\xa9 \xe2\x82\xac \xc2\x85\xc2\x9b \x80 caf\xe9 \xc0\xaf \xe2\x82");
}

/* JSON text is UTF-8 (RFC 8259): what is not UTF-8 in a string (an old record's owner, a
 * device's string) goes out as U+FFFD, and C1 control characters escaped like C0. */
TEST(json_strings_are_utf8) {
        int r;
        _cleanup_free_ char *s = json_of(emit_utf8, &r);
        ASSERT_OK(r);
        ASSERT_STREQ(s, "\"caf\xc3\xa9 \xe2\x82\xac \\u0085\\u009b \\ufffd caf\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\"\n");
}

TEST(text_printable_replaces_controls_and_bad_bytes) {
        _cleanup_free_ char *a = vc_text_printable("Key\x1b[1A\x1b[2K\rboard\nX");
        ASSERT_STREQ(a, "Key?[1A?[2K?board?X");
        _cleanup_free_ char *b = vc_text_printable("caf\xc3\xa9 \xc2\x9b" "2J \xff\x7f");
        ASSERT_STREQ(b, "caf\xc3\xa9 ?2J ??");
}

TEST(json_integer_extremes) {
        int r;
        _cleanup_free_ char *s = json_of(emit_numbers, &r);
        ASSERT_OK(r);
        ASSERT_STREQ(s, "[\n  -9223372036854775808,\n  9223372036854775807,\n  0,\n  -1,\n  18446744073709551615,\n  10\n]\n");
}

static char long_string[40000];

static void emit_large(struct vc_json *j) {
        vc_json_array_begin(j);
        for (int i = 0; i < 3000; i++)
                vc_json_int(j, i);
        vc_json_string(j, long_string);
        vc_json_string(j, "\x02" "end");
        vc_json_array_end(j);
}

/* The writer gathers the document in its own buffer (lib/json.c): a document and a string
 * larger than the buffer come out whole and in order. */
TEST(json_larger_than_its_buffer) {
        int r;
        memset(long_string, 'x', sizeof long_string - 1);
        long_string[100] = '"';
        _cleanup_free_ char *s = json_of(emit_large, &r);
        ASSERT_OK(r);
        _cleanup_free_ char *want = malloc(100000);
        ASSERT_TRUE(want != NULL);
        char *w = want;
        w += sprintf(w, "[");
        for (int i = 0; i < 3000; i++)
                w += sprintf(w, "%s\n  %d", i ? "," : "", i);
        w += sprintf(w, ",\n  \"%.100s\\\"%s\",\n  \"\\u0002end\"\n]\n", long_string, long_string + 101);
        ASSERT_STREQ(s, want);
}

static void emit_one_string(struct vc_json *j) { vc_json_string(j, "text"); }

/* A stream that cannot be written fails the document (vc_json_finish), however little of it
 * was written: the writer's own buffer is handed over and checked at the end. */
TEST(json_write_error_is_reported) {
        FILE *f = fopen("/dev/full", "we");
        if (!f)
                return; /* no /dev/full here */
        struct vc_json *j = vc_json_new(f);
        emit_one_string(j);
        ASSERT_ERRNO(vc_json_finish(j), ENOSPC);
        vc_json_free(j);
        fclose(f);
}

/* The hwdb is asked once per vendor:device id and context (lib/root.c): the second answer is
 * the first one, and a device's names are those of its id. */
TEST(hwdb_names_once_per_id) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        const char *v1, *m1, *v2, *m2, *v3, *m3;
        ASSERT_OK(vc_ctx_new(NULL, &ctx));
        int r1 = vc_ctx_hwdb_pci_names(ctx, 0x8086, 0x154c, &v1, &m1);
        int r2 = vc_ctx_hwdb_pci_names(ctx, 0x8086, 0x154c, &v2, &m2);
        ASSERT_EQ(r1, r2);
        ASSERT_TRUE(v1 == v2 && m1 == m2);
        if (r1 < 0) {
                ASSERT_ERRNO(r1, ENOENT); /* no hwdb on this machine */
                return;
        }
        ASSERT_STREQ(v1, "Intel Corporation");
        /* many ids, to make the table grow past its first size, keep their answers; the
         * highest id has a slot of its own */
        for (unsigned d = 0; d < 200; d++)
                (void) vc_ctx_hwdb_pci_names(ctx, 0x10de, (uint16_t) d, &v3, &m3);
        int r = vc_ctx_hwdb_pci_names(ctx, 0xffff, 0xffff, &v2, &m2);
        ASSERT_EQ(vc_ctx_hwdb_pci_names(ctx, 0xffff, 0xffff, &v3, &m3), r);
        ASSERT_TRUE(v2 == v3 && m2 == m3);
        ASSERT_OK(vc_ctx_hwdb_pci_names(ctx, 0x8086, 0x154c, &v3, &m3));
        ASSERT_TRUE(v3 == v1 && m3 == m1);
}

static void emit_unbalanced(struct vc_json *j) {
        vc_json_object_begin(j);
        vc_json_key(j, "x");
}

static void emit_value_without_key(struct vc_json *j) {
        vc_json_object_begin(j);
        vc_json_int(j, 1);
        vc_json_object_end(j);
}

TEST(json_reports_misuse) {
        int r;
        _cleanup_free_ char *a = json_of(emit_unbalanced, &r);
        ASSERT_ERRNO(r, EINVAL);
        _cleanup_free_ char *b = json_of(emit_value_without_key, &r);
        ASSERT_ERRNO(r, EINVAL);
}

TEST(sysfs_links_and_reads) {
        char dir[] = "/tmp/vc-test-root-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        char path[512], link[512];
        snprintf(path, sizeof path, "%s/devices", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/devices/pci0000:00", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/devices/pci0000:00/0000:00:01.0", dir);
        ASSERT_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/bus", dir);
        mkdir(path, 0755);
        snprintf(link, sizeof link, "%s/bus/dev", dir);
        ASSERT_EQ(symlink("../devices/pci0000:00/0000:00:01.0", link), 0);

        _cleanup_free_ char *target = NULL, *name = NULL, *s = NULL;
        ASSERT_OK(vc_sysfs_read_link_target(link, &target));
        snprintf(path, sizeof path, "%s/devices/pci0000:00/0000:00:01.0", dir);
        ASSERT_STREQ(target, path);
        ASSERT_OK(vc_sysfs_read_link_name(link, &name));
        ASSERT_STREQ(name, "0000:00:01.0");
        /* The same link read in its directory; no link there: -ENOENT, not a link: -EINVAL */
        snprintf(path, sizeof path, "%s/bus", dir);
        int bus = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(bus >= 0);
        free(name);
        name = NULL;
        ASSERT_OK(vc_sysfs_read_link_name_at(bus, "dev", &name));
        ASSERT_STREQ(name, "0000:00:01.0");
        ASSERT_ERRNO(vc_sysfs_read_link_name_at(bus, "driver", &s), ENOENT);
        ASSERT_ERRNO(vc_sysfs_read_link_name_at(bus, ".", &s), EINVAL);
        close(bus);

        snprintf(path, sizeof path, "%s/devices/pci0000:00/0000:00:01.0/vendor", dir);
        FILE *f = fopen(path, "we");
        ASSERT_NOT_NULL(f);
        fputs("0x10de\n", f);
        fclose(f);
        uint64_t v;
        ASSERT_OK(vc_sysfs_read_u64(path, &v));
        ASSERT_EQ(v, 0x10de);
        ASSERT_OK(vc_sysfs_read(path, &s));
        ASSERT_STREQ(s, "0x10de");
        f = fopen(path, "we");
        fputs("-1\n", f);
        fclose(f);
        ASSERT_ERRNO(vc_sysfs_read_u64(path, &v), EINVAL);
        f = fopen(path, "we");
        fputs("0x10de junk\n", f);
        fclose(f);
        ASSERT_ERRNO(vc_sysfs_read_u64(path, &v), EINVAL);
        ASSERT_ERRNO(vc_sysfs_read_link_name(path, &s), EINVAL);
        snprintf(path, sizeof path, "%s/nope", dir);
        ASSERT_ERRNO(vc_sysfs_read(path, &s), ENOENT);
}

TEST(read_file_text) {
        _cleanup_tree_ char *top = tree_new();
        _cleanup_free_ char *path = tree_path(top, "cmdline"), *s = NULL;
        FILE *f = fopen(path, "we");
        ASSERT_NOT_NULL(f);
        fputs("root=/dev/sda2 quiet\n\n", f); /* only one newline goes */
        fclose(f);
        ASSERT_OK(vc_read_file(path, &s));
        ASSERT_STREQ(s, "root=/dev/sda2 quiet\n");
        free(s);
        s = NULL;
        f = fopen(path, "we");
        fputs("a", f);
        fputc('\0', f);
        fputs("b\n", f);
        fclose(f);
        ASSERT_ERRNO(vc_read_file(path, &s), EBADMSG);
        free(path);
        path = tree_path(top, "nope");
        ASSERT_ERRNO(vc_read_file(path, &s), ENOENT);
}

/* --sysroot is a boundary (lib/root.h): links in the tree, absolute or climbing with "..", are
 * followed as if the tree were "/", so nothing outside it is read, written or created. */
static void check_confined(int (*open_in)(int, const char *, int, mode_t)) {
        _cleanup_tree_ char *outside = tree_new(), *top = tree_new();
        _cleanup_free_ char *root = tree_path(top, "root"), *victim = tree_path(outside, "victim");
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;

        tree_file(outside, "victim", "original\n");
        tree_dir(outside, "dir");
        tree_file(top, "root/sys/bus/pci/devices/0000:01:00.0/vendor", "0x10de\n");
        tree_link(top, "root/sys/bus/pci/drivers_probe", victim);                     /* absolute, out */
        tree_link(top, "root/sys/bus/pci/rescan", "../../../../../../../../../../../..");
        tree_link(top, "root/sys/bus/pci/devices/0000:01:00.0/driver_override",
                  "../../../../../../../../../../../../../../../../../../..//vc-absent");
        /* the state directory as configured (RUNSTATEDIR: /run, or below distcheck's prefix) */
        tree_link(top, "root" RUNSTATEDIR "/vfio-claim", outside);                   /* a directory out */
        tree_link(top, "root/etc/inside", "/sys/bus/pci/devices/0000:01:00.0/vendor"); /* absolute, in */
        ASSERT_OK(vc_ctx_new(root, &ctx));

        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(rootfd >= 0);
        ASSERT_ERRNO(open_in(rootfd, "sys/bus/pci/drivers_probe", O_WRONLY, 0), ENOENT);
        ASSERT_ERRNO(open_in(rootfd, RUNSTATEDIR "/vfio-claim/victim" + 1, O_RDONLY, 0), ENOENT);
        ASSERT_ERRNO(open_in(rootfd, RUNSTATEDIR "/vfio-claim/new" + 1, O_WRONLY | O_CREAT, 0600), ENOENT);
        ASSERT_ERRNO(open_in(rootfd, "../../../../../../../../..", O_WRONLY, 0), EISDIR); /* the root */
        int fd = open_in(rootfd, "etc/inside", O_RDONLY, 0);
        ASSERT_TRUE(fd >= 0);
        char buf[16] = "";
        ASSERT_EQ(read(fd, buf, sizeof buf - 1), 7);
        ASSERT_STREQ(buf, "0x10de\n");
        close(fd);
        fd = open_in(rootfd, "sys/bus/pci/rescan/sys/bus/pci/devices/0000:01:00.0/vendor", O_RDONLY, 0);
        ASSERT_TRUE(fd >= 0); /* ".." stopped at the root */
        close(fd);
        fd = open_in(rootfd, "etc/created", O_WRONLY | O_CREAT | O_EXCL, 0600);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        ASSERT_ERRNO(open_in(rootfd, "etc/created", O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);

        /* The same through the library's path functions. */
        _cleanup_free_ char *probe = NULL, *ovr = NULL, *state = NULL, *rec = NULL, *s = NULL, *t = NULL;
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_PCI_BUS, &probe, "drivers_probe"));
        ASSERT_ERRNO(vc_sysfs_write(probe, "0000:01:00.0"), ENOENT);
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &ovr, "0000:01:00.0/driver_override"));
        ASSERT_ERRNO(vc_sysfs_write(ovr, "vfio-pci"), ENOENT);
        ASSERT_ERRNO(vc_sysfs_read(probe, &s), ENOENT);
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &state, NULL));
        ASSERT_OK(vc_ctx_path(ctx, VC_PLACE_RUN_STATE, &rec, "group-1"));
        ASSERT_ERRNO(vc_write_file_atomic(rec, "x\n", 0644), ENOENT);
        ASSERT_ERRNO(vc_mkdir_p(rec, 0755), ENOENT);
        ASSERT_FALSE(vc_path_exists(rec));
        _cleanup_strv_free_ char **names = NULL;
        ASSERT_ERRNO(vc_dir_list(state, &names), ENOENT);
        ASSERT_OK(vc_unlink_durable(rec));
        /* A link target is a path in the root. */
        ASSERT_OK(vc_sysfs_read_link_target(probe, &t));
        _cleanup_free_ char *expect = NULL;
        ASSERT_TRUE(asprintf(&expect, "%s%s", root, victim) > 0);
        ASSERT_STREQ(t, expect);
        free(t);
        ASSERT_OK(vc_sysfs_read_link_target(ovr, &t));
        _cleanup_free_ char *expect2 = tree_path(root, "vc-absent");
        ASSERT_STREQ(t, expect2);

        _cleanup_free_ char *after = tree_read(outside, "victim");
        ASSERT_STREQ(after, "original\n");
        _cleanup_strv_free_ char **left = NULL;
        ASSERT_OK(vc_dir_list(outside, &left));
        ASSERT_STREQ(left[0], "dir");
        ASSERT_STREQ(left[1], "victim");
        ASSERT_NULL(left[2]);
}

TEST(sysroot_links_stay_inside_openat2) { check_confined(vc_open_in_root); }
TEST(sysroot_links_stay_inside_walk) { check_confined(vc_open_in_root_walk); }

TEST(sysroot_walk_limits_links) {
        _cleanup_tree_ char *top = tree_new();
        tree_link(top, "a", "b");
        tree_link(top, "b", "a");
        tree_link(top, "c", "c/x");
        _cleanup_close_ int rootfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_ERRNO(vc_open_in_root_walk(rootfd, "a", O_RDONLY, 0), ELOOP);
        ASSERT_ERRNO(vc_open_in_root_walk(rootfd, "c", O_RDONLY, 0), ELOOP);
        ASSERT_ERRNO(vc_open_in_root_walk(rootfd, "a", O_RDONLY | O_NOFOLLOW, 0), ELOOP);
}

/* Count the entries of @dir whose names start with a dot (other than "." and ".."). */
static unsigned hidden_entries(const char *dir) {
        DIR *d = opendir(dir);
        unsigned n = 0;
        if (!d)
                return 1000; /* fails the caller's check */
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* A writer killed while it writes (here by SIGXFSZ from a file size limit, as a SIGKILL of the
 * CLI would) leaves the old file and nothing else: no hidden temporary in conf.d or the state
 * directory. */
TEST(write_atomic_killed_writer_leaves_nothing) {
        char dir[] = "/tmp/vc-test-atomic.XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        _cleanup_free_ char *path = NULL;
        ASSERT_TRUE(asprintf(&path, "%s/dev.conf", dir) > 0);
        ASSERT_OK(vc_write_file_atomic(path, "[device a]\n", 0644));
        ASSERT_EQ(hidden_entries(dir), 0u);

        size_t big = 1 << 20;
        char *content = malloc(big + 1);
        ASSERT_NOT_NULL(content);
        memset(content, '#', big);
        content[big] = '\0';
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct rlimit lim = { .rlim_cur = 4096, .rlim_max = 4096 };
                signal(SIGXFSZ, SIG_DFL);
                if (setrlimit(RLIMIT_FSIZE, &lim) < 0)
                        _exit(2);
                (void) vc_write_file_atomic(path, content, 0644);
                _exit(3); /* not reached: the write past the limit kills it */
        }
        free(content);
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ(WTERMSIG(status), SIGXFSZ);
        ASSERT_EQ(hidden_entries(dir), 0u);
        _cleanup_free_ char *still = tree_read(dir, "dev.conf");
        ASSERT_STREQ(still, "[device a]\n");
        ASSERT_OK(unlink(path));
        ASSERT_OK(rmdir(dir));
}

int main(int argc, char **argv) { return tests_run(); }
