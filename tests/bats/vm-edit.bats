#!/usr/bin/env bats
# vfio-claim add/remove VM DEVICE through the real libvirt API, against libvirt's test driver
# (test:///FILE: a node described by a file, held in the memory of the connection) and the fake
# kernel for the IOMMU groups. The verb reads the stored definition back after defining it and
# fails when libvirt did not store what it sent, so its report is what libvirt holds.

bats_require_minimum_version 1.5.0
load helpers

# node 'DOMAIN XML...': a test-driver node with these domains; sets URI.
node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        {
                echo "<node>"
                printf '%s\n' "$@"
                echo "</node>"
        } > "$NODE"
        URI="test://$NODE"
}

# stopped NAME [DEVICES XML]: a defined, shut off domain; running NAME: a running one.
stopped() {
        cat <<EOF
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>$1</name>
  <memory>1048576</memory>
  <os><type>hvm</type></os>
  <devices>${2:-}</devices>
  <test:runstate>5</test:runstate>
</domain>
EOF
}
running() {
        echo "<domain type='test'><name>$1</name><memory>1048576</memory><os><type>hvm</type></os></domain>"
}
hostdev() { # hostdev BUS FUNCTION [managed]
        echo "<hostdev mode='subsystem' type='pci' managed='${3:-yes}'><source><address domain='0x0000' bus='$1' slot='0x00' function='$2'/></source></hostdev>"
}

setup() {
        fake_root gpu-audio
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 10de:2204\n' > "$CONF/vfio-claim.conf"
}

vm() {
        vc --config "$CONF" --connect "$URI" "$@"
}

@test "add: every endpoint of the GPU's group goes into a stopped VM, the bridge never" {
        node "$(stopped gaming)"
        run --separate-stderr vm -v add gaming 0000:01:00.0
        assert_success
        assert_equal "$stderr" ""
        assert_line --index 0 "VM gaming, IOMMU group 1: added 0000:01:00.0 0000:01:00.1"
        assert_line "    <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"
        assert_line "    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>"
        assert_equal "$(echo "$output" | grep -c "<hostdev mode='subsystem' type='pci' managed='no'>")" 2
        refute_output --partial "0000:00:01.0"
        refute_output --partial "not in the configuration"
        assert_equal "$(fk_writes)" 0
}

@test "add: functions already there (managed='yes', from virt-manager) are not added twice" {
        node "$(stopped gaming "$(hostdev 0x01 0x0)")"
        run --separate-stderr vm add gaming gpu
        assert_success
        assert_equal "$output" "VM gaming, IOMMU group 1: added 0000:01:00.1; already there: 0000:01:00.0"

        node "$(stopped gaming "$(hostdev 0x01 0x0)$(hostdev 0x01 0x1 no)")"
        run --separate-stderr vm add gaming 01:00.1
        assert_success
        assert_equal "$output" "VM gaming already has every endpoint of IOMMU group 1."
}

@test "add: --dry-run prints the elements it would add and changes nothing" {
        node "$(stopped gaming "$(hostdev 0x01 0x0)")"
        run --separate-stderr vm --dry-run add gaming group:1
        assert_success
        assert_equal "$output" "Would add to VM gaming's definition (IOMMU group 1):
<hostdev mode='subsystem' type='pci' managed='no'>
  <source>
    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>
  </source>
</hostdev>"
        assert_equal "$(fk_writes)" 0
}

@test "add and remove: refused with exit 4 while the VM runs" {
        node "$(running win11)"
        run --separate-stderr vm add win11 01:00.0
        assert_failure 4
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: VM win11 is running; shut it down first (virsh shutdown win11), add edits only a stopped VM"
        run --separate-stderr vm remove win11 01:00.0
        assert_failure 4
}

@test "remove: the whole group leaves the definition, whoever added it" {
        node "$(stopped gaming "$(hostdev 0x01 0x0)$(hostdev 0x01 0x1 no)$(hostdev 0x02 0x0)")"
        run --separate-stderr vm -v remove gaming 01:00.1
        assert_success
        assert_line --index 0 "VM gaming, IOMMU group 1: removed 0000:01:00.0 0000:01:00.1"
        # The NVMe drive in another group stays.
        refute_output --partial "bus=\"0x02\""
        run --separate-stderr vm remove gaming 01:00.0
        assert_success
        assert_equal "$output" "VM gaming, IOMMU group 1: removed 0000:01:00.0 0000:01:00.1"
}

@test "remove: nothing of the group in the VM is not an error" {
        node "$(stopped gaming "$(hostdev 0x02 0x0)")"
        run --separate-stderr vm remove gaming 01:00.0
        assert_success
        assert_equal "$output" "VM gaming has no device of IOMMU group 1."
}

@test "add: a group that is not configured works, with a hint to enable it" {
        node "$(stopped storage)"
        run --separate-stderr vm add storage 02:00.0
        assert_success
        assert_line --index 0 "VM storage, IOMMU group 4: added 0000:02:00.0"
        assert_line --index 1 "The group is not in the configuration: run 'vfio-claim enable 02:00.0' so that it is"
}

@test "add: unknown VM, unknown device, unreachable libvirt" {
        node "$(stopped gaming)"
        run --separate-stderr vm add nosuch 01:00.0
        assert_failure 1
        assert_regex "$stderr" '^vfio-claim: nosuch: no such VM at test://.*: '
        run --separate-stderr vm add gaming 07:00.0
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 0000:07:00.0: no such PCI device"
        run --separate-stderr vm add gaming not-a-device
        assert_failure 2
        run --separate-stderr vc --config "$CONF" --connect "test://$BATS_TEST_TMPDIR/missing.xml" add gaming 01:00.0
        assert_failure 1
        assert_regex "$stderr" "^vfio-claim: cannot connect to libvirt at test://"
        assert_equal "$(echo "$stderr" | wc -l)" 1
        run --separate-stderr vm add gaming
        assert_failure 2
}

@test "add: an <interface type='hostdev'> of the device counts as present" {
        node "$(stopped router "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:01'/><source><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></interface>")"
        run --separate-stderr vm add router 02:00.0
        assert_success
        assert_equal "$output" "VM router already has every endpoint of IOMMU group 4."
}

@test "add/remove --json: one document saying what changed" {
        node "$(stopped gaming "$(hostdev 0x01 0x0)")"
        run --separate-stderr vm --json add gaming 01:00.0
        assert_success
        echo "$output" | jq -e . >/dev/null
        assert_equal "$(echo "$output" | jq -c '[.vm, .group, .action, .dry_run, .changed, .unchanged, (.elements | length), .configured]')" \
                '["gaming",1,"add",false,["0000:01:00.1"],["0000:01:00.0"],1,true]'
        run --separate-stderr vm --json --dry-run remove gaming 01:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -c '[.action, .dry_run, .changed, .unchanged]')" '["remove",true,["0000:01:00.0"],[]]'
        node "$(stopped empty)"
        run --separate-stderr vm --json remove empty 01:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -c '[.changed, .elements]')" '[[],[]]'
}

@test "add: refused with exit 4 when another VM's definition lists the group, --force goes on" {
        node "$(stopped gaming)" "$(stopped work "$(hostdev 0x01 0x1 no)")" "$(stopped lab "$(hostdev 0x01 0x0)")" \
                "$(stopped other "$(hostdev 0x02 0x0)")"
        run --separate-stderr vm add gaming 01:00.0
        assert_failure 4
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is already in the definition of VMs lab and work: a passed-through device belongs to one VM; take it out there first (vfio-claim remove lab 01:00.0), or run again with --force"
        run --separate-stderr vm --json add gaming 01:00.0
        assert_failure 4
        # The VM that lists it already is no "other" VM; a VM with another group does not count.
        run --separate-stderr vm add lab 01:00.0
        assert_failure 4
        assert_regex "$stderr" "definition of VM work: "
        run --separate-stderr vm --force add gaming 01:00.0
        assert_success
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is also in the definition of VMs lab and work; going on (--force): only one of them can run at a time"
        assert_line --index 0 "VM gaming, IOMMU group 1: added 0000:01:00.0 0000:01:00.1"
}

# enabled_node: group 1 claimed (its record exists) and a node where VM work lists the GPU.
enabled_node() {
        run --separate-stderr vc --config "$CONF" enable gpu
        assert_success
        node "$(stopped work "$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)")" "$(running idle)" "$(stopped spare "$(hostdev 0x01 0x1)")"
}

@test "disable: refused while a defined VM lists the group, naming them; --force goes on" {
        enabled_node
        run --separate-stderr vm disable gpu
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is in the definition of VMs spare and work; take it out first (vfio-claim remove spare group:1), or run again with --force"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        [ -e "$CONF/conf.d/gpu.conf" ] || [ -n "$(grep -rl 10de:2204 "$CONF")" ]
        run --separate-stderr vm --dry-run disable gpu
        assert_failure 4
        # No VM lists it: disable goes through.
        node "$(stopped work "$(hostdev 0x02 0x0)")"
        run --separate-stderr vm --dry-run disable gpu
        assert_success
        node "$(stopped work "$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)")"
        run --separate-stderr vm --force disable gpu
        assert_success
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is in the definition of VM work; going on (--force): that VM fails at its next start until it is taken out"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        refute [ -n "$(grep -rl 10de:2204 "$CONF")" ]
}

@test "disable: a definition with the whole group managed='yes' is named, not refused; a partial one is refused" {
        run --separate-stderr vc --config "$CONF" enable gpu
        assert_success
        # What virt-manager writes when both functions are added: libvirt detaches them itself.
        node "$(stopped desk "$(hostdev 0x01 0x0)$(hostdev 0x01 0x1)")" "$(stopped half "$(hostdev 0x01 0x0)")"
        run --separate-stderr vm disable gpu
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is also in the definition of VM desk (managed='yes'): libvirt takes it from the host at its next start
vfio-claim: IOMMU group 1 is in the definition of VM half; take it out first (vfio-claim remove half group:1), or run again with --force"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        node "$(stopped desk "$(hostdev 0x01 0x0)$(hostdev 0x01 0x1)")"
        run --separate-stderr vm disable gpu
        assert_success
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is also in the definition of VM desk (managed='yes'): libvirt takes it from the host at its next start"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        refute [ -n "$(grep -rl 10de:2204 "$CONF")" ]
}

@test "disable: with hook-claim-unconfigured = yes, the hook claims the group a managed='yes' definition lists in part" {
        printf '[global]\nhook-claim-unconfigured = yes\n[device gpu]\nmatch = 10de:2204\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc --config "$CONF" enable gpu
        assert_success
        node "$(stopped half "$(hostdev 0x01 0x0)")" "$(stopped fixed "$(hostdev 0x01 0x0 no)")"
        run --separate-stderr vm disable gpu
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: IOMMU group 1 is also in the definition of VM half (managed='yes'): libvirt takes it from the host at its next start
vfio-claim: IOMMU group 1 is in the definition of VM fixed; take it out first (vfio-claim remove fixed group:1), or run again with --force"
        node "$(stopped half "$(hostdev 0x01 0x0)")"
        run --separate-stderr vm disable gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "status and show name every VM whose definition lists the group" {
        enabled_node
        run --separate-stderr vm status
        assert_success
        assert_line --index 1 "  in the definition of VMs spare and work"
        run --separate-stderr vm --json status
        assert_success
        assert_equal "$(echo "$output" | jq -c '[.groups[] | {group, vms}]')" '[{"group":1,"vms":["spare","work"]}]'
        run --separate-stderr vm show gpu
        assert_success
        assert_line --index 1 "  in the definition of VMs spare and work"
        run --separate-stderr vm --json show 02:00.0
        assert_success
        assert_equal "$(echo "$output" | jq -c '[.groups[] | {group, vms}]')" '[{"group":4,"vms":[]}]'
        # Without libvirt: nothing named, null in JSON, no error.
        run --separate-stderr vc --config "$CONF" --connect "test://$BATS_TEST_TMPDIR/missing.xml" --json status
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(echo "$output" | jq -c '[.groups[] | .vms]')" '[null]'
}

# validate FILE: libvirt's schema check of a definition (virt-xml-validate, from libvirt-clients).
validate() {
        command -v virt-xml-validate >/dev/null || skip "virt-xml-validate (libvirt-clients) is not installed"
        run virt-xml-validate "$1" domain
        assert_success
}

# q35 NAME [DEVICES XML]: a stopped q35 domain.
q35() {
        stopped "$1" "${2:-}" | sed "s|<type>hvm</type>|<type arch='x86_64' machine='pc-q35-7.2'>hvm</type>|"
}

# guest_addr FILE BUS FUNCTION: the guest <address> of the hostdev of host 0000:BUS:00.FUNCTION.
guest_addr() {
        xmllint --xpath "//hostdev[source/address[@bus='$2' and @function='$3']]/address" "$1" 2>/dev/null
}

@test "add on q35: the GPU and its audio function in one guest slot of a new PCIe root port; remove takes the slot out" {
        node "$(q35 gaming "<controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='1' model='pcie-root-port'/><disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></disk>")"
        run --separate-stderr vm --json add gaming gpu
        assert_success
        json=$output
        echo "$json" | jq -r .definition > "$BATS_TEST_TMPDIR/added.xml"
        validate "$BATS_TEST_TMPDIR/added.xml"
        # What libvirt stored: root port index 2, functions 0 and 1 of its slot 0, multifunction on 0.
        assert_equal "$(xmllint --xpath "count(//controller[@type='pci' and @model='pcie-root-port' and @index='2'])" "$BATS_TEST_TMPDIR/added.xml")" 1
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/added.xml" 0x01 0x0)" "<address type=\"pci\" domain=\"0x0000\" bus=\"0x02\" slot=\"0x00\" function=\"0x0\" multifunction=\"on\"/>"
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/added.xml" 0x01 0x1)" "<address type=\"pci\" domain=\"0x0000\" bus=\"0x02\" slot=\"0x00\" function=\"0x1\"/>"
        assert_equal "$(echo "$json" | jq -c '.changed')" '["0000:01:00.0","0000:01:00.1"]'

        # The stored definition goes back into a node: remove takes both functions and the root port.
        node "$(sed 's|</domain>|<test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate></domain>|' "$BATS_TEST_TMPDIR/added.xml")"
        run --separate-stderr vm --json remove gaming 01:00.1
        assert_success
        json=$output
        echo "$json" | jq -r .definition > "$BATS_TEST_TMPDIR/removed.xml"
        validate "$BATS_TEST_TMPDIR/removed.xml"
        assert_equal "$(echo "$json" | jq -c '.changed')" '["0000:01:00.0","0000:01:00.1"]'
        assert_equal "$(xmllint --xpath "count(//hostdev)" "$BATS_TEST_TMPDIR/removed.xml")" 0
        assert_equal "$(xmllint --xpath "count(//controller[@model='pcie-root-port'])" "$BATS_TEST_TMPDIR/removed.xml")" 1
        # The disk on root port 1 and everything else stayed.
        assert_equal "$(xmllint --xpath "count(//disk)" "$BATS_TEST_TMPDIR/removed.xml")" 1
}

@test "add on i440fx: one free slot of the root bus; a lone function and a partial card are left to libvirt; each definition validates" {
        node "$(stopped old "<video><model type='vga'/><address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video><disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk>" | sed "s|<type>hvm</type>|<type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>|")" \
                "$(stopped partial "$(hostdev 0x01 0x0)")"
        # (--force: VM partial lists the group too)
        run --separate-stderr vm --force --json add old 01:00.0
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/old.xml"
        validate "$BATS_TEST_TMPDIR/old.xml"
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/old.xml" 0x01 0x0)" "<address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x04\" function=\"0x0\" multifunction=\"on\"/>"
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/old.xml" 0x01 0x1)" "<address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x04\" function=\"0x1\"/>"
        assert_equal "$(xmllint --xpath "count(//controller[@model='pcie-root-port'])" "$BATS_TEST_TMPDIR/old.xml")" 0
        run --separate-stderr vm --json add old 02:00.0
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/nvme.xml"
        validate "$BATS_TEST_TMPDIR/nvme.xml"
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/nvme.xml" 0x02 0x0)" ""
        run --separate-stderr vm --force --json add partial 01:00.0
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/partial.xml"
        validate "$BATS_TEST_TMPDIR/partial.xml"
        assert_equal "$(guest_addr "$BATS_TEST_TMPDIR/partial.xml" 0x01 0x1)" ""
}

# ovmf NAME [DEVICES XML] [CPU XML]: a stopped q35 domain with OVMF.
ovmf() {
        stopped "$1" "${2:-}" | sed "s|<os><type>hvm</type></os>|<os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>${3:-}|"
}

@test "add: the second 16 GiB GPU outgrows OVMF's 32 GiB window: add writes X-PciMmio64Mb, --no-mmio-fix does not" {
        fake_root two-big-gpus
        local first="$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)"
        node "$(ovmf ai "$first")"
        run --separate-stderr vm --dry-run add ai 02:00.0
        assert_success
        assert_line "<qemu:commandline><qemu:arg value=\"-fw_cfg\"/><qemu:arg value=\"opt/ovmf/X-PciMmio64Mb,string=131072\"/></qemu:commandline>"
        assert_line "Would have: VM ai: OVMF's 64-bit MMIO window set to 131072 MiB (<qemu:commandline> -fw_cfg opt/ovmf/X-PciMmio64Mb,string=131072): its PCI host devices have 32832 MiB of 64-bit prefetchable BARs, more than the 32768 MiB window it had"
        run --separate-stderr vm --dry-run --json add ai 02:00.0
        assert_success
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/fixed.xml"
        validate "$BATS_TEST_TMPDIR/fixed.xml"
        assert_equal "$(xmllint --xpath "string(//*[local-name()='commandline']/*[local-name()='arg'][2]/@value)" "$BATS_TEST_TMPDIR/fixed.xml")" "opt/ovmf/X-PciMmio64Mb,string=131072"

        # libvirt's test driver keeps no <qemu:commandline>: add says so instead of claiming the fix.
        run --separate-stderr vm add ai 02:00.0
        assert_success
        assert_line --index 0 "VM ai, IOMMU group 2: added 0000:02:00.0 0000:02:00.1"
        refute_output --partial "window set to"
        assert_equal "$stderr" "vfio-claim: VM ai: libvirt at $URI did not keep the <qemu:commandline> that sets OVMF's 64-bit MMIO window; add it by hand ('vfio-claim doctor ai' shows it)"

        run --separate-stderr vm --no-mmio-fix --json --dry-run add ai 02:00.0
        assert_success
        refute [ -n "$(echo "$output" | jq -r .definition | grep X-PciMmio64Mb)" ]
        run --separate-stderr vm --no-mmio-fix --dry-run add ai 02:00.0
        assert_success
        refute_output --partial "qemu:commandline"
        assert_line "VM ai: its PCI host devices have 32832 MiB of 64-bit prefetchable BARs, more than OVMF's 64-bit MMIO window of 32768 MiB; left as it is (--no-mmio-fix): 'vfio-claim doctor ai' says what to change"
}

@test "add: no MMIO fix when the window is large enough (maxphysaddr) or the firmware is SeaBIOS; doctor agrees" {
        fake_root two-big-gpus
        local first="$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)"
        node "$(ovmf ai "$first" "<cpu mode='custom'><model>Skylake-Server</model><maxphysaddr mode='emulate' bits='46'/></cpu>")"
        run --separate-stderr vm --json add ai 02:00.0
        assert_success
        assert_equal "$stderr" ""
        echo "$output" | jq -r .definition > "$BATS_TEST_TMPDIR/stored.xml"
        validate "$BATS_TEST_TMPDIR/stored.xml"
        refute grep -q X-PciMmio64Mb "$BATS_TEST_TMPDIR/stored.xml"
        node "$(sed 's|</domain>|<test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate></domain>|' "$BATS_TEST_TMPDIR/stored.xml")"
        run --separate-stderr vm --json doctor ai
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-mmio") | .finding')" \
                "VM ai: 32832 MiB of 64-bit prefetchable BARs fit OVMF's 64-bit MMIO window of 8388608 MiB"

        # a guest CPU without 1 GiB pages: OVMF counts 40 of the 46 bits (2^40 / 8 = 131072 MiB);
        # the host's CPU has them when the host's /proc/cpuinfo says so
        local cpu="<cpu mode='host-passthrough'><maxphysaddr mode='emulate' bits='46'/></cpu>"
        fk_file proc/cpuinfo "$(printf 'vendor_id\t: GenuineIntel\nflags\t\t: fpu vme pse pae')"
        node "$(ovmf ai "$first$(hostdev 0x02 0x0 no)" "$cpu" | sed 's|</domain>|<test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate></domain>|')"
        run --separate-stderr vm --json doctor ai
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-mmio") | .finding')" \
                "VM ai: 32832 MiB of 64-bit prefetchable BARs fit OVMF's 64-bit MMIO window of 131072 MiB"
        fk_file proc/cpuinfo "$(printf 'vendor_id\t: GenuineIntel\nflags\t\t: fpu pdpe1gb rdtscp lm')"
        run --separate-stderr vm --json doctor ai
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-mmio") | .finding')" \
                "VM ai: 32832 MiB of 64-bit prefetchable BARs fit OVMF's 64-bit MMIO window of 8388608 MiB"

        node "$(stopped old "$first")"
        run --separate-stderr vm add old 02:00.0
        assert_success
        refute_output --partial "MMIO"
}

@test "a guest CPU without 1 GiB pages: OVMF's window is 128 GiB; doctor says why, add writes the fix" {
        fake_root two-big-gpus
        # the second GPU with a 128 GiB BAR1: 144 GiB in all, more than 2^40 / 8
        sed 's/bar1=0x4800000000:0x400000000/bar1=0x8000000000:0x2000000000/' \
                "$abs_top_srcdir/tests/fixtures/two-big-gpus.topo" > "$BATS_TEST_TMPDIR/huge.topo"
        rm -rf "$ROOT" && "$FK_MKTREE" "$BATS_TEST_TMPDIR/huge.topo" "$ROOT"
        local all="$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)$(hostdev 0x02 0x0 no)"
        local running='<test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate>'
        node "$(ovmf ai "$all" "<cpu mode='custom'><model>Haswell-noTSX</model><maxphysaddr mode='emulate' bits='46'/></cpu>" | sed "s|</domain>|$running</domain>|")"
        run --separate-stderr vm --json doctor ai
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-mmio") | .level + ": " + .finding')" \
                "fail: VM ai: its PCI host devices have 147520 MiB of 64-bit prefetchable BARs, more than OVMF's 64-bit MMIO window of 131072 MiB (its CPU has no 1 GiB pages, pdpe1gb, so OVMF uses 40 of its address bits): the guest sees them but their drivers fail to initialise them"
        # the same with a model that has them: 2^46 / 8 holds it
        node "$(ovmf ai "$all" "<cpu mode='custom'><model>Icelake-Server</model><maxphysaddr mode='emulate' bits='46'/></cpu>" | sed "s|</domain>|$running</domain>|")"
        run --separate-stderr vm --json doctor ai
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-mmio") | .level')" ok
        # add to the stopped one without 1 GiB pages writes X-PciMmio64Mb
        node "$(ovmf ai "$(hostdev 0x01 0x0 no)$(hostdev 0x01 0x1 no)" "<cpu mode='custom'><model>Haswell-noTSX</model><maxphysaddr mode='emulate' bits='46'/></cpu>")"
        run --separate-stderr vm --dry-run add ai 02:00.0
        assert_success
        assert_output --partial "opt/ovmf/X-PciMmio64Mb,string="
}

@test "add --primary: the GPU becomes the display (every <video> none, its hostdev first); doctor VM warns before, not after" {
        node "$(q35 gaming "$(hostdev 0x02 0x0 no)<graphics type='spice' autoport='yes'/><video><model type='qxl' ram='65536' vram='65536' heads='1' primary='yes'/><address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></video><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source></hostdev>" | sed "s|<os>|<os firmware='efi'>|")"
        run --separate-stderr vm --json doctor gaming
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-display") | .level + ": " + .fix')" \
                "warn: vfio-claim add --primary gaming 0000:01:00.0 (sets every <video> model to 'none'), unless the emulated display is wanted"
        run --separate-stderr vm --primary add gaming 01:00.0
        assert_success
        assert_line "VM gaming: its display is now 0000:01:00.0 (every <video> model 'none', its <hostdev> first)"
        run --separate-stderr vm --primary --json add gaming 01:00.0
        assert_success
        json=$output
        echo "$json" | jq -r .definition > "$BATS_TEST_TMPDIR/primary.xml"
        validate "$BATS_TEST_TMPDIR/primary.xml"
        assert_equal "$(xmllint --xpath "count(//video/model[@type='none'])" "$BATS_TEST_TMPDIR/primary.xml")" 1
        assert_equal "$(xmllint --xpath "count(//video/model[@type!='none'])" "$BATS_TEST_TMPDIR/primary.xml")" 0
        assert_equal "$(xmllint --xpath "string((//hostdev)[1]/source/address/@bus)" "$BATS_TEST_TMPDIR/primary.xml")" 0x01
        node "$(sed 's|</domain>|<test:runstate xmlns:test="http://libvirt.org/schemas/domain/test/1.0">5</test:runstate></domain>|' "$BATS_TEST_TMPDIR/primary.xml")"
        run --separate-stderr vm --json doctor gaming
        assert_equal "$(echo "$output" | jq -r '.findings[] | select(.check == "vm-display") | .level')" ok
        # A group without a display controller.
        run --separate-stderr vm --primary add gaming 02:00.0
        assert_failure 2
        assert_equal "$stderr" "vfio-claim: --primary: IOMMU group 4 has no display controller"
}

# The block each library loaded with libvirt keeps its thread-local variables in is allocated on
# first use, after what the configuration took: one more `match` line, one more small allocation
# before it. 128 of them put it at each 32-byte place of a 4 KiB page once. In a build with
# AddressSanitizer (Makefile.am's check-asan) the leak check at exit took the block at 16 bytes past
# a page for one with a header and its tracer died of SIGSEGV (exit 134); src/virt-load.c says why
# it no longer does. Without the sanitizer (ASAN_OPTIONS unset: make check, check-valgrind, where
# 128 starts of libvirt would cost minutes) three counts show that add does not mind the lines.
@test "add through libvirt after a configuration of 1 to 128 match lines: each exits 0 (under AddressSanitizer: its leak check too)" {
        node "$(stopped gaming)"
        local n counts="1 62 128"
        [ -z "${ASAN_OPTIONS:-}" ] || counts=$(seq 1 128)
        for n in $counts; do
                {
                        printf '[device gpu]\nmatch = 10de:2204\n[device other]\n'
                        for ((i = 1; i <= n; i++)); do printf 'match = 1234:%04x\n' "$i"; done
                } > "$CONF/vfio-claim.conf"
                run --separate-stderr vm --json add gaming 01:00.0
                [ "$status" -eq 0 ] || echo "with $n match lines: exit $status; $stderr" >&3
                assert_success
        done
}
