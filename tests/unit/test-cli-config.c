/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the CLI loads the configuration (src/cli.c): an invalid one is refused by every load of
 * the same command, and the reading verbs go on without it. */

#include <stdlib.h>
#include <string.h>

#include "src/cli.h"
#include "tests.h"
#include "tree.h"

static const char invalid_conf[] = "[device gpu]\nmatch = 0000:01:00.0\ntypo = 1\n";

TEST(invalid_refused_by_every_load) {
        _cleanup_tree_ char *dir = tree_new();
        ASSERT_NOT_NULL(dir);
        tree_file(dir, "vfio-claim.conf", invalid_conf);
        struct vc_cli cli = { .config_dir = strdup(dir) };
        ASSERT_NOT_NULL(cli.config_dir);

        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_NULL(cli.config);
        /* the second load in the same command is refused too, not given the invalid entries */
        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_NULL(cli.config);
        /* a reading verb goes on without it, with its errors kept for doctor */
        ASSERT_EQ(cli_load_config_to_read(&cli), EXIT_DONE);
        ASSERT_NULL(cli.config);
        ASSERT_EQ(cli.n_config_errors, 1);
        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_EQ(cli_done(&cli, EXIT_DONE), EXIT_DONE);
        cli_clear(&cli);
}

TEST(read_then_write_refused) {
        _cleanup_tree_ char *dir = tree_new();
        ASSERT_NOT_NULL(dir);
        tree_file(dir, "vfio-claim.conf", invalid_conf);
        struct vc_cli cli = { .config_dir = strdup(dir) };
        ASSERT_NOT_NULL(cli.config_dir);

        ASSERT_EQ(cli_load_config_to_read(&cli), EXIT_DONE);
        ASSERT_TRUE(cli.config_invalid);
        ASSERT_EQ(cli_load_config(&cli), EXIT_CONFIG);
        ASSERT_NULL(cli.config);
        ASSERT_EQ(cli_done(&cli, EXIT_DONE), EXIT_DONE);
        cli_clear(&cli);
}

TEST(valid_loaded_once) {
        _cleanup_tree_ char *dir = tree_new();
        ASSERT_NOT_NULL(dir);
        tree_file(dir, "vfio-claim.conf", "[device gpu]\nmatch = 0000:01:00.0\n");
        struct vc_cli cli = { .config_dir = strdup(dir) };
        ASSERT_NOT_NULL(cli.config_dir);

        ASSERT_EQ(cli_load_config(&cli), EXIT_DONE);
        ASSERT_NOT_NULL(cli.config);
        const struct vc_config *first = cli.config;
        ASSERT_EQ(cli_load_config(&cli), EXIT_DONE);
        ASSERT_TRUE(cli.config == first);
        ASSERT_FALSE(cli.config_invalid);
        ASSERT_EQ(cli_done(&cli, EXIT_DONE), EXIT_DONE);
        cli_clear(&cli);
}

int main(int argc, char **argv) { return tests_run(); }
