#!/usr/bin/env bats
# The writing verbs on the fake kernel: enable, disable, apply, release, status. Every test
# asserts what an admin would check afterwards: drivers, overrides, /dev/vfio/N, the state
# records, the configuration, the exit code and the message, and the write log.

load helpers

snapshot() { # drivers and overrides of every device, one line each
        local d
        for d in "$ROOT"/sys/bus/pci/devices/*; do
                echo "${d##*/} $(fk_driver "${d##*/}") $(fk_override "${d##*/}")"
        done
}

@test "enable: the GPU's whole group moves to vfio-pci, the plan is printed first, the config is written" {
        fake_root gpu-audio
        run vc enable 0000:01:00.0
        assert_success
        assert_line --index 0 'claim IOMMU group 1:'
        assert_line '  0000:00:01.0  bridge: left alone'
        assert_line '  0000:01:00.0  unbind from nouveau, bind to vfio-pci'
        assert_line '  0000:01:00.1  unbind from snd_hda_intel, bind to vfio-pci'
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
        assert_equal "$(fk_driver 0000:00:01.0)" pcieport
        [ -e "$ROOT/dev/vfio/1" ]
        grep -qx 'match = 0000:01:00.0' "$CONF/conf.d/0000-01-00.0.conf"
        grep -qx 'match = 0000:01:00.1' "$CONF/conf.d/0000-01-00.0.conf"
        grep -qx 'id = 10de:2204' "$CONF/conf.d/0000-01-00.0.conf"
        grep -qx 'boot = no' "$CONF/conf.d/0000-01-00.0.conf"
        run vc check-config
        assert_success
        run vc --json status
        assert_success
        assert_equal "$(echo "$output" | jq -r '.groups[0] | "\(.group) \(.state) \(.claimed) \(.owner) \(.by)"')" \
                "1 claimed true null vfio-claim enable"
        assert_equal "$(echo "$output" | jq -r '[.groups[0].devices[] | "\(.address)=\(.original_driver)"] | join(" ")')" \
                "0000:01:00.0=nouveau 0000:01:00.1=snd_hda_intel"
}

@test "enable and release of an address or group:N read only that group: a device elsewhere that cannot be read stops neither" {
        fake_root gpu-audio
        before=$(snapshot)
        # the AHCI controller's group link names no group: reading every device fails on it
        ln -sfn ../../../kernel/iommu_groups/x "$(readlink -f "$(fk_dev 0000:00:17.0)")/iommu_group"
        run --separate-stderr vc list
        assert_failure
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
        run vc enable 0000:01:00.0
        assert_success
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
        run vc release group:1
        assert_success
        assert_line 'IOMMU group 1: given back to the host drivers'
        run vc enable 01:00.1
        assert_success
        run vc release 01:00.0
        assert_success
        assert_equal "$(snapshot)" "$before"
        # a name reads every device (an entry may match ids anywhere): the failure is said
        run --separate-stderr vc enable 0000-01-00.0
        assert_failure
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
        assert_equal "$(snapshot)" "$before"
        # no such device, a device with no group, no such group: the messages of a read of all
        ln -sfn ../../../kernel/iommu_groups/2 "$(readlink -f "$(fk_dev 0000:00:17.0)")/iommu_group"
        rm "$(readlink -f "$(fk_dev 0000:02:00.0)")/iommu_group"
        run --separate-stderr vc enable 0000:09:00.0
        assert_failure
        assert_equal "$stderr" "vfio-claim: 0000:09:00.0: no such PCI device"
        run --separate-stderr vc release 0000:02:00.0
        assert_failure
        assert_equal "$stderr" "vfio-claim: 0000:02:00.0: the device has no IOMMU group (is the IOMMU enabled? see 'vfio-claim doctor')"
        run --separate-stderr vc enable group:9
        assert_failure
        assert_equal "$stderr" "vfio-claim: group:9: no IOMMU group 9 on this host"
        assert_equal "$(snapshot)" "$before"
}

@test "enable --boot writes boot = yes; apply afterwards has nothing to do" {
        fake_root gpu-audio
        run vc enable 01:00.1 --boot
        assert_success
        grep -qx 'boot = yes' "$CONF/conf.d/0000-01-00.1.conf"
        before=$(fk_writes)
        run vc apply
        assert_success
        assert_output 'nothing to do: every group with a boot = yes device is claimed'
        assert_equal "$(fk_writes)" "$before"
}

@test "apply: a boot = yes entry that selects no device present is said so, not called claimed" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gone]\nmatch = 0000:07:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        before=$(fk_writes)
        run vc apply
        assert_success
        assert_output "nothing to do: no device present is one a boot = yes entry of ${VC_SYSCONFDIR:-/etc}/vfio-claim selects"
        assert_equal "$(fk_writes)" "$before"
}

@test "round trip: release gives GPU and audio back to nouveau and snd_hda_intel, overrides cleared" {
        fake_root gpu-audio
        before=$(snapshot)
        run vc enable 01:00.0
        assert_success
        run vc release 01:00.0
        assert_success
        assert_line 'IOMMU group 1: given back to the host drivers'
        assert_equal "$(snapshot)" "$before"
        [ ! -e "$ROOT/dev/vfio/1" ]
        [ ! -e "$STATE/group-1" ]
        run vc status
        assert_output 'no group is claimed by vfio-claim'
}

@test "release: a recorded driver whose module is gone fails with a hint; --force takes the device off vfio-pci all the same" {
        fake_root gpu-audio
        run vc enable 01:00.0
        assert_success
        # nouveau's module is gone since the claim (uninstalled, or a kernel without it), and
        # vfio-pci.ids= names the GPU: the probe gives it to vfio-pci, which must not keep it
        sed -i 's/^driver nouveau nouveau loaded/driver nouveau nouveau unloaded/
                s/^driver vfio-pci vfio_pci loaded -/driver vfio-pci vfio_pci loaded 10de:2204/' "$ROOT/.fakekernel/model"
        rm -rf "$ROOT/sys/bus/pci/drivers/nouveau" "$ROOT/sys/module/nouveau"
        fk_fail 'modprobe:nouveau ENOENT'
        run --separate-stderr vc release 01:00.0
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 0000:01:00.0: failed to load module nouveau: No such file or directory
vfio-claim: use --force to give the group back all the same: a device whose driver cannot be loaded leaves vfio-pci for whichever loaded driver the kernel picks"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        [ -e "$STATE/group-1" ]

        run --separate-stderr vc release --force 01:00.0
        assert_success
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 was given back, but 0000:01:00.0 is not on its driver nouveau again: nouveau cannot be loaded (No such file or directory), so it went to whichever loaded driver the kernel picks"
        assert_line '  0000:01:00.0  now unbound'
        assert_line '  0000:01:00.1  now snd_hda_intel'
        assert_equal "$(fk_driver 0000:01:00.0)" ""
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override")" "(null)"
        [ ! -e "$ROOT/dev/vfio/1" ]
        [ ! -e "$STATE/group-1" ]
}

@test "a group behind a PCIe-to-PCI bridge: three NICs move, the bridge is never touched" {
        fake_root nics-bridge
        before=$(snapshot)
        run vc enable 02:01.0 --yes  # other slots of the group: consent (consent.bats)
        assert_success
        assert_line '  0000:01:00.0  bridge: left alone'
        for a in 0000:02:00.0 0000:02:01.0 0000:02:02.0; do
                assert_equal "$(fk_driver $a)" vfio-pci
        done
        assert_equal "$(fk_driver 0000:01:00.0)" ""
        assert_equal "$(fk_override 0000:01:00.0)" ""
        ! grep -q 'devices/0000:01:00.0/' "$ROOT/.fakekernel/writes.log"
        run vc disable 02:01.0
        assert_success
        assert_equal "$(snapshot)" "$before"
        [ ! -e "$CONF/conf.d/0000-02-01.0.conf" ]
}

@test "already claimed: enable again changes nothing and says so" {
        fake_root gpu-audio
        vc enable 01:00.0
        before=$(fk_writes)
        run vc enable 01:00.0
        assert_success
        assert_line '  0000:01:00.0  already on vfio-pci'
        assert_line 'IOMMU group 1: already claimed'
        assert_equal "$(fk_writes)" "$before"
}

# A give-back killed after it wrote the host driver's name into driver_override and before the
# unbind leaves the device on vfio-pci with an override that sends it to the host at its next
# probe (tests/stress/seqs/claim-after-killed-release-keeps-host-override.seq). A claim that finds
# the group on vfio-pci puts the override back; nothing else is written.
@test "already on vfio-pci with a host driver's override (a killed release): enable puts vfio-pci back" {
        fake_root gpu-audio
        vc enable 01:00.0
        fk_sh "echo nouveau > '$(fk_dev 0000:01:00.0)/driver_override'"
        before=$(fk_writes)
        run vc enable 01:00.0
        assert_success
        assert_output --partial '0000:01:00.0'
        assert_equal "$(fk_override 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_override 0000:01:00.1)" vfio-pci
        assert_equal "$(fk_writes)" "$((before + 1))"
        grep -qx 'state claimed' "$STATE/group-1"
        # and the next probe keeps it on vfio-pci
        fk_sh "echo 0000:01:00.0 > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'; echo 0000:01:00.0 > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
}

# A give-back of a boot claim (host=probe) clears driver_override before its unbind; killed in
# between, it leaves the device on vfio-pci with no override and a "releasing" record, and the
# kernel's next probe of it picks a host driver
# (tests/stress/seqs/prepare-after-killed-give-back-keeps-empty-override.seq). A claim that finds
# the group so sets the override; a claim of a group with no record and no VM writes nothing.
@test "already on vfio-pci with no override under a pending record (a killed give-back): enable sets vfio-pci" {
        fake_root gpu-audio
        vc enable 01:00.0
        fk_sh "echo > '$(fk_dev 0000:01:00.0)/driver_override'"
        sed -i 's/^state claimed$/state releasing/' "$STATE/group-1"
        before=$(fk_writes)
        run vc enable 01:00.0
        assert_success
        assert_line '  0000:01:00.0  on vfio-pci, its empty driver_override set to vfio-pci'
        assert_line '  0000:01:00.1  already on vfio-pci'
        assert_equal "$(fk_override 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_writes)" "$((before + 1))"
        grep -qx 'state claimed' "$STATE/group-1"
        grep -qx 'device 0000:01:00.0 driver=nouveau module=nouveau override=none' "$STATE/group-1"
        fk_sh "echo 0000:01:00.0 > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'; echo 0000:01:00.0 > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        # and the release gives back what the record says
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_override 0000:01:00.0)" ''
}

@test "a group another tool put on vfio-pci, no override: enable writes nothing and keeps no record" {
        fake_root gpu-audio
        vc enable 01:00.0
        rm "$STATE/group-1"
        fk_sh "echo > '$(fk_dev 0000:01:00.0)/driver_override'; echo > '$(fk_dev 0000:01:00.1)/driver_override'"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_override 0000:01:00.0)" 'vfio-pci '
        before=$(fk_writes)
        run vc enable 01:00.0
        assert_success
        assert_line '  0000:01:00.0  already on vfio-pci'
        assert_equal "$(fk_writes)" "$before"
        assert_equal "$(fk_override 0000:01:00.0)" ''
        [ ! -e "$STATE/group-1" ]
}

@test "--dry-run prints exactly the writes and makes none" {
        fake_root gpu-audio
        run vc --dry-run enable 01:00.0
        assert_success
        assert_line '  write /sys/bus/pci/devices/0000:01:00.0/driver_override <- "vfio-pci"'
        assert_line '  write /sys/bus/pci/drivers/nouveau/unbind <- "0000:01:00.0"'
        assert_line '  write /sys/bus/pci/drivers_probe <- "0000:01:00.0"'
        assert_line '  write /sys/bus/pci/drivers/snd_hda_intel/unbind <- "0000:01:00.1"'
        assert_equal "$(fk_writes)" 0
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
        [ ! -e "$STATE/group-1" ]
        # The printed writes are the ones the real run makes, in order.
        planned=$(echo "$output" | sed -n 's|^  write /\(.*\) <- "\(.*\)"$|\1\t\2|p')
        vc enable 01:00.0
        # The log names the canonical path; the plan the one under /sys/bus/pci/devices.
        made=$(cut -f1,2 "$ROOT/.fakekernel/writes.log" | grep -v '^modprobe:' |
                sed 's|^sys/devices/.*/\(0000:[^/]*\)/driver_override|sys/bus/pci/devices/\1/driver_override|')
        assert_equal "$made" "$planned"
        for verb in "release 01:00.0" "disable 01:00.0"; do
                n=$(fk_writes)
                run vc --dry-run $verb
                assert_success
                assert_equal "$(fk_writes)" "$n"
        done
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
}

@test "protect: the default-route NIC's group is refused with exit 4 and nothing written; --force overrides" {
        fake_root lone-nic
        nic=$(basename "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device)")")
        default_route_nic "$nic"
        run vc list
        assert_line --regexp "^[0-9]+ +$nic .* critical "
        run vc enable "$nic"
        assert_failure 4
        assert_output --partial "$nic: refused: NIC of the default route (eth0)"
        assert_output --partial 'use --force'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver "$nic")" e1000e
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls "$CONF/conf.d")" ]
        run vc --force enable "$nic"
        assert_success
        assert_equal "$(fk_driver "$nic")" vfio-pci
}

# An admin logged in over SSH through a NIC that carries no default route (a management subnet):
# an sshd among the CLI's ancestors (sudo between them) holds the session's socket, whose peer's
# route names the interface. Taking that NIC would cut the session the command runs in.
@test "protect: the NIC of the SSH session the CLI runs in is refused (exit 4); the hook does not look" {
        fake_root lone-nic
        nic=$(basename "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device)")")
        mkdir -p "$ROOT/proc/self" "$ROOT/proc/890" "$ROOT/proc/805/fd" "$ROOT/proc/net" "$ROOT/sys/class/net/eno2"
        echo "900 (vfio-claim) R 890 900 800 34816 900 4194560 0 0 0 0" > "$ROOT/proc/self/stat"
        echo "890 (sudo) S 805 890 800 34816 900 4194560 0 0 0 0" > "$ROOT/proc/890/stat"
        echo sudo > "$ROOT/proc/890/comm"
        echo "805 (sshd) S 1 805 805 0 -1 4194560 0 0 0 0" > "$ROOT/proc/805/stat"
        echo sshd > "$ROOT/proc/805/comm"
        ln -s 'socket:[4711]' "$ROOT/proc/805/fd/3"
        printf '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0500000A:0016 0900000A:D2F4 01 00000000:00000000 02:0000A1B2 00000000     0        0 4711 4\n' \
                > "$ROOT/proc/net/tcp"
        printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neno2\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' \
                > "$ROOT/proc/net/route"
        ln -sr "$(readlink -f "$ROOT/sys/bus/pci/devices/$nic")" "$ROOT/sys/class/net/eno2/device"
        run vc enable "$nic"
        assert_failure 4
        assert_output --partial "$nic: refused: NIC of the SSH session this command runs in (eno2, from 10.0.0.9)"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver "$nic")" e1000e
        # a VM's start is no admin's session: the hook claims it
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device nic]\nmatch = %s\n' "$nic" > "$CONF/vfio-claim.conf"
        IFS=: read -r _ bus slotfn <<< "$nic"
        echo "<domain type='kvm'><name>vm3</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x$bus' slot='0x${slotfn%.*}' function='0x${slotfn#*.}'/></source></hostdev></devices></domain>" > "$BATS_TEST_TMPDIR/vm3.xml"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/vm3.xml" vm3 prepare begin
        assert_success
        assert_equal "$(fk_driver "$nic")" vfio-pci
}

# An admin at the machine, on tty2 (sudo in between, on its own pseudo-terminal), whose only
# keyboard is on the chipset's xHCI: enabling the xHCI would leave the console without a keyboard.
@test "protect: the controller of the last keyboard of the console the CLI runs on is refused (exit 4); --force and the hook go on" {
        fake_root usb-desk
        keyboard_below 0000:00:14.0 3-2/3-2:1.0/0003:046D:C31C.0001/input input5 "Logitech USB Keyboard"
        session_on_tty 1026
        run vc --yes enable 0000:00:14.0
        assert_failure 4
        assert_output --partial "0000:00:14.0: refused: controller of the keyboard of the console this command runs on (tty2: Logitech USB Keyboard)"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:00:14.0)" xhci_hcd
        # over SSH (the shell on a pseudo-terminal) nobody types on it
        session_on_tty 34817
        run vc --yes --dry-run enable 0000:00:14.0
        assert_success
        session_on_tty 1026
        run vc --yes --force enable 0000:00:14.0
        assert_success
        assert_equal "$(fk_driver 0000:00:14.0)" vfio-pci
        run vc release 0000:00:14.0
        assert_success
        # a VM's start is no admin at the console: the hook claims it
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device usb]\nmatch = 0000:00:14.0\n' > "$CONF/vfio-claim.conf"
        echo "<domain type='kvm'><name>vm3</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x00' slot='0x14' function='0x0'/></source></hostdev></devices></domain>" > "$BATS_TEST_TMPDIR/vm3.xml"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/vm3.xml" vm3 prepare begin
        assert_success
        assert_equal "$(fk_driver 0000:00:14.0)" vfio-pci
}

# The console's two keyboards on two controllers in two IOMMU groups (the chipset's xHCI and the
# Thunderbolt one): either controller may go, not both, whether one command claims them or two do.
@test "protect: one command that would take the controllers of all the console's keyboards, each in its own group, is refused (exit 4)" {
        fake_root two-xhci
        keyboard_below 0000:00:14.0 3-2/3-2:1.0/0003:046D:C31C.0001/input input5 "Logitech USB Keyboard"
        keyboard_below 0000:00:0d.0 1-1/1-1:1.0/0003:04D9:1702.0002/input input6 "Holtek USB Keyboard" 1
        session_on_tty 1026
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device usbctl]\nmatch = 0000:00:14.0\nmatch = 0000:00:0d.0\n' > "$CONF/vfio-claim.conf"
        run vc --config "$CONF" --yes enable usbctl
        assert_failure 4
        assert_output --partial "0000:00:0d.0: refused: controller of the keyboard of the console this command runs on (tty2: Holtek USB Keyboard), the last one: this command takes the others' too"
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:0d.0)" "xhci_hcd xhci_hcd"
        assert_equal "$(ls "$STATE" 2>/dev/null | grep -c '^group-')" 0
        run vc --config "$CONF" --yes --dry-run enable usbctl
        assert_failure 4
        # two boot = yes entries, one apply
        printf '[device a]\nmatch = 0000:00:14.0\nboot = yes\n\n[device b]\nmatch = 0000:00:0d.0\nboot = yes\n' \
                > "$CONF/vfio-claim.conf"
        run vc --config "$CONF" --yes apply
        assert_failure 4
        assert_output --partial "0000:00:0d.0: refused: controller of the keyboard of the console this command runs on (tty2: Holtek USB Keyboard), the last one: this command takes the others' too"
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:0d.0)" "xhci_hcd xhci_hcd"
        # one of them goes: the other keyboard stays
        run vc --yes enable 0000:00:14.0
        assert_success
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:0d.0)" "vfio-pci xhci_hcd"
        # (Linux drops the keyboard with its controller's driver) then the other is the last
        rm "$ROOT/sys/class/input/input5"
        run vc --yes enable 0000:00:0d.0
        assert_failure 4
        assert_output --partial "0000:00:0d.0: refused: controller of the keyboard of the console this command runs on (tty2: Holtek USB Keyboard)"
        # --force takes both at once
        run vc release 0000:00:14.0
        assert_success
        keyboard_below 0000:00:14.0 3-2/3-2:1.0/0003:046D:C31C.0001/input input5 "Logitech USB Keyboard"
        run vc --config "$CONF" --yes --force apply
        assert_success
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:0d.0)" "vfio-pci vfio-pci"
}

# nvme_partition PART: the partition PART (nvme0n1pN) of the NVMe disk 0000:02:00.0 (gpu-audio),
# device number 259:N, with its sys/class/block and sys/dev/block links
nvme_partition() {
        local blk n=${1#nvme0n1p}
        blk=$(readlink -f "$ROOT/sys/bus/pci/devices/0000:02:00.0")/nvme/nvme0/nvme0n1/$1
        mkdir -p "$blk" "$ROOT/sys/class/block" "$ROOT/sys/dev/block"
        echo "$n" > "$blk/partition"
        echo "259:$n" > "$blk/dev"
        printf 'MAJOR=259\nMINOR=%s\nDEVNAME=%s\nDEVTYPE=partition\nPARTN=%s\n' "$n" "$1" "$n" > "$blk/uevent"
        ln -sfn "$(realpath --relative-to="$blk" "$ROOT/sys/class/block")" "$blk/subsystem"
        ln -sfn "$(realpath --relative-to="$ROOT/sys/class/block" "$blk")" "$ROOT/sys/class/block/$1"
        ln -sfn "$(realpath --relative-to="$ROOT/sys/dev/block" "$blk")" "$ROOT/sys/dev/block/259:$n"
}

# zfs_member PART POOL: nvme_partition PART is a member of ZFS pool POOL, as udev's blkid builtin
# records it in its database
zfs_member() {
        nvme_partition "$1"
        mkdir -p "$ROOT/run/udev/data"
        printf 'E:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=%s\n' "$2" > "$ROOT/run/udev/data/b259:${1#nvme0n1p}"
}

# A ZFS root (Proxmox's default): the source is a dataset and the device number anonymous, so
# neither leads to a disk; the pool's members are the partitions udev tags with its name.
@test "protect: the NVMe disk of a ZFS root pool is refused, one of an imported pool too; of an exported pool it is not" {
        fake_root gpu-audio
        zfs_member nvme0n1p3 rpool
        # a zvol of the pool, tagged as udev would tag a nested pool's member: it hangs under no
        # PCI device, so it is not asked about, and protects nothing
        mkdir -p "$ROOT/sys/devices/virtual/block/zd0" "$ROOT/proc/self"
        ln -sfn ../../devices/virtual/block/zd0 "$ROOT/sys/class/block/zd0"
        printf 'E:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=rpool\n' > "$ROOT/run/udev/data/b230:0"
        echo "26 1 0:25 / / rw,relatime shared:1 - zfs rpool/ROOT/pve-1 rw,xattr,noacl" > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "0000:02:00.0: refused: controller of the root filesystem rpool/ROOT/pve-1"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:02:00.0)" nvme
        run vc list
        assert_line --regexp "^[0-9]+ +0000:02:00.0 .* critical "
        # the same disk in a pool imported with nothing of it mounted (only zvols): in use by it
        printf 'E:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=tank\n' > "$ROOT/run/udev/data/b259:3"
        mkdir -p "$ROOT/proc/spl/kstat/zfs/tank"
        echo ONLINE > "$ROOT/proc/spl/kstat/zfs/tank/state"
        : > "$ROOT/proc/spl/kstat/zfs/arcstats"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "0000:02:00.0: refused: controller of /dev/nvme0n1p3, in use by ZFS pool tank"
        assert_equal "$(fk_writes)" 0
        # the pool exported: free to take
        rm -r "$ROOT/proc/spl/kstat/zfs/tank"
        run vc enable 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

# Storage in use: a file system mounted anywhere, or a device something is built on (an LVM
# physical volume whose logical volumes are other VMs' disks). Taking the controller away would
# lose the file system's unwritten data or every volume of the group.
@test "protect: a disk with a mounted file system, or an active volume group's disk, is refused; once let go, it moves" {
        fake_root gpu-audio
        nvme_partition nvme0n1p1
        mkdir -p "$ROOT/proc/self"
        echo "31 1 259:1 / /srv/data rw,relatime shared:5 - ext4 /dev/nvme0n1p1 rw" > "$ROOT/proc/self/mountinfo"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "0000:02:00.0: refused: controller of /dev/nvme0n1p1, mounted at /srv/data"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:02:00.0)" nvme
        run vc list
        assert_line --regexp "^[0-9]+ +0000:02:00.0 .* critical "
        assert_output --partial "controller of /dev/nvme0n1p1, mounted at /srv/data"

        # unmounted, but a physical volume of an active volume group
        : > "$ROOT/proc/self/mountinfo"
        mkdir -p "$ROOT/sys/devices/virtual/block/dm-3/dm" "$ROOT/sys/class/block/nvme0n1p1/holders"
        echo vms-win11 > "$ROOT/sys/devices/virtual/block/dm-3/dm/name"
        ln -sfn "$(realpath --relative-to="$ROOT/sys/class/block/nvme0n1p1/holders" "$ROOT/sys/devices/virtual/block/dm-3")" \
                "$ROOT/sys/class/block/nvme0n1p1/holders/dm-3"
        run vc enable 0000:02:00.0
        assert_failure 4
        assert_output --partial "0000:02:00.0: refused: controller of /dev/nvme0n1p1, in use by dm-3 (vms-win11)"
        assert_equal "$(fk_writes)" 0

        # the volume group deactivated: free to take
        rm "$ROOT/sys/class/block/nvme0n1p1/holders/dm-3"
        run vc enable 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

# A disk a process opens directly (a VM's QEMU using it raw as <disk type='block'>, a dd) keeps no
# holder in sysfs: the claim looks at the processes' open files, as for a GPU (display.bats).
@test "a disk a process holds open is refused with exit 4, the process named; --force goes on" {
        fake_root gpu-audio
        nvme_partition nvme0n1p1
        mkdir -p "$ROOT/sys/dev/block"
        ln -sfn "$(realpath --relative-to="$ROOT/sys/class/block" "$(readlink -f "$ROOT/sys/class/block/nvme0n1p1")/..")" \
                "$ROOT/sys/class/block/nvme0n1"
        holder 4242 qemu-system-x86 /dev/null /dev/nvme0n1 'anon_inode:[eventfd]'
        holder 4300 dd /dev/nvme0n1p1
        holder 1 systemd /dev/sda /dev/nvme0n1p10
        holder 377 '(udev-worker)' /dev/nvme0n1 # blkid at an event: not a user
        run --separate-stderr vc enable 0000:02:00.0
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 0000:02:00.0: /dev/nvme0n1 is open by qemu-system-x86 (pid 4242); /dev/nvme0n1p1 is open by dd (pid 4300); stop them first"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:02:00.0)" nvme
        run --separate-stderr vc --dry-run enable 0000:02:00.0
        assert_failure 4
        # a VM's start that would take the disk fails in the hook, naming them, nothing written
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device disk]\nmatch = 02:00.0\n' > "$CONF/vfio-claim.conf"
        echo "<domain type='kvm'><name>vm2</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></hostdev></devices></domain>" > "$BATS_TEST_TMPDIR/vm2.xml"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/vm2.xml" vm2 prepare begin
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: IOMMU group 4: 0000:02:00.0: /dev/nvme0n1 is open by qemu-system-x86 (pid 4242); /dev/nvme0n1p1 is open by dd (pid 4300); stop them first; VM \"vm2\" was not started"
        assert_equal "$(fk_writes)" 0
        run --separate-stderr vc --force enable 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

@test "hardware changed: an id guard that no longer matches refuses with exit 4 and writes nothing" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nid = 10de:2206\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc apply
        assert_failure 4
        assert_output --partial '0000:01:00.0: hardware changed (expected 10de:2206)'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

# node_with 'DOMAIN XML': a libvirt test-driver node holding this domain; prints its URI
node_with() {
        printf '<node>%s</node>\n' "$1" > "$BATS_TEST_TMPDIR/node.xml"
        echo "test://$BATS_TEST_TMPDIR/node.xml"
}
WIN11_RUNNING="<domain type='test'><name>win11</name><memory>1048576</memory><os><type>hvm</type></os></domain>"
WIN11_STOPPED="<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>win11</name><memory>1048576</memory><os><type>hvm</type></os><test:runstate>5</test:runstate></domain>"

@test "held by a running VM: disable and release refuse with exit 4" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11' "$STATE/group-1"
        uri=$(node_with "$WIN11_RUNNING")
        n=$(fk_writes)
        run vc --connect "$uri" disable 01:00.0
        assert_failure 4
        assert_output --partial 'IOMMU group 1 is held by the running VM "win11"; stop the VM first'
        run vc --connect "$uri" release group:1
        assert_failure 4
        # --force does not take a group from a VM that runs
        run vc --connect "$uri" --force release group:1
        assert_failure 4
        assert_equal "$(fk_writes)" "$n"
        [ -e "$CONF/conf.d/0000-01-00.0.conf" ]
        run vc list
        assert_line --regexp '^1 +0000:01:00\.0 .* win11 '
}

@test "a stale hold (the VM is shut off or gone, libvirtd missed the release) is taken back" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11' "$STATE/group-1"
        run vc --connect "$(node_with "$WIN11_STOPPED")" release group:1
        assert_success
        assert_output --partial 'IOMMU group 1: its record names VM "win11" as the holder, but libvirt'
        assert_output --partial 'says it is not running: a stale hold, taken back'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        [ ! -e "$STATE/group-1" ]
        # a VM libvirt does not know at all
        vc enable 01:00.0
        sed -i '/^group /a owner ghost' "$STATE/group-1"
        run vc --connect "$(node_with "$WIN11_RUNNING")" disable 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "a hold libvirt cannot confirm is refused, and --force goes on" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11' "$STATE/group-1"
        n=$(fk_writes)
        run vc --connect "test://$BATS_TEST_TMPDIR/no-such-node.xml" release 01:00.0
        assert_failure 4
        assert_output --partial 'IOMMU group 1 is held by VM "win11" per its record, and libvirt (test://'
        assert_output --partial 'stop the VM first, or if it is gone, run again with --force'
        assert_equal "$(fk_writes)" "$n"
        run vc --connect "test://$BATS_TEST_TMPDIR/no-such-node.xml" --force release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "an invalid configuration stops every writing verb that reads it with exit 3 and no write" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00\n' > "$CONF/vfio-claim.conf"
        for verb in "enable 01:00.0" "apply" "disable 01:00.0"; do
                run vc $verb
                assert_failure 3
                assert_output --partial 'vfio-claim.conf:2: [device gpu] match: "01:00" is not a PCI address or vendor:device id'
        done
        # release decides from the state records alone: it reports the errors and goes on
        run vc release 01:00.0
        assert_success
        assert_output --partial 'vfio-claim.conf:2: [device gpu] match: "01:00" is not a PCI address or vendor:device id'
        assert_output --partial 'IOMMU group 1: nothing to give back'
        assert_equal "$(fk_writes)" 0
}

@test "a failing unbind rolls the whole group back and names device, step and errno (exit 1)" {
        fake_root gpu-audio
        before=$(snapshot)
        fk_fail 'glob:sys/bus/pci/drivers/snd_hda_intel/unbind EBUSY'
        run vc enable 01:00.0
        assert_failure 1
        assert_output --partial '0000:01:00.1: failed to unbind from snd_hda_intel: Device or resource busy'
        assert_equal "$(snapshot)" "$before"
        [ ! -e "$ROOT/dev/vfio/1" ]
        [ ! -e "$STATE/group-1" ]
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "a configured name resolves to its group; unknown names are usage errors" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 10de:2204\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc show gpu
        assert_success
        assert_line --regexp 'configured as: gpu'
        run vc apply
        assert_success
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
        run vc release gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        run vc release nosuchname
        assert_failure 2
}

# A root port alone in its IOMMU group (gpu-audio's 0000:00:1c.0, group 3, the NVMe disk's port)
# has nothing to claim: bridges are never moved. enable says so and changes nothing, whether the
# port is named by an entry (that crashed: the error message read the group after freeing it),
# by its address or by group:N; apply says it for a boot = yes entry, as the boot pass does.
@test "enable of a root port alone in its group: nothing to claim, exit 1, nothing changed" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device rp]\nmatch = 0000:00:1c.0\n' > "$CONF/vfio-claim.conf"
        local arg
        for arg in rp 0000:00:1c.0 00:1c.0 group:3; do
                run vc enable --yes "$arg"
                assert_failure 1
                assert_line "vfio-claim: $arg: 0000:00:1c.0, a PCI bridge alone in IOMMU group 3: nothing to claim (bridges stay on their drivers; $([ "$arg" = rp ] && echo match || echo name) the device behind it instead)"
                assert_line "vfio-claim: $arg: nothing to claim; nothing was changed"
        done
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:00:1c.0) $(fk_driver 0000:02:00.0)" "pcieport nvme"
        [ ! -e "$CONF/conf.d" ]
        [ ! -e "$STATE/group-3" ]
        assert_equal "$(cat "$CONF/vfio-claim.conf")" $'[device rp]\nmatch = 0000:00:1c.0'
}

# An entry that selects a root port alone in its group and the GPU: the GPU's group is claimed,
# the port's is said to have nothing to claim.
@test "enable of an entry that selects a root port and the GPU claims the GPU's group" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device both]\nmatch = 0000:00:1c.0\nmatch = 0000:01:00.0\n' > "$CONF/vfio-claim.conf"
        run vc enable both
        assert_success
        assert_line "vfio-claim: both: 0000:00:1c.0, a PCI bridge alone in IOMMU group 3: nothing to claim (bridges stay on their drivers; match the device behind it instead)"
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        assert_equal "$(fk_driver 0000:00:1c.0) $(fk_driver 0000:02:00.0)" "pcieport nvme"
}

@test "apply: a boot = yes entry that selects a root port alone in its group is said, file and line, and skipped" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device rp]\nboot = yes\nmatch = 0000:00:1c.0\n' > "$CONF/vfio-claim.conf"
        run vc apply
        assert_success
        assert_line "vfio-claim: ${VC_SYSCONFDIR:-/etc}/vfio-claim/vfio-claim.conf:3: [device rp] selects 0000:00:1c.0, a PCI bridge alone in IOMMU group 3: nothing to claim (bridges stay on their drivers; match the device behind it instead)"
        assert_line 'nothing to do: the boot = yes devices present are PCI bridges alone in their groups, which stay on their drivers'
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/group-3" ]
        # with a GPU entry beside it, the GPU's group is claimed and the port said once
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' >> "$CONF/vfio-claim.conf"
        run vc apply
        assert_success
        assert_equal "$(grep -c 'a PCI bridge alone in IOMMU group 3' <<<"$output")" 1
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:00:1c.0)" "vfio-pci pcieport"
}

# Issue 11, defect 5: an unbind stuck in the kernel holds the GPU's device lock, which reading
# its driver_override waits for (the fake kernel's STUCK fault). The command that timed out must
# end and free the lock; later commands must not hang on the device; release finishes the group
# once the write is over.
@test "a write stuck in the kernel: the command ends, later ones do not hang, release finishes" {
        fake_root gpu-audio
        fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind STUCK'
        run_via_file bounded --timeout 5 enable 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.0: failed to unbind from nouveau: Connection timed out"
        assert_output --partial "0000:01:00.0: unbind from nouveau did not finish within 5 s (device in use? stop what uses it, then run the command again); IOMMU group 1 rolled back, except that write, which may still take effect: 'vfio-claim status' shows the group"
        grep -qx 'state claiming' "$STATE/group-1"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        # while the write is stuck: other commands run (with the device waited for, at most the
        # timeout), and a release of the group fails without writing
        run_via_file bounded --timeout 5 list
        assert_success
        writes=$(fk_writes)
        run_via_file bounded --timeout 5 release 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.0: failed to wait for the device's lock, held by a write or a driver's probe that has not finished"
        assert_equal "$(fk_writes)" "$writes"
        grep -qx 'state claiming' "$STATE/group-1"
        # the kernel lets go: the unbind took effect after all; release gives the group back
        fk_unstick
        assert_equal "$(fk_driver 0000:01:00.0)" ""
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        assert_equal "$(fk_override 0000:01:00.0)$(fk_override 0000:01:00.1)" ""
        [ ! -e "$STATE/group-1" ]
        [ -z "$(ls "$STATE" | grep '^stuck-')" ]
}

# within SECONDS ARGS...: vc ARGS..., killed after SECONDS (status 124: it hung).
within() {
        local s=$1
        shift
        FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" timeout "$s" "$BASH" -c "$(declare -f fk vc); vc $*"
}

# After the stuck unbind of the killed command's request (its override, unbind and probe of the
# GPU, lib/stuck.c) has ended: the write under way took effect, and no write of the request came
# after it. The writer dies with the command (PR_SET_PDEATHSIG): a writer left to finish the
# request would probe the GPU beside whatever the next command, which got vfio-claim's lock when
# this one died, does to the group.
no_write_after_the_stuck_one() {
        wait_for '[ -z "$(fk_driver 0000:01:00.0)" ]'
        assert_equal "$(fk_override 0000:01:00.0)" vfio-pci
        run grep -c 'drivers_probe' "$ROOT/.fakekernel/writes.log"
        assert_output 0
}

# A command ended by a signal (Ctrl-C, SIGTERM, SIGKILL) while its write is stuck in the kernel
# ran out of no timeout of its own, and the write still holds the device lock: the device is
# marked before the write goes to the writer (lib/stuck.h), and the mark stays. The commands after
# it wait for the device at most their timeout, and the hook's prepare, which reads the group
# holding vfio-claim's lock, fails within it and lets the lock go.
@test "a command killed during a write stuck in the kernel leaves the device marked; later ones do not hang" {
        local sig num pid xml="$abs_top_srcdir/tests/fixtures/domains/virt-manager.xml"
        for sig in INT TERM KILL; do
                fake_root gpu-audio
                mkdir -p "$CONF"
                printf '[global]\ntimeout = 2\n[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
                fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind STUCK'
                # shellcheck disable=SC2086
                (FAKEKERNEL_HOST=1 fk_exec $VC_WRAPPER "$abs_top_builddir/vfio-claim" --timeout 600 enable 01:00.0) \
                        >/dev/null 2>&1 3>&- &
                pid=$!
                wait_for '[ -n "$(ls -A "$ROOT/.fakekernel/stuck" 2>/dev/null)" ]'
                kill -s "$sig" "$pid"
                status=0
                wait "$pid" || status=$?
                num=$(kill -l "$sig")
                assert_equal "$sig $status" "$sig $((128 + num))"
                [ -e "$STATE/stuck-0000:01:00.0" ]
                grep -qx 'state claiming' "$STATE/group-1"
                if [ "$sig" != KILL ]; then
                        fk_unstick
                        # the killed command's writer died with it (under valgrind, a process of
                        # its own, that takes a while, and the next fake_root must not remove the
                        # tree under it); the kernel finished the write that was under way
                        wait_for '! pgrep -f -- "--timeout 600 enable 01:00.0" > /dev/null'
                        no_write_after_the_stuck_one
                        continue
                fi
                # later commands wait for the device at most their timeout
                run_via_file within 60 list
                assert_success
                run_via_file within 60 status
                assert_success
                writes=$(fk_writes)
                run_via_file within 60 release 01:00.0
                assert_failure 1
                assert_output --partial "0000:01:00.0: failed to wait for the device's lock, held by a write or a driver's probe that has not finished"
                assert_equal "$(fk_writes)" "$writes"
                # the hook's prepare fails within [global] timeout, and leaves the lock free
                FK_SHIM="$FK_SHIM" CONF="$CONF" VC_WRAPPER="${VC_WRAPPER:-}" run_via_file timeout 60 "$BASH" -c \
                        "$(declare -f fk hook); hook '$xml' win11 prepare begin"
                assert_failure 1
                assert_output --partial 'VM "win11" was not started'
                assert_equal "$(fk_writes)" "$writes"
                run_via_file within 60 --timeout 2 list
                assert_success
                # the kernel lets go: release gives the group back, and the mark goes
                fk_unstick
                wait_for '! pgrep -f -- "--timeout 600 enable 01:00.0" > /dev/null'
                no_write_after_the_stuck_one
                run vc release 01:00.0
                assert_success
                assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
                [ ! -e "$STATE/group-1" ]
                [ -z "$(ls "$STATE" | grep '^stuck-')" ]
        done
}

# The bound of one write comes from [global] timeout when the command has no --timeout: the hook
# and the udev helper, which take no options, read the same key (hook.bats, udev.bats).
@test "[global] timeout bounds each write, and --timeout wins over it" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[global]\ntimeout = 5\n' > "$CONF/vfio-claim.conf"
        fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind STUCK'
        run_via_file bounded enable 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.0: unbind from nouveau did not finish within 5 s (device in use? stop what uses it, then run the command again)"
        fk_unstick
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau

        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[global]\ntimeout = 5\n' > "$CONF/vfio-claim.conf"
        fk_fail 'glob:sys/bus/pci/drivers_probe STUCK'
        run_via_file bounded --timeout 6 enable 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.0: probe did not finish within 6 s (a slow driver or device: --timeout or [global] timeout gives it longer); IOMMU group 1 rolled back, except that write"
        fk_unstick
}

@test "[global] timeout: not a number of seconds from 1 to 3600 is a configuration error" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        for v in 0 3601 10s -1 "" 99999999999999999999; do
                printf '[global]\ntimeout = %s\n' "$v" > "$CONF/vfio-claim.conf"
                run vc enable 01:00.0
                assert_failure 3
                assert_output --partial "vfio-claim.conf:2: [global] timeout: \"$v\" is not a number of seconds from 1 to 3600"
        done
        assert_equal "$(fk_writes)" 0
}

@test "after a crash between steps, release restores the original drivers from the record" {
        fake_root gpu-audio
        # The claim dies after its first device moved: the record says "claiming". The fake
        # kernel's KILL fault kills the writer's process group at the audio function's unbind
        # (SIGKILL: no handler, no rollback); setsid gives it a group of its own.
        fk_fail 'glob:sys/bus/pci/drivers/snd_hda_intel/unbind KILL'
        run setsid -w env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" \
                "$BASH" -c "$(declare -f fk vc); vc enable 01:00.0"
        assert_equal "$status" 137
        grep -qx 'state claiming' "$STATE/group-1"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        : > "$ROOT/.fakekernel/faults"
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        assert_equal "$(fk_override 0000:01:00.0)" ""
        [ ! -e "$STATE/group-1" ]
}

@test "8 writers, 50 apply/release cycles each: every device ends on an expected driver, records agree" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        cycles=${VC_STRESS_CYCLES:-50}
        [ -z "${VC_WRAPPER:-}" ] || cycles=${VC_STRESS_CYCLES:-3}
        for w in $(seq 8); do
                (
                        for _ in $(seq "$cycles"); do
                                for verb in apply "release gpu"; do
                                        # shellcheck disable=SC2086 # the verb and its argument
                                        vc $verb >/dev/null 2>"$BATS_TEST_TMPDIR/err.$w" && continue
                                        # flock is not fair: on a loaded machine one writer may
                                        # wait past the 60 s bound while the others take turns; a
                                        # refusal that changes nothing is a right outcome for it
                                        if grep -q 'lock.*timed out' "$BATS_TEST_TMPDIR/err.$w"; then
                                                echo "writer $w: $verb" >> "$BATS_TEST_TMPDIR/lock-waits"
                                        else
                                                { echo "writer $w: $verb failed:"; cat "$BATS_TEST_TMPDIR/err.$w"; } >> "$BATS_TEST_TMPDIR/errors"
                                        fi
                                done
                        done
                ) &
        done
        wait
        [ ! -s "$BATS_TEST_TMPDIR/errors" ] || { cat "$BATS_TEST_TMPDIR/errors"; false; }
        # The last operation of each writer was a release, but another writer may have applied
        # after it: the group is either fully claimed with a record, or fully back without one.
        d0=$(fk_driver 0000:01:00.0) d1=$(fk_driver 0000:01:00.1)
        if [ -e "$STATE/group-1" ]; then
                assert_equal "$d0 $d1" "vfio-pci vfio-pci"
                grep -qx 'state claimed' "$STATE/group-1"
                [ -e "$ROOT/dev/vfio/1" ]
        else
                assert_equal "$d0 $d1" "nouveau snd_hda_intel"
                [ ! -e "$ROOT/dev/vfio/1" ]
        fi
        assert_equal "$(fk_driver 0000:00:01.0)" pcieport
        run vc release gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        assert_equal "$(fk_override 0000:01:00.0)$(fk_override 0000:01:00.1)" ""
}

@test "--json: the writing verbs print one JSON document with each group's plan and writes" {
        fake_root gpu-audio
        run --separate-stderr vc --json --dry-run enable 01:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -r '.dry_run')" true
        assert_equal "$(echo "$output" | jq -r '.operations[0] | "\(.group) \(.operation) \(.changed) \(.error)"')" "1 claim false null"
        assert_equal "$(echo "$output" | jq -r '.operations[0].devices[] | select(.address == "0000:01:00.0") | "\(.driver)>\(.target)"')" "nouveau>vfio-pci"
        assert_equal "$(echo "$output" | jq -r '.operations[0].writes | length')" 6
        assert_equal "$(fk_writes)" 0
        run --separate-stderr vc --json enable 01:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -r '.operations[0].changed')" true
        run --separate-stderr vc --json release 01:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -r '.operations[0] | "\(.operation) \(.changed)"')" "give back true"
        run --separate-stderr vc --json apply
        assert_success
        assert_equal "$(echo "$output" | jq -c '.operations')" "[]"
        fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind EIO'
        run --separate-stderr vc --json enable 01:00.0
        assert_failure 1
        assert_equal "$(echo "$output" | jq -r '.operations[0].error')" "0000:01:00.0: failed to unbind from nouveau: Input/output error"
}

# A dry run says what the real run does: an "id =" guard that refuses the group refuses the dry
# run too, with the same message and exit status, and neither shows a plan for a group it does
# not claim (the plan would say "bind to vfio-pci").
@test "hardware changed: apply --dry-run refuses as apply does, and changes nothing" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nid = 10de:2206\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc --dry-run apply
        assert_failure 4
        local dry_stderr=$stderr
        assert_equal "$stderr" "vfio-claim: 0000:01:00.0: hardware changed (expected 10de:2206)"
        refute_output --partial "bind to vfio-pci"
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/group-1" ]
        run --separate-stderr vc apply
        assert_failure 4
        assert_equal "$stderr" "$dry_stderr"
        refute_output --partial "bind to vfio-pci"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
}

# A damaged record (truncated, garbage) no longer says where the devices go back to: every verb
# that needs it names the file and what to do, and changes nothing.
@test "a damaged state record: each verb names the file and what to do, and changes nothing" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run vc enable 01:00.0
        assert_success
        head -c 20 "$STATE/group-1" > "$BATS_TEST_TMPDIR/bad"
        cp "$BATS_TEST_TMPDIR/bad" "$STATE/group-1"
        writes=$(fk_writes)
        for verb in status "release 01:00.0" "release group:1" "release --all" "disable gpu" "enable 01:00.0"; do
                # shellcheck disable=SC2086 # the verb and its argument
                run --separate-stderr vc $verb
                assert_failure 1
                assert_equal "$verb: $(head -n1 <<<"$stderr")" "$verb: vfio-claim: IOMMU group 1: its state record ${VC_RUNSTATEDIR:-/run}/vfio-claim/group-1 is damaged; it lists the drivers the group's devices go back to: mend it by hand (FILES in vfio-claim(8)), or move it away and bind the devices yourself, then run the command again"
                assert_equal "$(fk_writes)" "$writes"
                cmp -s "$STATE/group-1" "$BATS_TEST_TMPDIR/bad"
        done
        grep -qx '\[device gpu\]' "$CONF/vfio-claim.conf"
}

# A command over several groups checks them all before it moves one: a later group's refusal
# must not first unbind an earlier group's GPU from its driver and bind it back (the display and
# its audio drop out meanwhile).
@test "enable NAME over two groups, the second host-critical: refused (exit 4) with no write" {
        fake_root two-big-gpus
        mkdir -p "$CONF"
        printf '[device gpus]\nmatch = 10de:2236\n' > "$CONF/vfio-claim.conf"
        default_route_nic 0000:02:00.1
        before=$(snapshot)
        run vc --yes enable gpus
        assert_failure 4
        assert_output --partial "0000:02:00.1: refused: NIC of the default route (eth0)"
        refute_output --partial "claimed for vfio"
        assert_equal "$(snapshot)" "$before"
        assert_equal "$(fk_writes)" 0
        [ -z "$(ls -A "$STATE" 2>/dev/null | grep '^group-')" ]
}

@test "apply of two boot groups, the second host-critical: refused (exit 4) with no write" {
        fake_root two-big-gpus
        mkdir -p "$CONF"
        printf '[device gpus]\nmatch = 10de:2236\nboot = yes\nconsent = yes\n' > "$CONF/vfio-claim.conf"
        default_route_nic 0000:02:00.1
        before=$(snapshot)
        run vc apply
        assert_failure 4
        assert_equal "$(snapshot)" "$before"
        assert_equal "$(fk_writes)" 0
}
