#!/usr/bin/env bats
# PCI expansion ROMs (issue 12 item 2): `vfio-claim rom DEVICE FILE` reads a ROM through the
# sysfs "rom" attribute, which the fake kernel models as Linux does (reads fail with EINVAL until
# a write enables them, "0\n" disables them again, an image without 0x55AA fails with EIO);
# `add --rom/--rombar` write <rom>; `doctor VM` checks every <rom file=...> as QEMU's user would
# open it. libvirt's test driver holds the domains (see vm-edit.bats).

bats_require_minimum_version 1.5.0
load helpers

node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        { echo "<node>"; printf '%s\n' "$@"; echo "</node>"; } > "$NODE"
        URI="test://$NODE"
}
# q35 NAME [DEVICES XML]: a defined, shut off q35 domain with OVMF.
q35() {
        cat <<EOX
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>$1</name>
  <memory>1048576</memory>
  <os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>${2:-}<video><model type='none'/></video></devices>
  <test:runstate>5</test:runstate>
</domain>
EOX
}
hostdev() { # hostdev FUNCTION [ROM XML]
        echo "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='$1'/></source>${2:-}</hostdev>"
}
gpu_hostdevs() { # [ROM XML of the GPU]
        echo "$(hostdev 0x0 "${1:-}")$(hostdev 0x1)"
}
vm() {
        vc --config "$CONF" --connect "$URI" "$@"
}
validate() {
        command -v virt-xml-validate >/dev/null || skip "virt-xml-validate (libvirt-clients) is not installed"
        run virt-xml-validate "$1" domain
        assert_success
}
ROMATTR=sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/rom

setup() {
        fake_root gpu-audio
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 10de:2204\n' > "$CONF/vfio-claim.conf"
        OUT="$BATS_TEST_TMPDIR/out"
        mkdir -p "$OUT"
}

@test "the fake kernel's rom attribute: reads fail until enabled, '0\\n' disables, any other write enables" {
        run -1 fk_host cat /sys/bus/pci/devices/0000:01:00.0/rom
        assert_output --partial "Invalid argument"
        fk_sh "printf 1 > $ROOT/$ROMATTR"
        fk_host cat /sys/bus/pci/devices/0000:01:00.0/rom > "$OUT/read"
        assert_equal "$(od -An -tx1 -N4 "$OUT/read")" " 55 aa 40 00"
        fk_sh "printf 0 > $ROOT/$ROMATTR" # one byte: pci_write_rom() enables
        run -0 fk_host cat /sys/bus/pci/devices/0000:01:00.0/rom
        fk_sh "printf '0\n' > $ROOT/$ROMATTR"
        run -1 fk_host cat /sys/bus/pci/devices/0000:01:00.0/rom
        # an image without the signature: the kernel finds no ROM (EIO)
        printf '\xff\xff\x00\x00' > "$ROOT/$ROMATTR"
        fk_sh "printf 1 > $ROOT/$ROMATTR"
        run -1 fk_host cat /sys/bus/pci/devices/0000:01:00.0/rom
        assert_output --partial "Input/output error"
        assert_equal "$(stat -c %a "$ROOT/$ROMATTR")" 600
        [ ! -e "$ROOT/sys/bus/pci/devices/0000:01:00.1/rom" ] # no ROM BAR, no attribute
}

@test "rom: a good ROM is saved whole, reading enabled then disabled; an existing file needs --force" {
        run --separate-stderr vc rom 0000:01:00.0 "$OUT/gpu.rom"
        assert_success
        assert_equal "$stderr" ""
        assert_output "0000:01:00.0: ROM of 13 bytes saved to $OUT/gpu.rom"
        assert_equal "$(od -An -tx1 "$OUT/gpu.rom" | tr -d ' \n')" 55aa4000e9000000564944454f
        assert_equal "$(stat -c %a "$OUT/gpu.rom")" 644
        assert_equal "$(fk_writes)" 2
        run grep -c "$ROMATTR" "$ROOT/.fakekernel/writes.log"
        assert_output 2
        assert_equal "$(cut -f2 "$ROOT/.fakekernel/writes.log" | tr '\n' ' ')" '1 0\n '
        [ ! -e "$ROOT/.fakekernel/romon/0000:01:00.0" ] # disabled again
        ls -A "$OUT" | grep -q '^\.' && fail "a temporary file was left: $(ls -A "$OUT")"

        echo keep > "$OUT/gpu.rom"
        run --separate-stderr vc rom 01:00.0 "$OUT/gpu.rom"
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: $OUT/gpu.rom exists; give --force to replace it"
        assert_equal "$(cat "$OUT/gpu.rom")" keep
        run --separate-stderr vc --force rom 01:00.0 "$OUT/gpu.rom"
        assert_success
        assert_equal "$(od -An -tx1 -N2 "$OUT/gpu.rom" | tr -d ' \n')" 55aa

        run --separate-stderr vc --json rom 01:00.0 "$OUT/again.rom"
        assert_success
        assert_equal "$(echo "$output" | jq -c .)" "{\"device\":\"0000:01:00.0\",\"file\":\"$OUT/again.rom\",\"size\":13}"
}

@test "rom: a ROM without the 0x55AA signature is reported and not written; a function without a ROM BAR" {
        printf '\x00\x00\x40\x00' > "$ROOT/$ROMATTR"
        run --separate-stderr vc rom 0000:01:00.0 "$OUT/bad.rom"
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 0000:01:00.0: the kernel found no valid ROM image: it reads a ROM only when the image starts with the signature 0x55AA ('dmesg' says what it found); nothing written to $OUT/bad.rom"
        [ ! -e "$OUT/bad.rom" ]
        assert_equal "$(ls -A "$OUT")" ""
        [ ! -e "$ROOT/.fakekernel/romon/0000:01:00.0" ] # disabled after the failed read

        run --separate-stderr vc rom 0000:01:00.1 "$OUT/audio.rom"
        assert_failure 1
        assert_equal "$stderr" 'vfio-claim: 0000:01:00.1 has no expansion ROM (no "rom" attribute: the device has no ROM BAR)'
        run --separate-stderr vc --config "$CONF" rom gpu "$OUT/audio.rom"
        assert_failure 2
        assert_equal "$stderr" "vfio-claim: rom: give the PCI address of one function (such as 0000:01:00.0), not gpu"
        assert_equal "$(fk_writes)" 2
}

@test "rom: refused with exit 4 while a VM holds the device's group; nothing is written to sysfs" {
        mkdir -p "$STATE"
        printf 'group 1\nowner win11\nsince 1763771234\nstate claimed\ndevice 0000:01:00.0 driver=nouveau module=nouveau override=none\ndevice 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none\n' > "$STATE/group-1"
        run --separate-stderr vc rom 0000:01:00.0 "$OUT/gpu.rom"
        assert_failure 4
        assert_equal "$stderr" 'vfio-claim: 0000:01:00.0: IOMMU group 1 is held by VM "win11"; its ROM is read only while no VM uses the device: shut the VM down first'
        [ ! -e "$OUT/gpu.rom" ]
        assert_equal "$(fk_writes)" 0
}

@test "rom of an address reads only its group: a device elsewhere that cannot be read does not stop it; add names it" {
        # the AHCI controller's group link names no group: reading every device fails on it
        ln -sfn ../../../kernel/iommu_groups/x "$(readlink -f "$(fk_dev 0000:00:17.0)")/iommu_group"
        run --separate-stderr vc list
        assert_failure
        run --separate-stderr vc rom 0000:01:00.0 "$OUT/gpu.rom"
        assert_success
        assert_output "0000:01:00.0: ROM of 13 bytes saved to $OUT/gpu.rom"
        # add reads every device (the domain's MMIO need counts every group it holds)
        node "$(q35 gaming)"
        run --separate-stderr vm --rom "$OUT/gpu.rom" add gaming 0000:01:00.0
        assert_failure 1
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
}

@test "add --rom and --rombar off write <rom> on the GPU; a file that is no ROM is refused; each definition validates" {
        vc rom 0000:01:00.0 "$OUT/gpu.rom"
        node "$(q35 gaming)"
        run --separate-stderr vm --json --rom "$OUT/gpu.rom" add gaming 0000:01:00.0
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/rom.xml"
        validate "$BATS_TEST_TMPDIR/rom.xml"
        assert_equal "$(xmllint --xpath "string(//hostdev[source/address/@function='0x0']/rom/@file)" "$BATS_TEST_TMPDIR/rom.xml")" "$OUT/gpu.rom"
        assert_equal "$(xmllint --xpath "count(//rom)" "$BATS_TEST_TMPDIR/rom.xml")" 1

        # the group already in the VM: only the <rom> changes
        node "$(q35 gaming "$(gpu_hostdevs "<rom bar='on'/>")")"
        run --separate-stderr vm --rom "$OUT/gpu.rom" --rombar off add gaming 0000:01:00.0
        assert_success
        assert_line --index 0 "VM gaming already has every endpoint of IOMMU group 1."
        assert_line "VM gaming: 0000:01:00.0 gets <rom bar='off' file='$OUT/gpu.rom'/>"

        # by group: the display controller gets it; --rombar alone
        node "$(q35 gaming)"
        run --separate-stderr vm --json --rombar off add gaming group:1
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/bar.xml"
        validate "$BATS_TEST_TMPDIR/bar.xml"
        assert_equal "$(xmllint --xpath "string(//hostdev[source/address/@function='0x0']/rom/@bar)" "$BATS_TEST_TMPDIR/bar.xml")" off
        assert_equal "$(xmllint --xpath "count(//rom)" "$BATS_TEST_TMPDIR/bar.xml")" 1
        assert_equal "$(xmllint --xpath "count(//rom/@file)" "$BATS_TEST_TMPDIR/bar.xml")" 0

        printf 'MZ\x90\x00' > "$OUT/not.rom"
        run --separate-stderr vm --rom "$OUT/not.rom" add gaming 0000:01:00.0
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: --rom $OUT/not.rom: does not start with the PCI expansion ROM signature 0x55AA, not a ROM image; nothing was changed"
        run --separate-stderr vm --rom relative.rom add gaming 0000:01:00.0
        assert_failure 2
        assert_equal "$stderr" 'vfio-claim: --rom: "relative.rom" is not an absolute path'
        run --separate-stderr vm --rombar maybe add gaming 0000:01:00.0
        assert_failure 2
        run --separate-stderr vm --rom "$OUT/gpu.rom" remove gaming 0000:01:00.0
        assert_failure 2
}

teardown() {
        [ -z "${ROMS:-}" ] || rm -rf "$ROMS"
        fk_teardown
}

# doctor_rom VM: the vm-rom findings, "level: finding".
doctor_rom() {
        vm --json doctor "$1" | jq -r '.findings[] | select(.check == "vm-rom") | .level + ": " + .finding'
}

@test "doctor VM: each <rom file> must exist, hold 0x55AA and be readable by QEMU's user (qemu.conf, mode bits of the file and every directory)" {
        mkdir -p "$ROOT/etc/libvirt"
        # ROM files where "others" may search every directory above (bats' own temporary
        # directory is private): a directory of our own under /tmp, removed in teardown
        # (not below the top directory of the state directory, which the fake kernel serves
        # from its tree: /tmp itself when the build's prefix is under /tmp, as in a distcheck of
        # a clone there; nor of one the fake root has)
        local base d rs=${VC_RUNSTATEDIR:-/run}
        rs=${rs#/}
        for base in /tmp /var/tmp /dev/shm ''; do
                [ -n "$base" ] || skip "no world-searchable temporary directory outside the fake root"
                d=${base#/}
                [ "${d%%/*}" = "${rs%%/*}" ] || [ -e "$ROOT/${d%%/*}" ] || break
        done
        ROMS=$(mktemp -d "$base/vc-rom-test.XXXXXX")
        chmod 755 "$ROMS"
        mkdir -p "$ROMS/private"
        printf '# libvirt qemu.conf\n#user = "root"\nuser = "+64055"\ngroup = "+64055"\n' > "$ROOT/etc/libvirt/qemu.conf"
        good="$ROMS/good.rom"
        printf '\x55\xaa\x40\x00' > "$good"
        chmod 644 "$good"
        node "$(q35 gaming "$(gpu_hostdevs "<rom file='$good'/>")")"
        run doctor_rom gaming
        assert_output "ok: VM gaming: ROM file $good starts with 0x55AA and is readable by +64055"

        chmod 600 "$good"
        run doctor_rom gaming
        assert_output "fail: VM gaming: ROM file $good is not readable by +64055:+64055 (user = in /etc/libvirt/qemu.conf), the user QEMU runs as: the file's mode does not let it read"
        chown 64055 "$good"
        run doctor_rom gaming
        assert_output --partial "ok: "
        chown 0:64055 "$good"
        chmod 640 "$good"
        run doctor_rom gaming
        assert_output --partial "ok: "

        hidden="$ROMS/private/gpu.rom"
        cp "$good" "$hidden"
        chmod 644 "$hidden"
        chmod 700 "$ROMS/private"
        node "$(q35 gaming "$(gpu_hostdevs "<rom file='$hidden'/>")")"
        run doctor_rom gaming
        assert_output "fail: VM gaming: ROM file $hidden is not readable by +64055:+64055 (user = in /etc/libvirt/qemu.conf), the user QEMU runs as: it cannot enter $ROMS/private"
        vm --json doctor gaming > "$OUT/doctor.json" || true
        run jq -r '.findings[] | select(.check == "vm-rom") | .fix' "$OUT/doctor.json"
        assert_output "chmod o+r $hidden (and o+x on every directory above it), or keep ROM files in a directory QEMU can read such as /usr/share/vgabios"

        printf '\x00\x00\x40\x00' > "$ROMS/bad.rom"
        node "$(q35 gaming "$(gpu_hostdevs "<rom bar='on' file='$ROMS/bad.rom'/>")")"
        run doctor_rom gaming
        assert_output "fail: VM gaming: ROM file $ROMS/bad.rom does not start with the PCI expansion ROM signature 0x55AA: it is not a ROM image, and the guest's firmware ignores it"

        node "$(q35 gaming "$(gpu_hostdevs "<rom file='$ROMS/missing.rom'/>")")"
        run doctor_rom gaming
        assert_output "fail: VM gaming: ROM file $ROMS/missing.rom does not exist: QEMU fails to start the VM"
        run vm doctor gaming
        assert_failure

        # no <rom file>: no finding at all
        node "$(q35 gaming "$(gpu_hostdevs "<rom bar='off'/>")")"
        run doctor_rom gaming
        assert_output ""
}

@test "doctor VM: without a user in qemu.conf, Debian's libvirt-qemu is QEMU's user" {
        printf '\x55\xaa' > "$OUT/gpu.rom"
        node "$(q35 gaming "$(gpu_hostdevs "<rom file='$OUT/gpu.rom'/>")")"
        run doctor_rom gaming
        if getent passwd libvirt-qemu >/dev/null; then
                assert_output --partial "libvirt-qemu"
        else
                assert_output "warn: VM gaming: ROM file $OUT/gpu.rom: cannot tell whether QEMU's user libvirt-qemu (libvirt's default on Debian; /etc/libvirt/qemu.conf sets no user) can read it: no such user or group on this host"
        fi
}
