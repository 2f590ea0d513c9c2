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

@test "an invalid configuration with a claimed group: each error once, a name refused with the way out, release by address works" {
        fake_root gpu-audio
        fk_host "$FK_OP" modprobe vfio_pci
        run vc enable 01:00.0 --name gpu
        assert_success
        echo "typo = 1" >> "$CONF/conf.d/gpu.conf"
        for verb in show release; do
                run --separate-stderr vc $verb gpu
                assert_failure 3
                assert_equal "$(grep -c 'unknown key "typo"' <<<"$stderr")" 1
                assert_equal "${stderr_lines[-1]}" "vfio-claim: gpu: a device name, but the configuration in ${CONF#"$ROOT"} is invalid (errors above); name the device by its address or group:N ('vfio-claim status' lists the claimed groups)"
                assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        done
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        [ ! -e "$STATE/group-1" ]
}
