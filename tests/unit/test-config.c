/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration loader: every error message word for word with its file and line, the values
 * a good configuration yields, and matching against devices read from a small fake sysfs. */

#include <fcntl.h>
#include <ftw.h>
#include <ini.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>

/* "config.h" alone would find the autoconf header first (-I. comes before -Ilib). */
#include "config.h"
#include "pci.h"
#include "root.h"
#include "state.h"
#include "tests.h"

/* ------------------------------------------------------------------ scratch trees */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

/* A failed test keeps its tree for a look. */
static void tree_freep(char **dir) {
        if (*dir && test_failed)
                fprintf(stderr, "  tree kept at %s\n", *dir);
        else if (*dir) {
                (void) nftw(*dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        }
        free(*dir);
}
#define _cleanup_tree_ _cleanup_(tree_freep)

static char *tree_new(void) {
        char t[] = "/tmp/test-config-XXXXXX";
        if (!mkdtemp(t)) {
                perror("mkdtemp");
                abort();
        }
        return strdup(t);
}

/* Write @len bytes to DIR/REL, creating the directories on the way. */
static void write_file_len(const char *dir, const char *rel, const char *text, size_t len) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, rel) < 0)
                abort();
        for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        abort();
                *s = '/';
        }
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text, len) != (ssize_t) len) {
                perror(path);
                abort();
        }
}

static void write_file(const char *dir, const char *rel, const char *text) {
        write_file_len(dir, rel, text, strlen(text));
}

static void print_errors(const struct vc_config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_errors; i++)
                fprintf(stderr, "    error %zu: %s\n", i, c->errors[i]);
}

/* Load a tree that must be valid. */
static struct vc_config *load_ok(const char *dir) {
        struct vc_config *c = NULL;
        int r = vc_config_load(dir, &c);
        if (r < 0) {
                fprintf(stderr, "  vc_config_load(%s): %s\n", dir, strerror(-r));
                print_errors(c);
                vc_config_free(c);
                return NULL;
        }
        return c;
}

/* vfio-claim.conf holding @text must yield exactly the errors @expected (NULL-terminated). */
static void check_errors_in(const char *dir, const char *const *expected) {
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        size_t n = 0;

        while (expected[n])
                n++;
        ASSERT_ERRNO(vc_config_load(dir, &c), EINVAL);
        ASSERT_NOT_NULL(c);
        if (c->n_errors != n) {
                print_errors(c);
                FAIL_AT("%zu errors, expected %zu", c->n_errors, n);
        }
        for (size_t i = 0; i < n; i++)
                ASSERT_STREQ(c->errors[i], expected[i]);
}

static void check_one_error(const char *text, const char *expected) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf", text);
        check_errors_in(dir, (const char *const[]){ expected, NULL });
}

#define BAD(name, text, message) \
        TEST(bad_##name) { check_one_error(text, message); }

/* ------------------------------------------------------------------ one error each */

BAD(match_spec_example,
    "[global]\n"
    "release = host\n"
    "protect = yes\n"
    "log-level = info\n"
    "\n"
    "; the GPU\n"
    "[device gpu]\n"
    "id = 10de:2204\n"
    "boot = yes\n"
    "\n"
    "  ; wrong on purpose\n"
    "match = 01:00\n",
    "vfio-claim.conf:12: [device gpu] match: \"01:00\" is not a PCI address or vendor:device id")
BAD(match_slot_out_of_range, "[device gpu]\nmatch = 0000:01:20.0\n",
    "vfio-claim.conf:2: [device gpu] match: \"0000:01:20.0\" is not a PCI address or vendor:device id")
BAD(match_vendor_only, "[device gpu]\nmatch = 10de\n",
    "vfio-claim.conf:2: [device gpu] match: \"10de\" is not a PCI address or vendor:device id")
BAD(match_three_ids, "[device gpu]\nmatch = 10de:2204:1458\n",
    "vfio-claim.conf:2: [device gpu] match: \"10de:2204:1458\" is not a PCI address or vendor:device id")
BAD(match_empty, "[device gpu]\nmatch =\n",
    "vfio-claim.conf:2: [device gpu] match: \"\" is not a PCI address or vendor:device id")
BAD(match_semicolon_without_space, "[device gpu]\nmatch = 01:00.0;gpu\n",
    "vfio-claim.conf:2: [device gpu] match: \"01:00.0;gpu\" is not a PCI address or vendor:device id")
BAD(match_hash_comment, "[device gpu]\nmatch = 01:00.0 # gpu\n",
    "vfio-claim.conf:2: [device gpu] match: \"01:00.0 # gpu\" has a \"#\" comment after the value; "
    "only \";\" comments may follow a value")
BAD(match_hash_value, "[device gpu]\nmatch = #01:00.0\n",
    "vfio-claim.conf:2: [device gpu] match: \"#01:00.0\" has a \"#\" comment after the value; "
    "only \";\" comments may follow a value")
BAD(global_hash_comment, "[global]\nrelease = keep # for now\n",
    "vfio-claim.conf:2: [global] release: \"keep # for now\" has a \"#\" comment after the value; "
    "only \";\" comments may follow a value")
BAD(id_vendor_only, "[device gpu]\nmatch = 01:00.0\nid = 10de\n",
    "vfio-claim.conf:3: [device gpu] id: \"10de\" is not a vendor:device or "
    "vendor:device:subvendor:subdevice id")
BAD(id_is_an_address, "[device gpu]\nmatch = 01:00.0\nid = 01:00.0\n",
    "vfio-claim.conf:3: [device gpu] id: \"01:00.0\" is not a vendor:device or "
    "vendor:device:subvendor:subdevice id")
BAD(boot_maybe, "[device gpu]\nmatch = 01:00.0\nboot = maybe\n",
    "vfio-claim.conf:3: [device gpu] boot: \"maybe\" is not a boolean (yes, no, true, false, on, off, 1, 0)")
BAD(boot_capitalised, "[device gpu]\nmatch = 01:00.0\nboot = Yes\n",
    "vfio-claim.conf:3: [device gpu] boot: \"Yes\" is not a boolean (yes, no, true, false, on, off, 1, 0)")
BAD(protect_2, "[global]\nprotect = 2\n",
    "vfio-claim.conf:2: [global] protect: \"2\" is not a boolean (yes, no, true, false, on, off, 1, 0)")
BAD(release_global_typo, "[global]\nrelease = hots\n",
    "vfio-claim.conf:2: [global] release: \"hots\" is not one of host, keep")
BAD(release_device_typo, "[device gpu]\nmatch = 01:00.0\nrelease = vfio\n",
    "vfio-claim.conf:3: [device gpu] release: \"vfio\" is not one of host, keep")
BAD(reset_warm, "[device gpu]\nmatch = 01:00.0\nreset = warm\n",
    "vfio-claim.conf:3: [device gpu] reset: \"warm\" is not one of auto, flr, bus, none, device_specific")
BAD(reset_dash, "[device gpu]\nmatch = 01:00.0\nreset = device-specific\n",
    "vfio-claim.conf:3: [device gpu] reset: \"device-specific\" is not one of auto, flr, bus, none, "
    "device_specific")
BAD(log_level_verbose, "[global]\nlog-level = verbose\n",
    "vfio-claim.conf:2: [global] log-level: \"verbose\" is not one of debug, info, notice, warning, err")
BAD(log_level_number, "[global]\nlog-level = 7\n",
    "vfio-claim.conf:2: [global] log-level: \"7\" is not one of debug, info, notice, warning, err")
BAD(timeout_zero, "[global]\ntimeout = 0\n",
    "vfio-claim.conf:2: [global] timeout: \"0\" is not a number of seconds from 1 to 3600")
BAD(timeout_too_long, "[global]\ntimeout = 3601\n",
    "vfio-claim.conf:2: [global] timeout: \"3601\" is not a number of seconds from 1 to 3600")
BAD(timeout_unit, "[global]\ntimeout = 10s\n",
    "vfio-claim.conf:2: [global] timeout: \"10s\" is not a number of seconds from 1 to 3600")
BAD(timeout_huge, "[global]\ntimeout = 18446744073709551626\n",
    "vfio-claim.conf:2: [global] timeout: \"18446744073709551626\" is not a number of seconds from 1 to 3600")
BAD(timeout_twice, "[global]\ntimeout = 5\n[global]\ntimeout = 6\n",
    "vfio-claim.conf:4: [global] timeout: already set at vfio-claim.conf:2")
BAD(vm_empty, "[device gpu]\nmatch = 01:00.0\nvm =\n",
    "vfio-claim.conf:3: [device gpu] vm: \"\" is not a libvirt domain name "
    "(not empty, at most 255 bytes, no \"/\", no control characters)")
BAD(vm_slash, "[device gpu]\nmatch = 01:00.0\nvm = ../etc\n",
    "vfio-claim.conf:3: [device gpu] vm: \"../etc\" is not a libvirt domain name "
    "(not empty, at most 255 bytes, no \"/\", no control characters)")
/* Control characters and quotes are escaped in the message. */
BAD(vm_tab, "[device gpu]\nmatch = 01:00.0\nvm = win\t\"11\"\x1b[2J\n",
    "vfio-claim.conf:3: [device gpu] vm: \"win\\x09\\\"11\\\"\\x1b[2J\" is not a libvirt domain name "
    "(not empty, at most 255 bytes, no \"/\", no control characters)")
BAD(unknown_device_key, "[device gpu]\nmatch = 01:00.0\nmach = 02:00.0\n",
    "vfio-claim.conf:3: [device gpu] unknown key \"mach\" (known: match, id, boot, release, vm, reset, consent, console, stop)")
BAD(unknown_global_key, "[global]\nrelase = keep\n",
    "vfio-claim.conf:2: [global] unknown key \"relase\" (known: release, protect, log-level, hook-claim-unconfigured, timeout)")
BAD(device_key_in_global, "[global]\nboot = yes\n",
    "vfio-claim.conf:2: [global] unknown key \"boot\" (known: release, protect, log-level, hook-claim-unconfigured, timeout)")
BAD(unknown_section, "[devices gpu]\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: unknown section [devices gpu] (known: [global], [device NAME], [usb NAME])")
BAD(section_case, "[Global]\nrelease = keep\n",
    "vfio-claim.conf:1: unknown section [Global] (known: [global], [device NAME], [usb NAME])")
BAD(device_without_name, "[device]\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: [device] has no name: write [device NAME]")
BAD(device_name_slash, "[device gp/u]\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: [device gp/u]: \"gp/u\" is not a valid device name (letters, digits, \"_\", \".\", \"-\")")
BAD(device_name_space, "[device my gpu]\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: [device my gpu]: \"my gpu\" is not a valid device name (letters, digits, \"_\", \".\", \"-\")")
BAD(device_without_match,
    "[global]\nrelease = keep\n\n[device gpu]\n; no match\nboot = yes\n\n[device nic]\nmatch = 02:00.0\n",
    "vfio-claim.conf:4: [device gpu] has no \"match\" line")
BAD(device_without_match_at_end, "[device gpu]\nboot = yes\n",
    "vfio-claim.conf:1: [device gpu] has no \"match\" line")
BAD(device_redefined,
    "[device gpu]\nmatch = 01:00.0\n\n[device gpu]\nmatch = 02:00.0\n",
    "vfio-claim.conf:4: [device gpu] is already defined at vfio-claim.conf:1")
BAD(device_key_twice, "[device gpu]\nmatch = 01:00.0\nboot = yes\n\n\nboot = no\n",
    "vfio-claim.conf:6: [device gpu] boot: already set at vfio-claim.conf:3")
BAD(global_key_twice_in_two_blocks,
    "[global]\nrelease = keep\n[device gpu]\nmatch = 01:00.0\n[global]\nrelease = host\n",
    "vfio-claim.conf:6: [global] release: already set at vfio-claim.conf:2")
BAD(key_outside_section, "; no header yet\nrelease = keep\n[global]\n",
    "vfio-claim.conf:2: \"release\" is outside of any section (put it under [global] or [device NAME])")
BAD(header_unclosed, "[device gpu\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: syntax error: \"[device gpu\" has no closing \"]\"")
BAD(header_closed_by_comment, "[device gpu ; ]\nmatch = 01:00.0\n",
    "vfio-claim.conf:1: syntax error: \"[device gpu ; ]\" has no closing \"]\"")
BAD(header_trailing_text, "[global] release = keep\n",
    "vfio-claim.conf:1: syntax error: unexpected \"release = keep\" after the section header")
BAD(header_hash_comment, "[global] # main\n",
    "vfio-claim.conf:1: syntax error: unexpected \"# main\" after the section header")
BAD(no_equals, "[device gpu]\nmatch 01:00.0\n",
    "vfio-claim.conf:2: syntax error: \"match 01:00.0\" is not \"key = value\", a [section] or a comment")
BAD(colon_separator, "[device gpu]\nmatch: 01:00.0\n",
    "vfio-claim.conf:2: syntax error: \"match: 01:00.0\" is not \"key = value\", a [section] or a comment")
BAD(no_key, "[device gpu]\nmatch = 01:00.0\n= yes\n",
    "vfio-claim.conf:3: syntax error: \"= yes\" has no key before \"=\"")
/* inih's multi-line mode would append "01:00.1" to the match value above it. */
BAD(indented_continuation, "[device gpu]\nmatch = 01:00.0\n        01:00.1\n",
    "vfio-claim.conf:3: syntax error: \"01:00.1\" is not \"key = value\" "
    "(values cannot continue on an indented line)")

/* ------------------------------------------------------------------ line handling */

/* The longest line inih's buffer takes (INI_MAX_LINE includes "\r\n" and the NUL). */
#define LINE_LIMIT (INI_MAX_LINE - 3)

static char *line_of(size_t len, const char *prefix) {
        char *s = malloc(len + 1);
        if (!s)
                abort();
        memset(s, 'a', len);
        memcpy(s, prefix, strlen(prefix));
        s[len] = '\0';
        return s;
}

TEST(long_line_is_an_error_with_its_number) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = NULL, *vm = line_of(LINE_LIMIT + 100, "vm = "), *msg = NULL;
        /* Without care, inih would cut the line and read the rest as a line of its own, and every
         * line number below would be off. */
        ASSERT_TRUE(asprintf(&text, "[device gpu]\nmatch = 01:00.0\n%s\n\nboot = maybe\n", vm) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_TRUE(asprintf(&msg, "vfio-claim.conf:3: line is longer than %d characters", LINE_LIMIT) > 0);
        check_errors_in(dir, (const char *const[]){
                msg,
                "vfio-claim.conf:5: [device gpu] boot: \"maybe\" is not a boolean (yes, no, true, false, on, off, 1, 0)",
                NULL });
}

TEST(line_at_the_limit_is_fine) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = NULL, *line = line_of(LINE_LIMIT, "match = 01:00.0");
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        /* "match = 01:00.0" and blanks up to the limit: the value is the address alone. */
        memset(line + strlen("match = 01:00.0"), ' ', LINE_LIMIT - strlen("match = 01:00.0"));
        ASSERT_TRUE(asprintf(&text, "[device gpu]\n%s\nvm = win11\n", line) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 1u);
        ASSERT_STREQ(c->devices[0].vm, "win11");
}

/* vm = follows the rule of lib/name.h, the one the state records use for their owner: a name the
 * configuration takes is never refused when the claim is recorded (the longest the line limit
 * allows here; the rule's own bound is tested below). */
TEST(vm_name_from_config_is_a_record_owner) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = NULL, *vm = line_of(LINE_LIMIT, "vm = ");
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_(vc_record_freep) struct vc_record *rec = NULL;

        ASSERT_TRUE(asprintf(&text, "[device gpu]\nmatch = 01:00.0\n%s\n", vm) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_OK(vc_record_new(3, &rec));
        ASSERT_OK(vc_record_set_owner(rec, c->devices[0].vm));
        ASSERT_STREQ(rec->owner, vm + 5);
}

TEST(vm_name_rule) {
        ASSERT_TRUE(vc_vm_name_is_valid("win11 gaming"));
        ASSERT_TRUE(vc_vm_name_is_valid("a"));
        ASSERT_FALSE(vc_vm_name_is_valid(""));
        ASSERT_FALSE(vc_vm_name_is_valid(NULL));
        ASSERT_FALSE(vc_vm_name_is_valid("a/b"));
        ASSERT_FALSE(vc_vm_name_is_valid(" win"));
        ASSERT_FALSE(vc_vm_name_is_valid("win "));
        ASSERT_FALSE(vc_vm_name_is_valid("win\x7f"));
        ASSERT_FALSE(vc_vm_name_is_valid("win\n11"));
        _cleanup_free_ char *longest = line_of(VC_VM_NAME_MAX, ""), *over = line_of(VC_VM_NAME_MAX + 1, "");
        ASSERT_TRUE(vc_vm_name_is_valid(longest));
        ASSERT_FALSE(vc_vm_name_is_valid(over));
}

TEST(long_line_one_over_the_limit) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = NULL, *vm = line_of(LINE_LIMIT + 1, "vm = "), *msg = NULL;
        ASSERT_TRUE(asprintf(&text, "[device gpu]\nmatch = 01:00.0\n%s\n", vm) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_TRUE(asprintf(&msg, "vfio-claim.conf:3: line is longer than %d characters", LINE_LIMIT) > 0);
        check_errors_in(dir, (const char *const[]){ msg, NULL });
}

/* A header lost to its length must not leave its keys to the section above it. */
TEST(long_header_skips_its_keys) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = NULL, *hdr = line_of(LINE_LIMIT + 1, "[device "), *msg = NULL;
        ASSERT_TRUE(asprintf(&text, "[device gpu]\nmatch = 01:00.0\n%s]\nmatch = 02:00.0\n", hdr) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_TRUE(asprintf(&msg, "vfio-claim.conf:3: line is longer than %d characters", LINE_LIMIT) > 0);
        check_errors_in(dir, (const char *const[]){ msg, NULL });
}

/* inih keeps section names in a 50-byte buffer: a long device name must not come out cut. */
TEST(long_device_name_is_kept_whole) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_free_ char *text = NULL, *name = line_of(120, "gpu-");
        ASSERT_TRUE(asprintf(&text, "[device %s]\nmatch = 01:00.0\n[device %.40s]\nmatch = 02:00.0\n",
                             name, name) > 0);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 2);
        ASSERT_STREQ(c->devices[0].name, name);
        ASSERT_EQ(strlen(c->devices[1].name), 40);
}

TEST(nul_byte) {
        _cleanup_tree_ char *dir = tree_new();
        static const char text[] = "[device gpu]\nmatch = 01:00.0\nvm = a\0b\nboot = maybe\n";
        write_file_len(dir, "vfio-claim.conf", text, sizeof text - 1);
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:3: line contains a NUL byte",
                "vfio-claim.conf:4: [device gpu] boot: \"maybe\" is not a boolean (yes, no, true, false, on, off, 1, 0)",
                NULL });
}

TEST(line_numbers_after_blank_and_comment_lines) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf",
                   "\n"                         /* 1 */
                   "; comment\n"                /* 2 */
                   "# comment\n"                /* 3 */
                   "   ; indented comment\n"    /* 4 */
                   "[global]    ; header\n"     /* 5 */
                   "\n"                         /* 6 */
                   "release = x\n"              /* 7 */
                   "\t\n"                       /* 8 */
                   "[device gpu]\n"             /* 9 */
                   "  # indented\n"             /* 10 */
                   "match = 01:00.0 ; first\n"  /* 11 */
                   "\n"                         /* 12 */
                   "   ; comment\n"             /* 13 */
                   "reset = x\n"                /* 14 */
                   "vm = ok\n");                /* 15, no final newline on the next */
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:7: [global] release: \"x\" is not one of host, keep",
                "vfio-claim.conf:14: [device gpu] reset: \"x\" is not one of auto, flr, bus, none, device_specific",
                NULL });
}

TEST(last_line_without_newline) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf", "[device gpu]\nmatch = 01:00.0\nboot = nah");
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:3: [device gpu] boot: \"nah\" is not a boolean (yes, no, true, false, on, off, 1, 0)",
                NULL });
}

TEST(every_syntax_error_is_reported) {
        _cleanup_tree_ char *dir = tree_new();
        /* inih itself only returns the first one. */
        write_file(dir, "vfio-claim.conf",
                   "[device gpu]\n"
                   "match 01:00.0\n"
                   "match = 01:00.0\n"
                   "[global\n"
                   "release = keep\n"  /* under a broken header: skipped, not blamed on [device gpu] */
                   "[global]\n"
                   "protect\n");
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:2: syntax error: \"match 01:00.0\" is not \"key = value\", a [section] or a comment",
                "vfio-claim.conf:4: syntax error: \"[global\" has no closing \"]\"",
                "vfio-claim.conf:7: syntax error: \"protect\" is not \"key = value\", a [section] or a comment",
                NULL });
}

TEST(all_errors_in_all_files_in_order) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf",
                   "[global]\n"
                   "release = hots\n"
                   "[device gpu]\n"
                   "boot = yes\n"           /* gpu has no match: reported at its header, line 3 */
                   "reset = never\n"
                   "[device audio]\n"
                   "match = 01:00.1\n");
        write_file(dir, "conf.d/10-nic.conf",
                   "[device nic]\n"
                   "match = 10ec:8168\n"
                   "vm = \n"
                   "[device audio]\n"
                   "match = 01:00.1\n");
        write_file(dir, "conf.d/20-global.conf", "[global]\nrelease = keep\nlog-level = loud\n");
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:2: [global] release: \"hots\" is not one of host, keep",
                "vfio-claim.conf:3: [device gpu] has no \"match\" line",
                "vfio-claim.conf:5: [device gpu] reset: \"never\" is not one of auto, flr, bus, none, device_specific",
                "conf.d/10-nic.conf:3: [device nic] vm: \"\" is not a libvirt domain name "
                "(not empty, at most 255 bytes, no \"/\", no control characters)",
                "conf.d/10-nic.conf:4: [device audio] is already defined at vfio-claim.conf:6",
                "conf.d/20-global.conf:2: [global] release: already set at vfio-claim.conf:2",
                "conf.d/20-global.conf:3: [global] log-level: \"loud\" is not one of debug, info, notice, warning, err",
                NULL });
}

TEST(crlf_line_endings) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "[device gpu]\r\nmatch = 01:00.0\r\nvm = win11\r\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_STREQ(c->devices[0].vm, "win11");
}

TEST(byte_order_mark) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "\xef\xbb\xbf[device gpu]\nmatch = 01:00.0\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 1);
}

/* inih's multi-line mode would turn the second indented line into a continuation of "match". */
TEST(indented_keys_are_ordinary_keys) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[device gpu]\n"
                   "    match = 01:00.0\n"
                   "    boot = yes\n"
                   "\tvm = win11\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->devices[0].n_matches, 1);
        ASSERT_TRUE(c->devices[0].boot);
        ASSERT_STREQ(c->devices[0].vm, "win11");
}

TEST(inline_semicolon_comments_and_whitespace) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[ device gpu ]   ; spaces inside the brackets are fine\n"
                   "match=01:00.0;\n"          /* ";" without a space before it... */
                   "vm\t=\t  my vm  \t; the VM\n");
        /* ...is part of the value. */
        check_errors_in(dir, (const char *const[]){
                "vfio-claim.conf:2: [device gpu] match: \"01:00.0;\" is not a PCI address or vendor:device id",
                NULL });

        write_file(dir, "vfio-claim.conf",
                   "[ device gpu ]   ; spaces inside the brackets are fine\n"
                   "match=01:00.0 ;\n"
                   "vm\t=\t  my vm  \t; the VM\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_STREQ(c->devices[0].name, "gpu");
        ASSERT_STREQ(c->devices[0].vm, "my vm");
}

/* ------------------------------------------------------------------ files */

TEST(missing_directory_is_empty) {
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        ASSERT_NOT_NULL(c = load_ok("/nonexistent/vfio-claim-test"));
        ASSERT_EQ(c->n_devices, 0);
        ASSERT_EQ(c->n_errors, 0);
        ASSERT_STREQ(c->dir, "/nonexistent/vfio-claim-test");
}

TEST(defaults) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "; nothing here\n[device gpu]\nmatch = 01:00.0\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->release, VC_RELEASE_HOST);
        ASSERT_TRUE(c->protect);
        ASSERT_EQ(c->log_level, LOG_INFO);
        ASSERT_EQ(c->n_devices, 1);
        const struct vc_config_device *d = &c->devices[0];
        ASSERT_FALSE(d->boot);
        ASSERT_FALSE(d->has_release);
        ASSERT_FALSE(d->has_id);
        ASSERT_NULL(d->vm);
        ASSERT_EQ(d->reset, VC_RESET_AUTO);
        ASSERT_EQ(vc_config_device_release(c, d), VC_RELEASE_HOST);
        ASSERT_FALSE(vc_config_has_boot_devices(c));
}

TEST(empty_files) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "");
        write_file(dir, "conf.d/a.conf", "");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 0);
}

TEST(full_example) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        /* A whole configuration, comments and all. */
        write_file(dir, "vfio-claim.conf",
                   "[global]\n"
                   "release = host        ; default when a VM stops: host | keep\n"
                   "protect = yes         ; refuse groups holding a host-critical device\n"
                   "log-level = info      ; debug | info | notice | warning | err\n"
                   "\n"
                   "[device gpu]          ; \"device NAME\": NAME is the admin's handle\n"
                   "match = 0000:01:00.0  ; a PCI address (domain optional: 01:00.0), or vendor:device\n"
                   "                      ; optionally vendor:device:subvendor:subdevice. Repeatable.\n"
                   "id = 10de:2204        ; optional guard\n"
                   "                      ; (\"hardware changed\") and claim nothing\n"
                   "boot = yes            ; yes: claim at boot\n"
                   "release = keep        ; overrides [global] release for this device\n"
                   "vm = win11            ; optional: only this libvirt domain may use it\n"
                   "reset = auto          ; auto | flr | bus | none | device_specific\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->release, VC_RELEASE_HOST);
        ASSERT_TRUE(c->protect);
        ASSERT_EQ(c->log_level, LOG_INFO);
        ASSERT_EQ(c->n_devices, 1);
        const struct vc_config_device *d = &c->devices[0];
        ASSERT_STREQ(d->name, "gpu");
        ASSERT_STREQ(d->file, "vfio-claim.conf");
        ASSERT_EQ(d->line, 6);
        ASSERT_EQ(d->n_matches, 1);
        ASSERT_EQ(d->matches[0].kind, VC_MATCH_ADDRESS);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->matches[0].addr), "0000:01:00.0");
        ASSERT_EQ(d->matches[0].line, 7);
        ASSERT_TRUE(d->has_id);
        ASSERT_EQ(d->id.vendor, 0x10de);
        ASSERT_EQ(d->id.device, 0x2204);
        ASSERT_FALSE(d->id.has_subsystem);
        ASSERT_TRUE(d->boot);
        ASSERT_TRUE(d->has_release);
        ASSERT_EQ(d->release, VC_RELEASE_KEEP);
        ASSERT_EQ(vc_config_device_release(c, d), VC_RELEASE_KEEP);
        ASSERT_STREQ(d->vm, "win11");
        ASSERT_EQ(d->reset, VC_RESET_AUTO);
        ASSERT_TRUE(vc_config_has_boot_devices(c));
        ASSERT_TRUE(vc_config_find_device(c, "gpu") == d);
        ASSERT_NULL(vc_config_find_device(c, "GPU"));
}

TEST(global_values) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "[global]\nrelease = keep\nprotect = off\nlog-level = debug\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->release, VC_RELEASE_KEEP);
        ASSERT_FALSE(c->protect);
        ASSERT_EQ(c->log_level, LOG_DEBUG);
}

TEST(log_levels) {
        static const struct {
                const char *word;
                int level;
        } t[] = { { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                  { "warning", LOG_WARNING }, { "err", LOG_ERR } };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_tree_ char *dir = tree_new();
                _cleanup_(vc_config_freep) struct vc_config *c = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[global]\nlog-level = %s\n", t[i].word) > 0);
                write_file(dir, "vfio-claim.conf", text);
                ASSERT_NOT_NULL(c = load_ok(dir));
                ASSERT_EQ(c->log_level, t[i].level);
        }
}

/* [global] timeout: whole seconds, 1 to 3600, kept in ms; unset is 0 (the context's default). */
TEST(timeout_seconds) {
        static const struct {
                const char *text;
                unsigned ms;
        } t[] = { { "", 0 }, { "timeout = 1\n", 1000 }, { "timeout = 300\n", 300000 },
                  { "timeout = 3600\n", 3600000 }, { "timeout = 0030\n", 30000 } };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_tree_ char *dir = tree_new();
                _cleanup_(vc_config_freep) struct vc_config *c = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[global]\n%s", t[i].text) > 0);
                write_file(dir, "vfio-claim.conf", text);
                ASSERT_NOT_NULL(c = load_ok(dir));
                ASSERT_EQ(c->timeout_ms, t[i].ms);
        }
}

TEST(booleans) {
        static const struct {
                const char *word;
                bool value;
        } t[] = { { "yes", true }, { "true", true }, { "on", true }, { "1", true },
                  { "no", false }, { "false", false }, { "off", false }, { "0", false } };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_tree_ char *dir = tree_new();
                _cleanup_(vc_config_freep) struct vc_config *c = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[global]\nprotect = %s\n[device a]\nmatch = 01:00.0\nboot = %s\n",
                                     t[i].word, t[i].word) > 0);
                write_file(dir, "vfio-claim.conf", text);
                ASSERT_NOT_NULL(c = load_ok(dir));
                ASSERT_EQ(c->protect, t[i].value);
                ASSERT_EQ(c->devices[0].boot, t[i].value);
        }
}

TEST(reset_values) {
        for (int r = 0; r < _VC_RESET_MAX; r++) {
                _cleanup_tree_ char *dir = tree_new();
                _cleanup_(vc_config_freep) struct vc_config *c = NULL;
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[device a]\nmatch = 01:00.0\nreset = %s\n",
                                     vc_reset_to_string((enum vc_reset) r)) > 0);
                write_file(dir, "vfio-claim.conf", text);
                ASSERT_NOT_NULL(c = load_ok(dir));
                ASSERT_EQ(c->devices[0].reset, r);
        }
}

TEST(enum_tables) {
        ASSERT_STREQ(vc_release_to_string(VC_RELEASE_HOST), "host");
        ASSERT_STREQ(vc_release_to_string(VC_RELEASE_KEEP), "keep");
        ASSERT_NULL(vc_release_to_string(_VC_RELEASE_MAX));
        ASSERT_NULL(vc_release_to_string((enum vc_release) -1));
        for (int r = 0; r < _VC_RELEASE_MAX; r++)
                ASSERT_EQ(vc_release_from_string(vc_release_to_string((enum vc_release) r)), r);
        ASSERT_ERRNO(vc_release_from_string("Host"), EINVAL);
        ASSERT_ERRNO(vc_release_from_string(""), EINVAL);
        ASSERT_ERRNO(vc_release_from_string(NULL), EINVAL);

        ASSERT_STREQ(vc_reset_to_string(VC_RESET_AUTO), "auto");
        ASSERT_STREQ(vc_reset_to_string(VC_RESET_FLR), "flr");
        ASSERT_STREQ(vc_reset_to_string(VC_RESET_BUS), "bus");
        ASSERT_STREQ(vc_reset_to_string(VC_RESET_NONE), "none");
        ASSERT_STREQ(vc_reset_to_string(VC_RESET_DEVICE_SPECIFIC), "device_specific");
        ASSERT_NULL(vc_reset_to_string(_VC_RESET_MAX));
        for (int r = 0; r < _VC_RESET_MAX; r++)
                ASSERT_EQ(vc_reset_from_string(vc_reset_to_string((enum vc_reset) r)), r);
        ASSERT_ERRNO(vc_reset_from_string("FLR"), EINVAL);
        ASSERT_ERRNO(vc_reset_from_string(NULL), EINVAL);
}

TEST(per_device_release_override) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[global]\nrelease = keep\n"
                   "[device a]\nmatch = 01:00.0\n"
                   "[device b]\nmatch = 02:00.0\nrelease = host\n"
                   "[device c]\nmatch = 03:00.0\nrelease = keep\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "a")), VC_RELEASE_KEEP);
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "b")), VC_RELEASE_HOST);
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "c")), VC_RELEASE_KEEP);
}

TEST(boot_keeps_unless_the_device_says_otherwise) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[global]\nrelease = host\n"
                   "[device plain]\nmatch = 01:00.0\n"
                   "[device boot]\nmatch = 02:00.0\nboot = yes\n"
                   "[device boot-host]\nmatch = 03:00.0\nboot = yes\nrelease = host\n"
                   "[device boot-keep]\nmatch = 04:00.0\nboot = yes\nrelease = keep\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "plain")), VC_RELEASE_HOST);
        /* [global] release = host does not override boot's keep; the device's own key does. */
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "boot")), VC_RELEASE_KEEP);
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "boot-host")), VC_RELEASE_HOST);
        ASSERT_EQ(vc_config_device_release(c, vc_config_find_device(c, "boot-keep")), VC_RELEASE_KEEP);
}

TEST(multiple_match_lines) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[device gpu]\n"
                   "match = 0000:01:00.0\n"
                   "match = 01:00.1\n"
                   "match = 10DE:1AEF\n"
                   "match = 8086:1533:15d9:1533\n"
                   "match = 01:00.1\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        const struct vc_config_device *d = vc_config_find_device(c, "gpu");
        ASSERT_NOT_NULL(d);
        ASSERT_EQ(d->n_matches, 5);
        ASSERT_EQ(d->matches[0].kind, VC_MATCH_ADDRESS);
        ASSERT_EQ(d->matches[1].kind, VC_MATCH_ADDRESS);
        ASSERT_EQ(d->matches[1].addr.func, 1);
        ASSERT_EQ(d->matches[1].line, 3);
        ASSERT_EQ(d->matches[2].kind, VC_MATCH_ID);
        ASSERT_EQ(d->matches[2].id.vendor, 0x10de);
        ASSERT_EQ(d->matches[2].id.device, 0x1aef);
        ASSERT_FALSE(d->matches[2].id.has_subsystem);
        ASSERT_EQ(d->matches[3].kind, VC_MATCH_ID);
        ASSERT_TRUE(d->matches[3].id.has_subsystem);
        ASSERT_EQ(d->matches[3].id.subsystem_vendor, 0x15d9);
        ASSERT_EQ(d->matches[3].line, 5);
}

TEST(dropins_in_name_order) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf", "[device main]\nmatch = 00:01.0\n");
        write_file(dir, "conf.d/b.conf", "[device b]\nmatch = 00:05.0\n");
        write_file(dir, "conf.d/20-x.conf", "[device x20]\nmatch = 00:03.0\n");
        write_file(dir, "conf.d/10-y.conf", "[device y10]\nmatch = 00:02.0\n");
        write_file(dir, "conf.d/B.conf", "[device B]\nmatch = 00:04.0\n");
        write_file(dir, "conf.d/global.conf", "[global]\nrelease = keep\n");
        /* Not configuration: skipped without complaint. */
        write_file(dir, "conf.d/a.conf.bak", "garbage\n");
        write_file(dir, "conf.d/README", "garbage\n");
        write_file(dir, "conf.d/.hidden.conf", "garbage\n");
        write_file(dir, "conf.d/.conf", "garbage\n");
        write_file(dir, "conf.d/dir.conf/x.conf", "garbage\n");
        _cleanup_free_ char *fifo = NULL, *dangling = NULL, *link = NULL;
        ASSERT_TRUE(asprintf(&fifo, "%s/conf.d/fifo.conf", dir) > 0);
        ASSERT_OK(mkfifo(fifo, 0644));
        ASSERT_TRUE(asprintf(&dangling, "%s/conf.d/dangling.conf", dir) > 0);
        ASSERT_OK(symlink("/nonexistent/x.conf", dangling));
        /* A link to a regular file counts. */
        write_file(dir, "elsewhere/c.conf", "[device linked]\nmatch = 00:06.0\n");
        ASSERT_TRUE(asprintf(&link, "%s/conf.d/c.conf", dir) > 0);
        ASSERT_OK(symlink("../elsewhere/c.conf", link));

        ASSERT_NOT_NULL(c = load_ok(dir));
        static const char *const order[] = { "main", "y10", "x20", "B", "b", "linked" };
        static const char *const files[] = { "vfio-claim.conf", "conf.d/10-y.conf", "conf.d/20-x.conf",
                                             "conf.d/B.conf", "conf.d/b.conf", "conf.d/c.conf" };
        ASSERT_EQ(c->n_devices, ELEMENTSOF(order));
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                ASSERT_STREQ(c->devices[i].name, order[i]);
                ASSERT_STREQ(c->devices[i].file, files[i]);
                ASSERT_EQ(c->devices[i].line, 1);
        }
        ASSERT_EQ(c->release, VC_RELEASE_KEEP);
}

TEST(dropins_without_main_file) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "conf.d/gpu.conf", "[device gpu]\nmatch = 01:00.0\nboot = yes\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 1);
        ASSERT_TRUE(vc_config_has_boot_devices(c));
}

TEST(redefinition_across_files) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf", "\n[device gpu]\nmatch = 01:00.0\n");
        write_file(dir, "conf.d/gpu.conf", "; enabled by vfio-claim enable\n[device gpu]\nmatch = 01:00.0\n");
        check_errors_in(dir, (const char *const[]){
                "conf.d/gpu.conf:2: [device gpu] is already defined at vfio-claim.conf:2", NULL });
}

TEST(main_file_is_a_directory) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "vfio-claim.conf/x", "");
        check_errors_in(dir, (const char *const[]){ "vfio-claim.conf: not a regular file", NULL });
}

TEST(conf_d_is_a_file) {
        _cleanup_tree_ char *dir = tree_new();
        write_file(dir, "conf.d", "");
        check_errors_in(dir, (const char *const[]){ "conf.d: cannot open directory: Not a directory", NULL });
}

/* root reads a mode 000 file all the same: as root, check as nobody in a child. */
static void check_as_unprivileged(const char *dir, const char *const *expected) {
        if (geteuid() != 0) {
                check_errors_in(dir, expected);
                return;
        }
        ASSERT_OK(chmod(dir, 0755));
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                check_errors_in(dir, expected);
                fflush(NULL);
                _exit(test_failed ? 1 : 0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST(unreadable_file_is_named) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *path = NULL;
        write_file(dir, "vfio-claim.conf", "[device a]\nmatch = 01:00.0\nboot = x\n");
        write_file(dir, "conf.d/secret.conf", "[device gpu]\nmatch = 01:00.0\n");
        write_file(dir, "conf.d/z.conf", "[device z]\nmatch = 02:00.0\nreset = x\n");
        ASSERT_TRUE(asprintf(&path, "%s/conf.d/secret.conf", dir) > 0);
        ASSERT_OK(chmod(path, 0));
        /* The other files are still read and checked. */
        check_as_unprivileged(dir, (const char *const[]){
                "vfio-claim.conf:3: [device a] boot: \"x\" is not a boolean (yes, no, true, false, on, off, 1, 0)",
                "conf.d/secret.conf: cannot open: Permission denied",
                "conf.d/z.conf:3: [device z] reset: \"x\" is not one of auto, flr, bus, none, device_specific",
                NULL });
}

TEST(unreadable_conf_d_is_named) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *path = NULL;
        write_file(dir, "conf.d/gpu.conf", "[device gpu]\nmatch = 01:00.0\n");
        ASSERT_TRUE(asprintf(&path, "%s/conf.d", dir) > 0);
        ASSERT_OK(chmod(path, 0));
        check_as_unprivileged(dir, (const char *const[]){
                "conf.d: cannot open directory: Permission denied", NULL });
        ASSERT_OK(chmod(path, 0755)); /* so that the tree can be removed */
}

TEST(load_rejects_bad_arguments) {
        struct vc_config *c = NULL;
        ASSERT_ERRNO(vc_config_load(NULL, &c), EINVAL);
        ASSERT_ERRNO(vc_config_load("", &c), EINVAL);
        ASSERT_NULL(c);
        ASSERT_NULL(vc_config_free(NULL));
}

/* ------------------------------------------------------------------ matching devices */

struct fake_dev {
        const char *addr;
        const char *vendor, *device, *subsystem_vendor, *subsystem_device, *class;
};

static void write_attr(const char *root, const char *addr, const char *attr, const char *value) {
        _cleanup_free_ char *rel = NULL, *text = NULL;
        if (asprintf(&rel, "sys/bus/pci/devices/%s/%s", addr, attr) < 0 || asprintf(&text, "%s\n", value) < 0)
                abort();
        write_file(root, rel, text);
}

/* A sysfs tree with a few devices under @root; returns the devices read back through lib/pci. */
static void fake_sysfs(const char *root, const struct fake_dev *devs, size_t n, struct vc_pci_dev **ret) {
        _cleanup_(vc_ctx_unrefp) struct vc_ctx *ctx = NULL;
        if (vc_ctx_new(root, &ctx) < 0)
                abort();
        for (size_t i = 0; i < n; i++) {
                struct vc_pci_addr a;
                write_attr(root, devs[i].addr, "vendor", devs[i].vendor);
                write_attr(root, devs[i].addr, "device", devs[i].device);
                write_attr(root, devs[i].addr, "subsystem_vendor", devs[i].subsystem_vendor);
                write_attr(root, devs[i].addr, "subsystem_device", devs[i].subsystem_device);
                write_attr(root, devs[i].addr, "class", devs[i].class);
                if (vc_pci_addr_parse(devs[i].addr, &a) < 0 || vc_pci_dev_read(ctx, &a, &ret[i]) < 0) {
                        fprintf(stderr, "cannot read fake device %s\n", devs[i].addr);
                        abort();
                }
        }
}

static const struct fake_dev fake_devs[] = {
        { "0000:01:00.0", "0x10de", "0x2204", "0x1458", "0x403b", "0x030000" }, /* GPU */
        { "0000:01:00.1", "0x10de", "0x1aef", "0x1458", "0x403b", "0x040300" }, /* its audio */
        { "0000:02:00.0", "0x8086", "0x1533", "0x15d9", "0x1533", "0x020000" }, /* NIC */
        { "0000:03:00.0", "0x8086", "0x1533", "0x8086", "0x0000", "0x020000" }, /* same NIC, other board */
        { "0001:01:00.0", "0x1b36", "0x0010", "0x1af4", "0x1100", "0x010802" }, /* domain 1 */
        { "0000:04:00.0", "0x1022", "0x1483", "0x0000", "0x0000", "0x060400" }, /* bridge */
};
#define N_FAKE ELEMENTSOF(fake_devs)

struct fake_tree {
        char *dir;
        struct vc_pci_dev *devs[N_FAKE];
};

static void fake_tree_done(struct fake_tree *t) {
        for (size_t i = 0; i < N_FAKE; i++)
                vc_pci_dev_free(t->devs[i]);
        tree_freep(&t->dir);
}

static void fake_tree_init(struct fake_tree *t, const char *config) {
        *t = (struct fake_tree){ .dir = tree_new() };
        fake_sysfs(t->dir, fake_devs, N_FAKE, t->devs);
        write_file(t->dir, "etc/vfio-claim/vfio-claim.conf", config);
}

static const char *matched_name(const struct vc_config *c, const struct vc_pci_dev *d) {
        const struct vc_config_device *cd = vc_config_match_device(c, d);
        return cd ? cd->name : "(none)";
}

TEST(match_devices) {
        _cleanup_(fake_tree_done) struct fake_tree t;
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_free_ char *confdir = NULL;

        fake_tree_init(&t,
                       "[device gpu]\n"
                       "match = 01:00.0\n"          /* short form: domain 0 */
                       "match = 10de:1aef\n"        /* the audio function by id */
                       "[device nic]\n"
                       "match = 8086:1533:15d9:1533\n"  /* only the board with this subsystem */
                       "[device gpu-again]\n"
                       "match = 0000:01:00.0\n"     /* also selects the GPU: gpu comes first */
                       "match = 0001:01:00.0\n");
        ASSERT_TRUE(asprintf(&confdir, "%s/etc/vfio-claim", t.dir) > 0);
        ASSERT_NOT_NULL(c = load_ok(confdir));

        ASSERT_STREQ(matched_name(c, t.devs[0]), "gpu");
        ASSERT_STREQ(matched_name(c, t.devs[1]), "gpu");
        ASSERT_STREQ(matched_name(c, t.devs[2]), "nic");
        ASSERT_STREQ(matched_name(c, t.devs[3]), "(none)");  /* subsystem differs */
        ASSERT_STREQ(matched_name(c, t.devs[4]), "gpu-again"); /* the domain counts */
        ASSERT_STREQ(matched_name(c, t.devs[5]), "(none)");
        ASSERT_NULL(vc_config_match_device(c, NULL));
        ASSERT_NULL(vc_config_match_device(NULL, t.devs[0]));
}

TEST(match_by_id_without_subsystem_selects_every_board) {
        _cleanup_(fake_tree_done) struct fake_tree t;
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_free_ char *confdir = NULL;

        fake_tree_init(&t, "[device nics]\nmatch = 8086:1533\n");
        ASSERT_TRUE(asprintf(&confdir, "%s/etc/vfio-claim", t.dir) > 0);
        ASSERT_NOT_NULL(c = load_ok(confdir));
        ASSERT_STREQ(matched_name(c, t.devs[2]), "nics");
        ASSERT_STREQ(matched_name(c, t.devs[3]), "nics");
        ASSERT_STREQ(matched_name(c, t.devs[0]), "(none)");
}

TEST(id_guard) {
        _cleanup_(fake_tree_done) struct fake_tree t;
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        _cleanup_free_ char *confdir = NULL;

        fake_tree_init(&t,
                       "[device gpu]\nmatch = 01:00.0\nid = 10de:2204\n"
                       "[device changed]\nmatch = 01:00.1\nid = 10de:2204\n"        /* audio has 1aef */
                       "[device board]\nmatch = 02:00.0\nid = 8086:1533:15d9:1533\n"
                       "[device otherboard]\nmatch = 03:00.0\nid = 8086:1533:15d9:1533\n"
                       "[device noguard]\nmatch = 0001:01:00.0\n");
        ASSERT_TRUE(asprintf(&confdir, "%s/etc/vfio-claim", t.dir) > 0);
        ASSERT_NOT_NULL(c = load_ok(confdir));

        ASSERT_TRUE(vc_config_device_id_ok(vc_config_find_device(c, "gpu"), t.devs[0]));
        ASSERT_FALSE(vc_config_device_id_ok(vc_config_find_device(c, "changed"), t.devs[1]));
        ASSERT_TRUE(vc_config_device_id_ok(vc_config_find_device(c, "board"), t.devs[2]));
        ASSERT_FALSE(vc_config_device_id_ok(vc_config_find_device(c, "otherboard"), t.devs[3]));
        ASSERT_TRUE(vc_config_device_id_ok(vc_config_find_device(c, "noguard"), t.devs[4]));
        /* The guard does not select devices, it only vets them. */
        ASSERT_STREQ(matched_name(c, t.devs[1]), "changed");
}

/* ------------------------------------------------------------------ the shipped example */

static char *read_example(void) {
        const char *srcdir = getenv("abs_top_srcdir") ?: ".";
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *text = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/etc/vfio-claim.conf", srcdir) < 0)
                abort();
        f = fopen(path, "re");
        if (!f) {
                perror(path);
                return NULL;
        }
        text = malloc(1 << 16);
        if (!text)
                abort();
        size = fread(text, 1, (1 << 16) - 1, f);
        text[size] = '\0';
        return text;
}

TEST(example_is_all_comments) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = read_example();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        ASSERT_NOT_NULL(text);
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 0);
        ASSERT_EQ(c->release, VC_RELEASE_HOST);
}

/* ------------------------------------------------------------------ [usb NAME] */

BAD(usb_match_pci_address, "[usb kbd]\nmatch = 01:00.0\n",
    "vfio-claim.conf:2: [usb kbd] match: \"01:00.0\" is not a USB vendor:product id (VVVV:PPPP, hex)")
BAD(usb_match_short, "[usb kbd]\nmatch = 46d:c31c\n",
    "vfio-claim.conf:2: [usb kbd] match: \"46d:c31c\" is not a USB vendor:product id (VVVV:PPPP, hex)")
BAD(usb_without_match, "[usb kbd]\nvm = win11\n",
    "vfio-claim.conf:1: [usb kbd] has no \"match\" line")
BAD(usb_without_name, "[usb]\nmatch = 046d:c31c\n", "vfio-claim.conf:1: [usb] has no name: write [usb NAME]")
BAD(usb_name_slash, "[usb a/b]\nmatch = 046d:c31c\n",
    "vfio-claim.conf:1: [usb a/b]: \"a/b\" is not a valid device name (letters, digits, \"_\", \".\", \"-\")")
BAD(usb_port_bad, "[usb serial1]\nmatch = 0403:6001\nport = 3-1:1.0\n",
    "vfio-claim.conf:3: [usb serial1] port: \"3-1:1.0\" is not a USB port path (BUS-PORT[.PORT]..., e.g. 3-1.2)")
BAD(usb_port_zero, "[usb serial1]\nmatch = 0403:6001\nport = 3-0\n",
    "vfio-claim.conf:3: [usb serial1] port: \"3-0\" is not a USB port path (BUS-PORT[.PORT]..., e.g. 3-1.2)")
BAD(usb_port_too_deep, "[usb serial1]\nmatch = 0403:6001\nport = 3-1.1.1.1.1.1.1\n",
    "vfio-claim.conf:3: [usb serial1] port: \"3-1.1.1.1.1.1.1\" is not a USB port path (BUS-PORT[.PORT]..., e.g. 3-1.2)")
BAD(usb_serial_control, "[usb serial1]\nmatch = 0403:6001\nserial = A1\x1b\n",
    "vfio-claim.conf:3: [usb serial1] serial: \"A1\\x1b\" is not a serial number (1-126 printable ASCII characters)")
BAD(usb_serial_and_port, "[usb serial1]\nmatch = 0403:6001\nserial = A10K1234\nport = 3-1.2\n",
    "vfio-claim.conf:4: [usb serial1] port: set together with serial (line 3); use one of them")
BAD(usb_boot_maybe, "[usb kbd]\nmatch = 046d:c31c\nboot = maybe\n",
    "vfio-claim.conf:3: [usb kbd] boot: \"maybe\" is not a boolean (yes, no, true, false, on, off, 1, 0)")
BAD(usb_vm_slash, "[usb kbd]\nmatch = 046d:c31c\nvm = a/b\n",
    "vfio-claim.conf:3: [usb kbd] vm: \"a/b\" is not a libvirt domain name (not empty, at most 255 bytes, no \"/\", no control characters)")
BAD(usb_unknown_key, "[usb kbd]\nmatch = 046d:c31c\nrelease = keep\n",
    "vfio-claim.conf:3: [usb kbd] unknown key \"release\" (known: match, serial, port, vm, boot)")
BAD(usb_match_twice, "[usb kbd]\nmatch = 046d:c31c\nmatch = 046d:c31d\n",
    "vfio-claim.conf:3: [usb kbd] match: already set at vfio-claim.conf:2")
BAD(usb_hash_comment, "[usb kbd]\nmatch = 046d:c31c # keyboard\n",
    "vfio-claim.conf:2: [usb kbd] match: \"046d:c31c # keyboard\" has a \"#\" comment after the value; "
    "only \";\" comments may follow a value")
BAD(usb_name_taken_by_device, "[device gpu]\nmatch = 01:00.0\n[usb gpu]\nmatch = 046d:c31c\n",
    "vfio-claim.conf:3: [usb gpu]: the name is already defined at vfio-claim.conf:1")
BAD(device_name_taken_by_usb, "[usb gpu]\nmatch = 046d:c31c\n[device gpu]\nmatch = 01:00.0\n",
    "vfio-claim.conf:3: [device gpu]: the name is already defined at vfio-claim.conf:1")
BAD(usb_redefined, "[usb kbd]\nmatch = 046d:c31c\n\n[usb kbd]\nmatch = 046d:c31c\n",
    "vfio-claim.conf:4: [usb kbd]: the name is already defined at vfio-claim.conf:1")

TEST(usb_entries) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        write_file(dir, "vfio-claim.conf",
                   "[usb serial-a]        ; one of two identical adapters\n"
                   "match = 0403:6001\n"
                   "serial = A10K1234\n"
                   "vm = win11\n"
                   "boot = yes\n"
                   "\n"
                   "[usb stick]\n"
                   "match = 0781:5583\n"
                   "port = 3-3\n");
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 0);
        ASSERT_EQ(c->n_usbs, 2);
        const struct vc_config_usb *u = vc_config_find_usb(c, "serial-a");
        ASSERT_TRUE(u == &c->usbs[0]);
        ASSERT_STREQ(u->file, "vfio-claim.conf");
        ASSERT_EQ(u->line, 1);
        ASSERT_EQ(u->vendor, 0x0403);
        ASSERT_EQ(u->product, 0x6001);
        ASSERT_STREQ(u->serial, "A10K1234");
        ASSERT_NULL(u->port);
        ASSERT_STREQ(u->vm, "win11");
        ASSERT_TRUE(u->boot);
        u = vc_config_find_usb(c, "stick");
        ASSERT_NOT_NULL(u);
        ASSERT_EQ(u->vendor, 0x0781);
        ASSERT_STREQ(u->port, "3-3");
        ASSERT_NULL(u->serial);
        ASSERT_NULL(u->vm);
        ASSERT_FALSE(u->boot);
        ASSERT_NULL(vc_config_find_device(c, "stick"));
        ASSERT_NULL(vc_config_find_usb(c, "gpu"));
}

TEST(usb_port_paths) {
        ASSERT_TRUE(vc_usb_port_is_valid("3-1"));
        ASSERT_TRUE(vc_usb_port_is_valid("3-1.2"));
        ASSERT_TRUE(vc_usb_port_is_valid("255-31.1.1.1.1.1"));
        ASSERT_FALSE(vc_usb_port_is_valid("0-1"));
        ASSERT_FALSE(vc_usb_port_is_valid("256-1"));
        ASSERT_FALSE(vc_usb_port_is_valid("3-32"));
        ASSERT_FALSE(vc_usb_port_is_valid("3-01"));
        ASSERT_FALSE(vc_usb_port_is_valid("3-"));
        ASSERT_FALSE(vc_usb_port_is_valid("3-1."));
        ASSERT_FALSE(vc_usb_port_is_valid("usb3"));
        ASSERT_FALSE(vc_usb_port_is_valid("+3-1"));
        ASSERT_FALSE(vc_usb_port_is_valid("3-1/../x"));
        ASSERT_FALSE(vc_usb_port_is_valid(""));
}

/* Uncommenting every setting of the example (";key = value", ";[section]") gives a valid file. */
TEST(example_uncommented_is_valid) {
        _cleanup_tree_ char *dir = tree_new();
        _cleanup_free_ char *text = read_example();
        _cleanup_(vc_config_freep) struct vc_config *c = NULL;
        ASSERT_NOT_NULL(text);
        for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                size_t k = strspn(l + 1, "abcdefghijklmnopqrstuvwxyz-");
                if (l[0] == ';' && (l[1] == '[' || (k > 0 && startswith(l + 1 + k, " = "))))
                        l[0] = ' ';
        }
        write_file(dir, "vfio-claim.conf", text);
        ASSERT_NOT_NULL(c = load_ok(dir));
        ASSERT_EQ(c->n_devices, 1);
        const struct vc_config_device *d = vc_config_find_device(c, "gpu");
        ASSERT_NOT_NULL(d);
        ASSERT_EQ(d->n_matches, 2);
        ASSERT_TRUE(d->has_id);
        ASSERT_TRUE(d->boot);
        ASSERT_EQ(vc_config_device_release(c, d), VC_RELEASE_KEEP);
        ASSERT_STREQ(d->vm, "win11");
        ASSERT_TRUE(c->protect);
        ASSERT_EQ(c->log_level, LOG_INFO);
}

int main(int argc, char **argv) {
        return tests_run();
}
