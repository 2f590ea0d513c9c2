/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The CLI's shared pieces (src/cli.c) without a verb around them. */

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tests.h"
#include "tree.h"

/* A second call after an invalid configuration refuses again: a verb that asks twice (once
 * itself, once through a DEVICE name) must never go on with the entries of an invalid file. */
TEST(load_config_invalid_twice) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(cli_clear) struct vc_cli cli = {};
        tree_file(root, "vfio-claim.conf", "[device gpu]\nmatch = 01:00.0\nboot = maybe\n");
        ASSERT_NOT_NULL(cli.config_dir = strdup(root));

        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_NULL(cli.config);
}

/* The reading verbs go on without an invalid configuration; a later strict load still refuses. */
TEST(load_config_to_read_then_strict) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(cli_clear) struct vc_cli cli = {};
        tree_file(root, "vfio-claim.conf", "[device gpu]\nmatch = 01:00.0\nboot = maybe\n");
        ASSERT_NOT_NULL(cli.config_dir = strdup(root));

        ASSERT_EQ(cli_load_config_to_read(&cli), EXIT_DONE);
        ASSERT_NULL(cli.config);
        ASSERT_EQ(cli.n_config_errors, 1u);
        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_EQ(cli_load_config_to_read(&cli), EXIT_DONE);
        ASSERT_NULL(cli.config);
}

TEST(load_config_valid_once) {
        _cleanup_tree_ char *root = tree_new();
        _cleanup_(cli_clear) struct vc_cli cli = {};
        tree_file(root, "vfio-claim.conf", "[device gpu]\nmatch = 01:00.0\n");
        ASSERT_NOT_NULL(cli.config_dir = strdup(root));

        ASSERT_EQ(cli_load_config(&cli), EXIT_DONE);
        const struct vc_config *first = cli.config;
        ASSERT_NOT_NULL(first);
        ASSERT_EQ(cli_load_config(&cli), EXIT_DONE);
        ASSERT_TRUE(cli.config == first);
        ASSERT_EQ(cli.config->n_devices, 1u);
}

/* vfio-claim(8), EXIT STATUS: the typed outcomes pass, a failure's -errno is 1. */
TEST(exit_status_map) {
        ASSERT_EQ(cli_exit_status(EXIT_DONE), 0);
        ASSERT_EQ(cli_exit_status(EXIT_FAILED), 1);
        ASSERT_EQ(cli_exit_status(EXIT_USAGE), 2);
        ASSERT_EQ(cli_exit_status(EXIT_CONFIG), 3);
        ASSERT_EQ(cli_exit_status(EXIT_REFUSED), 4);
        ASSERT_EQ(cli_exit_status(-EIO), 1);
        ASSERT_EQ(cli_exit_status(-ENOMEM), 1);
        ASSERT_EQ(cli_exit_status(77), 1);
}

int main(int argc, char **argv) {
        return tests_run();
}
