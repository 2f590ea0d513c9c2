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
        # doctor takes an unknown word for a libvirt domain; it says why it cannot be a device
        run --separate-stderr vc --connect test:///default doctor gpu
        assert_failure 3
        assert_equal "${stderr_lines[-1]}" "vfio-claim: gpu: not a libvirt domain at test:///default, and the configuration in ${CONF#"$ROOT"} that could name a device is invalid (errors above); name the device by its address or group:N"
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        [ ! -e "$STATE/group-1" ]
}

# roff FILE LINE END: the text of FILE from line LINE to the next line matching END (awk
# regex), macros' arguments kept, escapes and line breaks gone (one line)
roff() {
        awk -v n="$2" -v e="$3" 'NR == n { on = 1; print; next } on && $0 ~ e { exit } on' "$1" |
                sed -e 's/^\.[A-Z]* //' -e 's/\\-/-/g' -e 's/\\f[BIPR]//g' -e 's/"//g' -e 's/`//g' |
                tr '\n' ' ' | tr -s ' '
}

# line FILE AFTER WHAT: the number of the first line of FILE that is exactly WHAT after the
# first line that is exactly AFTER
line() {
        awk -v a="$2" -v w="$3" '$0 == a { on = 1 } on && $0 == w { print NR; exit }' "$1"
}

# md FILE START: a README section, from its heading to the next one, on one line
md() {
        awk -v s="$2" '$0 ~ s { on = 1; print; next } on && /^## / { exit } on' "$1" | tr -d '`' |
                tr '\n' ' ' | tr -s ' '
}

@test "README, vfio-claim(8) and vfio-claim.conf(5) give the same safety list (tests/unit/test-critical.c covers each)" {
        local readme safety protect
        readme=$(md "$abs_top_srcdir/README.md" '^## Safety')
        local man8="$abs_top_srcdir/man/vfio-claim.8" man5="$abs_top_srcdir/man/vfio-claim.conf.5"
        safety=$(roff "$man8" "$(line "$man8" .SH\ SAFETY .SH\ SAFETY)" '^\.SH ')
        protect=$(roff "$man5" "$(grep -n '^\.BR protect ' "$man5" | cut -d: -f1)" '^\.TP')
        for text in "$readme" "$safety" "$protect"; do
                for what in "/ " "/boot " "/boot/efi" "swap" "LVM" "MD" "NVMe multipath" \
                        "default route" "bridges" "bonds" "VLANs" "console" "mounted" "SSH session"; do
                        [[ ${text//,/ } == *"${what}"* ]] || fail "\"$what\" missing from: $text"
                done
        done
}

@test "--help, vfio-claim(8) and README say the same about what --force overrides" {
        run --separate-stderr "$abs_top_builddir/vfio-claim" --help
        assert_success
        local help man readme
        help=$(sed -n '/^      --force/,/^      --boot/p' <<<"$output" | tr -s ' \n' ' ')
        local man8="$abs_top_srcdir/man/vfio-claim.8"
        man=$(roff "$man8" "$(line "$man8" .SH\ OPTIONS '.B \-\-force')" '^\.TP')
        readme=$(grep -A3 '^`--force` overrides' "$abs_top_srcdir/README.md" | tr -s ' \n' ' ')
        for text in "$help" "$man" "$readme"; do
                [[ $text == *host-critical* ]] || fail "host-critical devices missing from: $text"
                [[ $text == *"libvirt cannot confirm"* ]] || fail "a hold libvirt cannot confirm missing from: $text"
                [[ $text == *"definition"* ]] || fail "another VM's definition missing from: $text"
        done
        [[ $man == *"a group a running VM holds is never taken"* ]]
        [[ $readme == *"never a group a running VM holds"* ]]
}

# complete_line LINE: what bash completion offers at the end of LINE in a plain bash without the
# bash-completion package, with the words bash itself makes (COMP_WORDBREAKS, ':' included).
complete_line() {
        bash --norc --noprofile -c '
                source "$1"
                COMP_LINE=$2 COMP_POINT=${#2}
                # bash splits at blanks and at each character of COMP_WORDBREAKS, keeping those
                # characters as words of their own
                COMP_WORDS=($(sed "s/:/ : /g" <<<"$2"))
                [[ $2 == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                _vfio_claim
                printf "%s\n" "${COMPREPLY[@]}" | sort' \
                complete "$abs_top_builddir/shell-completion/vfio-claim" "$1"
}

@test "bash completion without the bash-completion package completes a PCI address across bash's ':' word breaks" {
        fake_root gpu-audio
        run complete_line "vfio-claim --sysroot $ROOT show 0000:01"
        assert_success
        # bash replaces the part after the last ':' with what is offered
        assert_output $'01:00.0\n01:00.1'
        run complete_line "vfio-claim --sysroot $ROOT show 0000:01:00."
        assert_output $'00.0\n00.1'
        run complete_line "vfio-claim --sysroot $ROOT release "
        assert_output ''
        run vc enable 0000:01:00.0
        assert_success
        run complete_line "vfio-claim --sysroot $ROOT release gr"
        assert_output 'group:1'
        run complete_line "vfio-claim --sysroot $ROOT release group:"
        assert_output '1'
        run complete_line "vfio-claim --sysroot $ROOT en"
        assert_output 'enable'
}

# boot_pass: the boot pass (vfio-claim-udev --all) on the tree as the running system
boot_pass() {
        run --separate-stderr fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER \
                "$abs_top_builddir/vfio-claim-udev" --all
}

@test "boot pass: a boot = yes entry whose group holds other slots' devices moves it only with consent = yes" {
        local GPU=0000:03:00.0 USB=0000:00:14.0 NIC=0000:00:1f.6
        fake_root doctor-shared-group
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = %s\nboot = yes\n' $GPU > "$CONF/vfio-claim.conf"
        boot_pass
        assert_equal "$(fk_driver $USB) $(fk_driver $NIC) $(fk_driver $GPU)" "xhci_hcd e1000e nouveau"
        assert_equal "$(fk_override $USB)$(fk_override $NIC)$(fk_override $GPU)" ""
        [ ! -e "$STATE/group-7" ]
        assert_regex "$stderr" "$USB: refused: not a function of a configured device \(another slot of IOMMU group 7\); moved only with consent = yes in the entry \(vfio-claim enable --yes writes it\) \(\[device gpu\], group 7\)"
        run vc status
        assert_output "no group is claimed by vfio-claim"
        printf 'consent = yes\n' >> "$CONF/vfio-claim.conf"
        boot_pass
        assert_equal "$(fk_driver $USB) $(fk_driver $NIC) $(fk_driver $GPU)" "vfio-pci vfio-pci vfio-pci"
        grep -qx 'state claimed' "$STATE/group-7"
        # the consent is visible in status, as in show and the configuration
        run --separate-stderr vc status
        assert_success
        assert_line "  consent = yes: the devices of other slots in the group move with it"
        run --separate-stderr vc --json status
        assert_equal "$(jq -r '.groups[0].consent' <<<"$output")" true
}

@test "boot pass: a group of one card's functions needs no consent" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        boot_pass
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
}
