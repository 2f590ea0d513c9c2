#!/usr/bin/env bats
# What a new user meets first: output that fits the terminal, help that fits 80 columns,
# usage errors that show the verb's synopsis, options a verb does not take refused.

load helpers

# on_terminal COLUMNS ARGS...: vfio-claim on a pseudo-terminal COLUMNS wide; its screen output
# (stdout and stderr) in $output, carriage returns removed.
on_terminal() {
        local cols=$1
        shift
        local cmd
        printf -v cmd '%q ' "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" "$@"
        run fk script -qec "stty cols $cols rows 50; $VC_WRAPPER $cmd" /dev/null
        output=${output//$'\r'/}
        mapfile -t lines <<<"$output"
}

# The longest line, leaving out the one that names the configured directory (its length is the
# build's: a distcheck prefix is long).
longest_line() {
        awk '!/\(default [^ ]*\/vfio-claim\)/ { if (length($0) > n) n = length($0) } END { print n + 0 }' <<<"$1"
}

@test "list on an 80-column terminal: no line is longer than 80, columns dropped, never wrapped" {
        fake_root gpu-audio
        run vc list
        assert_success
        wide=$(longest_line "$output")
        [ "$wide" -gt 80 ] # the full table is wider: the terminal case must really cut
        assert_line --index 0 --regexp '^GROUP +ADDRESS +CLASS +ID +DRIVER +OVERRIDE +CONFIG +CLAIMED +NOTE +DESCRIPTION$'

        on_terminal 80 list
        assert_success
        [ "$(longest_line "$output")" -le 80 ]
        assert_line --index 0 --regexp '^GROUP +ADDRESS +DRIVER +CONFIG +CLAIMED +NOTE +DESCRIPTION$'
        assert_line --regexp '^1 +0000:01:00\.0 +nouveau +'
        # every device is still one line
        assert_equal "$(grep -c '^[0-9-]' <<<"$output")" "$(grep -c '^[0-9-]' <<<"$(vc list)")"

        on_terminal 40 list
        assert_success
        [ "$(longest_line "$output")" -le 40 ]
        assert_line --regexp '^1 +0000:01:00\.0 +nouveau'
}

@test "list: a critical device's reason is printed under the table" {
        fake_root lone-nic
        nic=$(basename "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device)")")
        default_route_nic "$nic"
        run vc list
        assert_success
        assert_line --regexp "^[0-9]+ +$nic .* critical "
        assert_line "$nic is critical: NIC of the default route (eth0)"
}

@test "--help and help VERB fit 80 columns; help VERB lists that verb's options only" {
        run "$abs_top_builddir/vfio-claim" --help
        assert_success
        [ "$(longest_line "$output")" -le 80 ]
        assert_line '  enable DEVICE [--boot] [--name NAME] [--yes]'
        assert_line --regexp '^ {25}claim the group now'
        assert_line --regexp '^  help \[VERB\] '
        for verb in list show enable disable apply release status add remove doctor check-config help; do
                run "$abs_top_builddir/vfio-claim" help "$verb"
                assert_success
                [ "$(longest_line "$output")" -le 80 ]
        done
        run "$abs_top_builddir/vfio-claim" help enable
        assert_line --index 0 'Usage: vfio-claim [OPTIONS] enable DEVICE [--boot] [--name NAME] [--yes]'
        assert_line --regexp '^  --boot +also claim the group at every boot'
        refute_line --partial -- '--connect'
        run "$abs_top_builddir/vfio-claim" help list
        refute_line --partial -- '--dry-run'
        run "$abs_top_builddir/vfio-claim" help frobnicate
        assert_failure 2
        assert_output 'vfio-claim: help: unknown verb "frobnicate" (see --help)'
}

@test "a usage error prints the verb's synopsis, not the help table's padding" {
        fake_root gpu-audio
        run vc enable
        assert_failure 2
        assert_output 'vfio-claim: enable: wrong number of arguments; usage: vfio-claim enable DEVICE [--boot] [--name NAME] [--yes]'
}

@test "an option the verb does not take is an error, and nothing is written" {
        fake_root gpu-audio
        run vc --boot list
        assert_failure 2
        assert_output 'vfio-claim: list: --boot is not an option of list; usage: vfio-claim list'
        run vc --connect test:///default enable 0000:01:00.0
        assert_failure 2
        assert_output --partial 'enable: --connect is not an option of enable'
        run vc --dry-run status
        assert_failure 2
        run vc --boot doctor
        assert_failure 2
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "a writing verb run by a user who is not root says it needs root, before touching anything" {
        command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
        [ "$(id -u)" -eq 0 ] || skip "needs root to switch to another user"
        for verb in "enable 0000:01:00.0" "disable 0000:01:00.0" "release 0000:01:00.0" apply; do
                # no --sysroot: the real root, where the check applies
                run setpriv --reuid=65534 --regid=65534 --clear-groups $VC_WRAPPER "$abs_top_builddir/vfio-claim" $verb
                assert_failure 1
                assert_output --regexp "^vfio-claim: (enable|disable|release|apply) changes the system and needs root: run it with sudo"
        done
        # --dry-run only reads: allowed (it may fail later for other reasons, never for root)
        run setpriv --reuid=65534 --regid=65534 --clear-groups $VC_WRAPPER "$abs_top_builddir/vfio-claim" --dry-run apply
        refute_output --partial 'needs root'
}

# complete WORDS...: what bash completion offers for the last word, in a plain bash without the
# bash-completion package (no _init_completion, no _filedir).
complete_words() {
        bash --norc --noprofile -c '
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                _vfio_claim
                printf "%s\n" "${COMPREPLY[@]}" | sort' \
                complete "$abs_top_builddir/shell-completion/vfio-claim" "$@"
}

@test "bash completion works without the bash-completion package; release offers claimed groups only" {
        fake_root gpu-audio
        run complete_words vfio-claim --sysroot "$ROOT" en
        assert_success
        assert_output enable
        refute_output --partial _init_completion
        run complete_words vfio-claim --sysroot "$ROOT" show 0000:01
        assert_output $'0000:01:00.0\n0000:01:00.1'
        run complete_words vfio-claim --sysroot "$ROOT" release ''
        assert_success
        assert_output ''
        run vc enable 0000:01:00.0
        assert_success
        run complete_words vfio-claim --sysroot "$ROOT" release ''
        assert_output $'0000:01:00.0\n0000:01:00.1\ngroup:1'
        run complete_words vfio-claim help di
        assert_output disable
}

@test "bash completion offers every verb --help lists, and no other" {
        run complete_words vfio-claim ''
        assert_success
        assert_output "$(vc --help | sed -n '/^Verbs:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort)"
}

@test "check-config on a directory that does not exist says so (exit 3)" {
        fake_root gpu-audio
        run vc --config "$ROOT/etc/vfio-claim-typo" check-config
        assert_failure 3
        assert_output "vfio-claim: $ROOT/etc/vfio-claim-typo: no such directory: nothing is configured there (is --config right?)"
}

@test "with a typo in the configuration, list, show and doctor still work and report the errors" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/conf.d/gpu.conf"
        printf '[device nic]\nmatch = 02:00\n' > "$CONF/conf.d/nic.conf"
        run --separate-stderr vc list
        assert_success
        assert_line --regexp '^1 +0000:01:00\.0 '
        [[ $stderr == *'nic.conf:2: [device nic] match: "02:00" is not a PCI address or vendor:device id'* ]]
        [[ $stderr == *"configuration invalid (1 error): shown without it; 'vfio-claim check-config' lists the errors"* ]]
        run --separate-stderr vc show 0000:01:00.0
        assert_success
        run --separate-stderr vc --json doctor 0000:01:00.0
        assert_failure 1
        assert_equal "$(jq -r '[.findings[] | select(.check == "config")][0].level' <<<"$output")" fail
        assert_equal "$(jq -r '[.findings[] | select(.check == "config")][0].finding' <<<"$output")" \
                'conf.d/nic.conf:2: [device nic] match: "02:00" is not a PCI address or vendor:device id'
        # a writing verb that needs the configuration still refuses, changing nothing
        run vc enable 0000:01:00.0
        assert_failure 3
        assert_equal "$(fk_writes)" 0
}

@test "a DEVICE that is no configured name lists the names that are" {
        fake_root gpu-audio
        run vc show gpu
        assert_failure 2
        assert_output "vfio-claim: gpu: not a PCI address, group:N, or a device name: ${CONF#"$ROOT"} configures no device"
        mkdir -p "$CONF/conf.d"
        printf '[device gpu0]\nmatch = 0000:01:00.0\n\n[device gpu0-audio]\nmatch = 0000:01:00.1\n' > "$CONF/conf.d/gpu.conf"
        run vc release gpu
        assert_failure 2
        assert_output "vfio-claim: gpu: not a PCI address, group:N, or a device name in ${CONF#"$ROOT"}; configured names: gpu0, gpu0-audio"
        assert_equal "$(fk_writes)" 0
}

@test "enable --name gpu names the entries; release gpu and disable gpu then work as the README shows" {
        fake_root gpu-audio
        run vc enable 01:00.0 --boot --name gpu
        assert_success
        assert_line "configuration: ${CONF#"$ROOT"}/conf.d/gpu.conf (boot = yes)"
        grep -qx '\[device gpu\]' "$CONF/conf.d/gpu.conf"
        grep -qx '\[device gpu-0000-01-00.1\]' "$CONF/conf.d/gpu.conf"
        grep -qx 'match = 0000:01:00.0' "$CONF/conf.d/gpu.conf"
        run vc check-config
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        run vc release gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        run vc apply
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        run vc disable gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        [ ! -e "$CONF/conf.d/gpu.conf" ]
}

@test "enable --name: a name already configured, or a bad name, is refused before any write" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[device gpu]\nmatch = 0000:00:02.0\n' > "$CONF/conf.d/igpu.conf"
        run vc enable 01:00.0 --name gpu
        assert_failure 2
        assert_output "vfio-claim: --name gpu: already configured in conf.d/igpu.conf:1"
        run vc enable 01:00.0 --name 'my gpu'
        assert_failure 2
        assert_output --partial '--name: "my gpu" is not a name'
        run vc --name x list
        assert_failure 2
        assert_equal "$(fk_writes)" 0
}

@test "apply with no boot = yes entry says there is none" {
        fake_root gpu-audio
        run vc apply
        assert_success
        assert_output "nothing to do: no entry of ${CONF#"$ROOT"} says boot = yes"
}

@test "release --all and disable --all: each group on its own, a summary at the end" {
        fake_root twin-nics
        nics=($(basename -a "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device | head -1)")" \
                "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device | tail -1)")"))
        [ "${nics[0]}" != "${nics[1]}" ]
        before0=$(fk_driver "${nics[0]}") before1=$(fk_driver "${nics[1]}")
        run vc enable "${nics[0]}"
        assert_success
        run vc enable "${nics[1]}"
        assert_success
        run vc release
        assert_failure 2
        run vc release --all "${nics[0]}"
        assert_failure 2
        # the second group's unbind fails: the first still goes back
        fk_fail "glob:*/drivers/vfio-pci/unbind EIO"
        run vc release --all
        assert_failure 1
        assert_line --regexp '^release --all: 2 groups, 0 done, 2 failed$'
        rm -f "$ROOT/.fakekernel/faults"
        run vc release --all
        assert_success
        assert_line 'release --all: 2 groups, 2 done, 0 failed'
        assert_equal "$(fk_driver "${nics[0]}")" "$before0"
        assert_equal "$(fk_driver "${nics[1]}")" "$before1"
        [ -z "$(ls "$STATE" | grep '^group-')" ]
        ls "$CONF/conf.d/"*.conf >/dev/null
        run vc release --all
        assert_success
        assert_output 'nothing to do: no group is claimed'
        # disable --all also takes configured groups that are not claimed, and their entries
        run vc disable --all
        assert_success
        assert_line 'disable --all: 2 groups, 2 done, 0 failed'
        [ -z "$(ls "$CONF/conf.d/")" ]
}

@test "release and disable work from the state record when the configuration is invalid; disable --all refuses" {
        fake_root gpu-audio
        run vc enable 01:00.0
        assert_success
        printf '[device typo]\nmatch = 01:00\n' > "$CONF/conf.d/zz-typo.conf"
        before=$(cat "$CONF"/conf.d/*.conf | sha256sum)
        run vc disable --all
        assert_failure 3
        assert_output --partial "'vfio-claim release' gives a group back without reading the configuration"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        # disable DEVICE gives the group back and leaves the invalid configuration as it is
        run vc disable 01:00.0
        assert_success
        assert_output --partial "the configuration is invalid, so it was not changed"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        assert_equal "$(cat "$CONF"/conf.d/*.conf | sha256sum)" "$before"
        [ -z "$(ls "$STATE" | grep '^group-')" ]
        # release too
        mv "$CONF/conf.d/zz-typo.conf" "$BATS_TEST_TMPDIR/"
        run vc enable 01:00.0
        assert_success
        mv "$BATS_TEST_TMPDIR/zz-typo.conf" "$CONF/conf.d/"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
}

@test "an invalid configuration is read once: its errors print once, and every verb that needs it refuses" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/conf.d/gpu.conf"
        printf '[device typo]\nmatch = 01:00\n' > "$CONF/conf.d/zz-typo.conf"
        # release reads without it, then the DEVICE name needs it: one listing of the errors
        run vc release gpu
        assert_failure 3
        [ "$(grep -c '^conf.d/zz-typo.conf:2: ' <<<"$output")" = 1 ]
        assert_output --partial 'name the device by its address or group:N'
        run vc disable --all
        assert_failure 3
        assert_output --partial "'vfio-claim release' gives a group back without reading the configuration"
        run vc add win11 01:00.0
        assert_failure 3
        run vc export --format nova
        assert_failure 3
        run vc list
        assert_success
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "enable --boot and disable of a boot entry name this system's initramfs rebuild; enable alone does not" {
        fake_root gpu-audio
        mkdir -p "$ROOT/etc/initramfs-tools" "$ROOT/etc/systemd/system"
        run vc enable 01:00.0 --boot
        assert_success
        assert_line "the boot = yes entries changed: rebuild the initramfs, which carries a copy of the configuration: update-initramfs -u"
        assert_line "vfio-claim-early.service is not enabled: systemctl enable vfio-claim-early.service"
        run vc disable 01:00.0
        assert_success
        assert_line "the boot = yes entries changed: rebuild the initramfs, which carries a copy of the configuration: update-initramfs -u"
        refute_line --partial "vfio-claim-early.service"
        run vc enable 01:00.0
        assert_success
        refute_line --partial "initramfs"
        run vc disable 01:00.0
        assert_success
        refute_line --partial "initramfs"

        # A dracut system with the early unit enabled: dracut -f, and nothing about the unit.
        fake_root gpu-audio
        mkdir -p "$ROOT/usr/lib/dracut" "$ROOT/etc/systemd/system/sysinit.target.wants"
        ln -s /lib/systemd/system/vfio-claim-early.service "$ROOT/etc/systemd/system/sysinit.target.wants/"
        run vc enable 01:00.0 --boot --dry-run
        assert_success
        refute_line --partial "initramfs"
        run vc enable 01:00.0 --boot
        assert_success
        assert_line "the boot = yes entries changed: rebuild the initramfs, which carries a copy of the configuration: dracut -f"
        refute_line --partial "vfio-claim-early.service"
}

@test "enable --boot on an entry enable wrote with boot = no sets boot = yes; in a hand-written file the line is named" {
        fake_root gpu-audio
        mkdir -p "$ROOT/etc/initramfs-tools"
        run vc enable 01:00.0
        assert_success
        f="$CONF/conf.d/0000-01-00.0.conf"
        run vc enable 01:00.0 --boot
        assert_success
        assert_line "configuration: ${f#"$ROOT"}: boot = yes"
        assert_line --partial "rebuild the initramfs, which carries a copy of the configuration: update-initramfs -u"
        assert_equal "$(grep -c '^boot = yes$' "$f")" 2
        assert_equal "$(grep -c '^boot = no$' "$f")" 0
        run vc check-config
        assert_success
        run vc disable 01:00.0 # still the file enable wrote: removed whole
        assert_success
        [ ! -e "$f" ]

        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run vc enable gpu --boot
        assert_success
        assert_output --partial "vfio-claim.conf:1: [device gpu] says boot = no, and vfio-claim enable did not write this file as it is: set boot = yes in that section yourself, then rebuild the initramfs"
        ! grep -q boot "$CONF/vfio-claim.conf"
}

# enable --name: a name that cannot be written as the admin means is refused before anything moves.
@test "enable --name NAME where a [usb NAME] entry has the name: refused, no write" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[usb gpu]\nmatch = 046d:c52b\n' > "$CONF/conf.d/kbd.conf"
        run vc enable 0000:01:00.0 --name gpu
        assert_failure 2
        assert_output --partial "0000:01:00.0: its entry would be named gpu, which conf.d/kbd.conf:1 names already; choose another --name"
        assert_equal "$(fk_writes)" 0
        [ ! -e "$CONF/conf.d/gpu.conf" ]
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "enable --name NAME where the name it gives the group's other function is taken: refused, no write" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu-0000-01-00.1]\nmatch = 0000:00:17.0\n' > "$CONF/vfio-claim.conf"
        run vc enable 0000:01:00.0 --name gpu
        assert_failure 2
        assert_output --partial "0000:01:00.1: its entry would be named gpu-0000-01-00.1, which vfio-claim.conf:1 names already"
        assert_equal "$(fk_writes)" 0
}

@test "enable --name of a PCI bridge's address: refused, the device behind it is named" {
        fake_root gpu-audio
        run vc --yes enable 0000:00:01.0 --name gpu
        assert_failure 2
        assert_output --partial "0000:00:01.0 is a PCI bridge, which stays on its driver and gets no entry; name the device behind it"
        assert_equal "$(fk_writes)" 0
}

@test "enable --name .NAME: refused (conf.d/.NAME.conf would not be read)" {
        fake_root gpu-audio
        run vc --boot enable 0000:01:00.0 --name .gpu
        assert_failure 2
        assert_output --partial "not '.' first"
        assert_equal "$(fk_writes)" 0
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls -A "$CONF/conf.d")" ]
}

@test "enable of a USB port with --name: a usage error, not ignored" {
        fake_root two-xhci
        run vc --force enable 3-2 --name kbd
        assert_failure 2
        assert_output --partial "3-2 is a USB device; enable writes no entry for one"
        [ ! -e "$STATE/usb-3-2" ]
}
