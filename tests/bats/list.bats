#!/usr/bin/env bats
# vfio-claim list / show on fake kernels built from tests/fixtures: what a user checks is what the
# kernel says (groups, members, drivers) and that nothing was written.

load helpers

@test "list: GPU and its HDMI audio share a group with their root port" {
        fake_root gpu-audio
        run vc --json list
        assert_success
        echo "$output" | jq -e . >/dev/null
        group=$(echo "$output" | jq -r '.groups[] | select(any(.devices[]; .address == "0000:01:00.0")) | .group')
        [ -n "$group" ]
        members=$(echo "$output" | jq -r ".groups[] | select(.group == $group) | [.devices[].address] | join(\" \")")
        assert_equal "$members" "0000:00:01.0 0000:01:00.0 0000:01:00.1"
        assert_equal "$(echo "$output" | jq -r ".groups[] | select(.group == $group) | .endpoints")" 2
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.address == "0000:01:00.0") | .driver')" nouveau
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.address == "0000:01:00.1") | .driver')" snd_hda_intel
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.address == "0000:00:01.0") | .bridge')" true
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.address == "0000:01:00.0") | "\(.vendor_id):\(.device_id) \(.class) \(.driver_override)"')" \
                "10de:2204 0x030000 null"
        assert_equal "$(echo "$output" | jq -r '.iommu')" true
        assert_equal "$(fk_writes)" 0
}

@test "list: the table shows every device with group, driver and class" {
        fake_root gpu-audio
        run vc list
        assert_success
        assert_line --regexp '^GROUP +ADDRESS +CLASS +ID +DRIVER +OVERRIDE +CONFIG +CLAIMED'
        assert_line --regexp '^[0-9]+ +0000:01:00\.0 +vga +10de:2204 +nouveau +- +- +no '
        assert_line --regexp '^[0-9]+ +0000:01:00\.1 +audio +10de:1aef +snd_hda_intel '
}

@test "list: three NICs behind a PCIe-to-PCI bridge form one group; the bridge has no driver" {
        fake_root nics-bridge
        run vc --json list
        assert_success
        bridge=$(echo "$output" | jq -r '.groups[].devices[] | select(.bridge and .driver == null) | .address')
        [ -n "$bridge" ]
        group=$(echo "$output" | jq -r ".groups[] | select(any(.devices[]; .address == \"$bridge\")) | .group")
        assert_equal "$(echo "$output" | jq -r ".groups[] | select(.group == $group) | .endpoints")" 3
        assert_equal "$(echo "$output" | jq -r ".groups[] | select(.group == $group) | [.devices[] | select(.bridge | not) | .driver] | sort | join(\" \")")" \
                "8139cp e1000 e1000"
}

@test "list: a lone NIC on a root port is alone in its group" {
        fake_root lone-nic
        run vc --json list
        assert_success
        assert_equal "$(echo "$output" | jq -r '.groups[] | select(any(.devices[]; .device_id == "10d3")) | .endpoints')" 1
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.device_id == "10d3") | .driver')" e1000e
}

@test "list: a NIC with 64 SR-IOV VFs shows 64 VFs, each in its own group, pointing at the PF" {
        fake_root sriov-64vf
        run vc --json list
        assert_success
        pf=$(echo "$output" | jq -r '.groups[].devices[] | select(.device_id == "1572") | .address')
        assert_equal "$(echo "$output" | jq -r '.groups[].devices[] | select(.device_id == "1572") | "\(.sriov_num_vfs)/\(.sriov_total_vfs)"')" "64/64"
        assert_equal "$(echo "$output" | jq -r "[.groups[].devices[] | select(.physfn == \"$pf\")] | length")" 64
        assert_equal "$(echo "$output" | jq -r "[.groups[] | select(any(.devices[]; .physfn == \"$pf\")) | .endpoints] | unique | join(\",\")")" 1
        assert_equal "$(echo "$output" | jq -r '[.groups[].devices[] | select(.device_id == "154c") | .driver] | unique | join(",")')" iavf
}

@test "list: a host without an IOMMU lists devices and says plainly that there are no groups" {
        fake_root no-iommu
        run --separate-stderr vc --json list
        assert_success
        assert_equal "$(echo "$output" | jq -r '.iommu')" false
        assert_equal "$(echo "$output" | jq -r '.groups | length')" 0
        [ "$(echo "$output" | jq -r '.ungrouped | length')" -gt 0 ]
        [[ "$stderr" == *"no IOMMU groups: the IOMMU is off or absent on this host"* ]]
}

@test "show: one group in detail, by address, by short address and by group:N" {
        fake_root gpu-audio
        run vc show 0000:01:00.0
        assert_success
        assert_line --regexp '^IOMMU group [0-9]+: 3 devices, 2 endpoints; not claimed'
        assert_line --partial '0000:01:00.1'
        assert_line --regexp 'driver: +nouveau'
        run vc --json show 01:00.1
        assert_success
        group=$(echo "$output" | jq -r '.groups[0].group')
        assert_equal "$(echo "$output" | jq -r '.groups | length')" 1
        run vc --json show "group:$group"
        assert_success
        assert_equal "$(echo "$output" | jq -r '[.groups[0].devices[].address] | join(" ")')" "0000:00:01.0 0000:01:00.0 0000:01:00.1"
        assert_equal "$(fk_writes)" 0
}

@test "show of an address or group:N reads only that group: a device elsewhere that cannot be read does not stop it" {
        fake_root gpu-audio
        # the AHCI controller's group link names no group: reading every device fails on it
        ln -sfn ../../../kernel/iommu_groups/x "$(readlink -f "$(fk_dev 0000:00:17.0)")/iommu_group"
        run --separate-stderr vc list
        assert_failure
        # the message names the device
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
        run --separate-stderr vc doctor
        assert_failure
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
        run --separate-stderr vc show 0000:01:00.0
        assert_success
        assert_equal "$stderr" ""
        assert_line --regexp '^IOMMU group [0-9]+: 3 devices, 2 endpoints; not claimed'
        group=$(echo "$output" | sed -n 's/^IOMMU group \([0-9]*\):.*/\1/p')
        run --separate-stderr vc --json show "group:$group"
        assert_success
        assert_equal "$(echo "$output" | jq -r '[.groups[0].devices[].address] | join(" ")')" "0000:00:01.0 0000:01:00.0 0000:01:00.1"
        # the device that cannot be read, by its address: the whole read, and its failure
        run --separate-stderr vc show 0000:00:17.0
        assert_failure 1
        [[ "$stderr" == "vfio-claim: cannot read the PCI devices under "*": 0000:00:17.0: Bad message" ]]
        # a group one of whose members cannot be read: the member is named
        ln -sfn ../../../../devices/pci0000:00/0000:00:17.0 "$ROOT/sys/kernel/iommu_groups/$group/devices/0000:00:17.0"
        run --separate-stderr vc show "group:$group"
        assert_failure 1
        [[ "$stderr" == "vfio-claim: cannot read IOMMU group $group under "*": 0000:00:17.0: Bad message" ]]
        assert_equal "$(fk_writes)" 0
}

@test "show: bad device arguments are usage errors (exit 2), unknown devices fail (exit 1)" {
        fake_root gpu-audio
        run vc show 01:00
        assert_failure 2
        assert_output --partial '"01:00" is not a PCI address'
        run vc show ../../etc
        assert_failure 2
        run vc show 0000:09:00.0
        assert_failure 1
        assert_output --partial '0000:09:00.0: no such PCI device'
        run vc show group:999
        assert_failure 1
        run vc show group:-1
        assert_failure 2
        run vc show
        assert_failure 2
        assert_equal "$(fk_writes)" 0
}

@test "usage: unknown verbs and options exit 2" {
        fake_root lone-nic
        run vc frobnicate
        assert_failure 2
        assert_output --partial 'unknown verb "frobnicate"'
        run vc --no-such-option list
        assert_failure 2
        run vc --timeout abc list
        assert_failure 2
        run "$abs_top_builddir/vfio-claim" --sysroot relative/path list
        assert_failure 2
        assert_output --partial 'not an absolute path'
}

@test "list --json: the driver's module, boot_vga and SR-IOV fields of every device, as the tree has them" {
        # lib/pci.c reads a driver's module once per driver, boot_vga only on VGA-class devices
        # and sriov_totalvfs only on functions that are not VFs (docs/PERFORMANCE.md, "Scale"):
        # what each device shows must not depend on that.
        fake_root gpu-audio
        run vc --json list
        assert_success
        fields='.groups[].devices[] | "\(.address) \(.driver) \(.driver_module) \(.boot_vga) \(.sriov_total_vfs)"'
        assert_equal "$(echo "$output" | jq -r "$fields" | sort)" "$(printf '%s\n' \
                '0000:00:01.0 pcieport null null null' \
                '0000:00:02.0 i915 i915 true null' \
                '0000:00:17.0 ahci ahci null null' \
                '0000:00:1c.0 pcieport null null null' \
                '0000:01:00.0 nouveau nouveau false null' \
                '0000:01:00.1 snd_hda_intel snd_hda_intel null null' \
                '0000:02:00.0 nvme nvme null null')"

        fake_root sriov-64vf
        run vc --json list
        assert_success
        assert_equal "$(echo "$output" | jq -r "$fields" | sed -n '1,3p;$p')" "$(printf '%s\n' \
                '0000:00:03.0 pcieport null null null' \
                '0000:02:00.0 i40e i40e null 64' \
                '0000:02:02.0 iavf iavf null null' \
                '0000:02:09.7 iavf iavf null null')"
        assert_equal "$(echo "$output" | jq -r '[.groups[].devices[] | select(.driver_module == "iavf")] | length')" 64
}
