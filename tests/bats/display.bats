#!/usr/bin/env bats
# A display device's unbind never waits on an open device node (issue 13 item 8): before any
# write, the claim looks for processes that hold the GPU's /dev/dri nodes open (the fake
# /proc/PID/fd links of the tree) and refuses with their names, exit 4, nothing written.

bats_require_minimum_version 1.5.0
load helpers

DOMAINS="$abs_top_srcdir/tests/fixtures/domains"

# holder PID COMM TARGET...: a process in the tree's /proc whose fds 0, 1, ... are links to TARGET...
# (as the kernel shows them: the path, never followed by vfio-claim).
holder() {
        local pid=$1 comm=$2 n=0
        shift 2
        mkdir -p "$ROOT/proc/$pid/fd"
        printf '%s\n' "$comm" > "$ROOT/proc/$pid/comm"
        for t in "$@"; do
                ln -s "$t" "$ROOT/proc/$pid/fd/$n"
                n=$((n + 1))
        done
}

# The desktop: Xorg and gnome-shell on the passthrough GPU (card1, renderD129), firefox (pid 1000:
# sorted by number, not by name) on its render node, and a bystander on the iGPU (card0).
desktop() {
        fake_root gpu-drm
        holder 812 Xorg /dev/null /dev/dri/card1 'socket:[4711]' /dev/dri/card0
        holder 990 gnome-shell /dev/dri/card1 /dev/dri/renderD129 /dev/dri/card1
        holder 1000 firefox /dev/dri/renderD129 'anon_inode:[eventfd]'
        holder 77 compositor-igpu /dev/dri/card0 /dev/dri/renderD128
}

# hook XML VM OPERATION SUB-OPERATION: the libvirt hook as libvirtd runs it (tests/bats/hook.bats).
hook() {
        local xml=$1 prog="$abs_top_builddir/vfio-claim-hook"
        shift
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        # shellcheck disable=SC2086
        FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" fk $VC_WRAPPER "$prog" "$@" - < "$xml"
}

HOLDERS='0000:01:00.0: /dev/dri/card1 is open by Xorg (pid 812), gnome-shell (pid 990); /dev/dri/renderD129 is open by gnome-shell (pid 990), firefox (pid 1000); stop them first'

@test "enable: a GPU whose DRM nodes are open is refused with exit 4, the holders named, nothing written" {
        desktop
        run vc enable 0000:01:00.0
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        refute_output --partial compositor-igpu
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        assert_equal "$(fk_override 0000:01:00.0)" ""
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls "$CONF/conf.d")" ]
        [ -z "$(ls "$STATE" 2>/dev/null | grep group-)" ]
}

@test "enable: the iGPU's holders do not stop the other GPU; once the holders are gone the claim goes through" {
        desktop
        rm -r "$ROOT/proc/812" "$ROOT/proc/990" "$ROOT/proc/1000"
        run vc enable 0000:01:00.0
        assert_success
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
}

@test "enable --force goes on although the nodes are open" {
        desktop
        run vc --force enable 0000:01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
}

@test "apply: the same refusal for a configured GPU, and the dry run says it too" {
        desktop
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc apply --dry-run
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        run vc apply
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "prepare: the hook fails the start with one line naming the holders, nothing written" {
        desktop
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: IOMMU group 1: $HOLDERS; VM \"win11\" was not started"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
}
