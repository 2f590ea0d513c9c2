#!/usr/bin/env bats
# Issue 17, as a new user meets it: what --dry-run prints, the configuration loaded twice in one
# command, bash completion without the bash-completion package, and the docs agreeing with the
# code (the --force list, the safety list, the test counts).

bats_require_minimum_version 1.5.0
load helpers

@test "--dry-run under --sysroot names each file as it will be written, below the root" {
        fake_root gpu-audio
        run --separate-stderr vc_sysroot --dry-run enable 01:00.0
        assert_success
        assert_line "  write $ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override <- \"vfio-pci\""
        assert_line "  write $ROOT/sys/bus/pci/drivers/nouveau/unbind <- \"0000:01:00.0\""
        assert_line "  write $ROOT/sys/bus/pci/drivers_probe <- \"0000:01:00.0\""
        assert_line "write $CONF/conf.d/0000-01-00.0.conf:"
        # every write line names a file that exists in the tree: the one the real run opens
        while read -r file; do
                [ -e "$file" ] || fail "$file: not in the tree"
        done < <(sed -n 's|^  write \(.*\) <- .*|\1|p' <<<"$output")
        refute_line --regexp '^  write /sys/'
        assert_equal "$(fk_writes)" 0
        # --json says the same
        run --separate-stderr vc_sysroot --json --dry-run enable 01:00.0
        assert_success
        assert_equal "$(jq -r '.operations[0].writes[0].path' <<<"$output")" \
                "$ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override"
}

@test "--dry-run on the running system names the kernel's files" {
        fake_root gpu-audio
        run --separate-stderr vc --dry-run enable 01:00.0
        assert_success
        assert_line '  write /sys/bus/pci/devices/0000:01:00.0/driver_override <- "vfio-pci"'
        assert_line "write ${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf:"
}
