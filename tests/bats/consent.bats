#!/usr/bin/env bats
# Issue 17 item 1: a group that holds devices of other slots (a USB controller, a NIC next to the
# GPU) moves only with the admin's consent: asked on a terminal, --yes, or "consent = yes" in
# the entry; without a terminal the command is refused (exit 4) and nothing changes.

bats_require_minimum_version 1.5.0
load helpers

GPU=0000:03:00.0 USB=0000:00:14.0 NIC=0000:00:1f.6

# What uses the USB controller and the NIC, as sysfs shows it.
host_uses() {
        mkdir -p "$ROOT/sys/bus/pci/devices/$USB/usb1/1-2" "$ROOT/sys/bus/pci/devices/$NIC/net/eno1"
        echo "USB Keyboard" > "$ROOT/sys/bus/pci/devices/$USB/usb1/1-2/product"
}

# on_terminal INPUT ARGS...: vfio-claim on a pseudo-terminal, INPUT typed at it.
on_terminal() {
        local input=$1 cmd
        shift
        printf -v cmd '%q ' "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" "$@"
        run fk script -qec "$VC_WRAPPER $cmd" /dev/null <<<"$input"
        output=${output//$'\r'/}
}

assert_untouched() {
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver $USB) $(fk_driver $NIC) $(fk_driver $GPU)" "xhci_hcd e1000e nouveau"
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls "$CONF/conf.d")" ]
}

@test "enable without a terminal: the other slots' devices are listed with what uses them, exit 4, nothing changes" {
        fake_root doctor-shared-group
        host_uses
        run --separate-stderr vc enable $GPU < /dev/null
        assert_failure 4
        assert_equal "$output" ""
        assert_equal "${stderr_lines[0]}" "IOMMU group 7 holds devices that are not functions of $GPU; they move with it, away from the host:"
        assert_equal "${stderr_lines[1]}" "  $USB  usb, xhci_hcd; USB: USB Keyboard"
        assert_equal "${stderr_lines[2]}" "  $NIC  ethernet, e1000e; interface eno1"
        assert_equal "${stderr_lines[3]}" "vfio-claim: refused: no terminal to ask on; nothing was changed. Run again with --yes to move them too (enable records it as consent = yes)"
        assert_untouched
        assert_equal "$(ls "$STATE" 2>/dev/null | grep -c group-)" 0
}

@test "enable --yes: the group moves and every entry enable writes records consent = yes; disable removes the file" {
        fake_root doctor-shared-group
        run --separate-stderr vc enable $GPU --yes
        assert_success
        assert_equal "${stderr_lines[3]}" "moving them too (--yes)"
        for a in $USB $NIC $GPU; do assert_equal "$a $(fk_driver $a)" "$a vfio-pci"; done
        f="$CONF/conf.d/0000-03-00.0.conf"
        assert_equal "$(grep -c '^consent = yes$' "$f")" 3
        run vc show $GPU
        assert_success
        assert_output --partial "consent = yes"
        # The next enable of the group (already consented) asks nothing.
        run --separate-stderr vc enable $GPU < /dev/null
        assert_success
        refute_regex "$stderr" "not functions"
        run vc disable $GPU
        assert_success
        assert_output --partial "configuration: removed ${f#"$ROOT"}"
        [ ! -e "$f" ]
}

@test "enable on a terminal: 'y' moves the group, anything else refuses (exit 4) with nothing changed" {
        fake_root doctor-shared-group
        on_terminal n enable $GPU
        assert_failure 4
        assert_output --partial "Move them to vfio-pci too? [y/N] "
        assert_output --partial "refused: not agreed; nothing was changed"
        assert_untouched
        on_terminal y enable $GPU
        assert_success
        for a in $USB $NIC $GPU; do assert_equal "$a $(fk_driver $a)" "$a vfio-pci"; done
        assert_equal "$(grep -c '^consent = yes$' "$CONF/conf.d/0000-03-00.0.conf")" 3
}

@test "enable of a device whose group holds only its own functions asks nothing" {
        fake_root gpu-audio
        run --separate-stderr vc enable 0000:01:00.0 < /dev/null
        assert_success
        assert_equal "$stderr" ""
        ! grep -q consent "$CONF/conf.d/0000-01-00.0.conf"
}

@test "enable --dry-run lists the other slots' devices and changes nothing" {
        fake_root doctor-shared-group
        run --separate-stderr vc enable $GPU --dry-run < /dev/null
        assert_success
        assert_line "claim IOMMU group 7:"
        assert_equal "${stderr_lines[3]}" "(--dry-run: not asked; the command needs --yes, or an answer on a terminal)"
        assert_untouched
}

@test "apply: a boot = yes entry of a shared group needs consent = yes or --yes without a terminal" {
        fake_root doctor-shared-group
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = %s\nboot = yes\n' $GPU > "$CONF/vfio-claim.conf"
        run --separate-stderr vc apply < /dev/null
        assert_failure 4
        assert_regex "$stderr" "refused: no terminal to ask on; nothing was changed. Run again with --yes to move them too, or put consent = yes in the entry"
        assert_equal "$(fk_writes)" 0
        printf 'consent = yes\n' >> "$CONF/vfio-claim.conf"
        run --separate-stderr vc apply < /dev/null
        assert_success
        refute_regex "$stderr" "not functions"
        for a in $USB $NIC $GPU; do assert_equal "$a $(fk_driver $a)" "$a vfio-pci"; done
}

@test "apply --yes: consent for this run" {
        fake_root doctor-shared-group
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = %s\nboot = yes\n' $GPU > "$CONF/vfio-claim.conf"
        run vc apply --yes < /dev/null
        assert_success
        for a in $USB $NIC $GPU; do assert_equal "$a $(fk_driver $a)" "$a vfio-pci"; done
}

@test "consent: not a boolean is a configuration error" {
        fake_root doctor-shared-group
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = %s\nconsent = sure\n' $GPU > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_failure 3
        assert_output --partial 'consent: "sure" is not a boolean'
}
