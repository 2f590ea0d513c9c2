/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal harness for the C unit tests: each test is a function, a failed check reports
 * file:line and the values, and main() runs every test and prints "N passed, N failed".
 *
 *   TEST(addr_parse_short) { struct vc_pci_addr a; ASSERT_OK(vc_pci_addr_parse("01:00.0", &a)); }
 *   int main(void) { return tests_run(); }
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_case {
        const char *name;
        test_fn fn;
};

#define TESTS_MAX 1024
static struct test_case tests_table[TESTS_MAX];
static size_t tests_n;
static int test_failed;

static inline void tests_register(const char *name, test_fn fn) {
        if (tests_n < TESTS_MAX)
                tests_table[tests_n++] = (struct test_case){ name, fn };
}

#define TEST(name)                                                                     \
        static void test_##name(void);                                                 \
        __attribute__((constructor)) static void register_##name(void) {               \
                tests_register(#name, test_##name);                                    \
        }                                                                              \
        static void test_##name(void)

#define FAIL_AT(...)                                                                   \
        do {                                                                           \
                fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                      \
                fprintf(stderr, __VA_ARGS__);                                          \
                fputc('\n', stderr);                                                   \
                test_failed = 1;                                                       \
                return;                                                                \
        } while (0)

#define ASSERT_TRUE(e) do { if (!(e)) FAIL_AT("expected true: %s", #e); } while (0)
#define ASSERT_FALSE(e) do { if (e) FAIL_AT("expected false: %s", #e); } while (0)
#define ASSERT_OK(e)                                                                   \
        do {                                                                           \
                long _r = (long) (e);                                                  \
                if (_r < 0)                                                            \
                        FAIL_AT("%s failed: %s", #e, strerror((int) -_r));             \
        } while (0)
#define ASSERT_ERRNO(e, err)                                                           \
        do {                                                                           \
                long _r = (long) (e);                                                  \
                if (_r != -(long) (err))                                               \
                        FAIL_AT("%s returned %ld, expected -%s", #e, _r, #err);        \
        } while (0)
#define ASSERT_EQ(a, b)                                                                \
        do {                                                                           \
                intmax_t _a = (intmax_t) (a), _b = (intmax_t) (b);                     \
                if (_a != _b)                                                          \
                        FAIL_AT("%s == %jd, expected %s == %jd", #a, _a, #b, _b);      \
        } while (0)
#define ASSERT_STREQ(a, b)                                                             \
        do {                                                                           \
                const char *_a = (a), *_b = (b);                                       \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                 \
                        FAIL_AT("%s is \"%s\", expected \"%s\"", #a, _a ? _a : "(null)", \
                                _b ? _b : "(null)");                                   \
        } while (0)
#define ASSERT_NULL(e) do { if ((e) != NULL) FAIL_AT("expected NULL: %s", #e); } while (0)
#define ASSERT_NOT_NULL(e) do { if ((e) == NULL) FAIL_AT("expected non-NULL: %s", #e); } while (0)

/* Run the tests named on the command line, or all. Prints one TAP-like line per test. */
static inline int tests_run_argv(int argc, char **argv) {
        unsigned passed = 0, failed = 0;
        for (size_t i = 0; i < tests_n; i++) {
                if (argc > 1) {
                        int wanted = 0;
                        for (int a = 1; a < argc; a++)
                                wanted |= strcmp(argv[a], tests_table[i].name) == 0;
                        if (!wanted)
                                continue;
                }
                test_failed = 0;
                tests_table[i].fn();
                printf("%s %zu - %s\n", test_failed ? "not ok" : "ok", i + 1, tests_table[i].name);
                fflush(stdout);
                if (test_failed)
                        failed++;
                else
                        passed++;
        }
        printf("%u passed, %u failed\n", passed, failed);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
#define tests_run() tests_run_argv(argc, argv)
