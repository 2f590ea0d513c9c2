/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The CLI's shared pieces (src/cli.c) without a verb around them. */

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tests.h"
#include "tree.h"

static void cli_clear(struct vc_cli *cli) { (void) cli_done(cli, EXIT_DONE); }

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

int main(int argc, char **argv) {
        return tests_run();
}
