#!/usr/bin/env bats
# vfio-claim doctor on fake kernels: each fixture or file below carries one known fault (or none);
# doctor must name it, say how to fix it, exit 1 only when something fails, and raise nothing on a
# healthy host. Files the fixture format does not describe (proc/interrupts, modprobe.d, module
# indexes) are written into the tree after fake_root.

bats_require_minimum_version 1.5.0
load helpers

# a kernel that remaps interrupts, as /proc/interrupts shows it
fk_ir_on() {
        fk_file proc/interrupts "            CPU0       CPU1
 120:          0         35  IR-PCI-MSI 524288-edge      nvme0q0
 121:       1024          0  IR-PCI-MSI 327680-edge      xhci_hcd"
}

healthy() {
        fake_root "${1:-doctor-healthy}"
        fk_ir_on
        fk_file sys/module/vfio_iommu_type1/initstate live
        fk_file sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts N
}

# doctor_json ARGS: run doctor --json; $output is the document
doctor_json() {
        run --separate-stderr vc --json doctor "$@"
        echo "$output" | jq -e . >/dev/null
}

# field CHECK [DEVICE] FIELD: one field of the (first) finding of CHECK (for DEVICE)
field() {
        local check=$1 dev=${3:+$2} key=${3:-$2}
        if [ -n "$dev" ]; then
                echo "$output" | jq -r "[.findings[] | select(.check == \"$check\" and .device == \"$dev\")][0].$key"
        else
                echo "$output" | jq -r "[.findings[] | select(.check == \"$check\")][0].$key"
        fi
}

summary() {
        echo "$output" | jq -r '"\(.summary.ok) \(.summary.warn) \(.summary.fail)"'
}

@test "doctor: a healthy host raises no warning and no failure (exit 0)" {
        healthy
        run --separate-stderr vc doctor
        assert_success
        refute_line --regexp '^(warn|fail) '
        assert_line --regexp '^ok +IOMMU enabled: Intel VT-d \(dmar0\), 5 IOMMU groups; kernel command line: intel_iommu=on iommu=pt'
        assert_line 'ok    interrupt remapping is active (IR- interrupt domains in /proc/interrupts)'
        assert_line 'ok    IOMMU group 1: 0000:01:00.0 with its own functions 0000:01:00.1 (audio, snd_hda_intel)'
        assert_line 'ok    0000:01:00.0: reset methods: flr bus'
        doctor_json
        assert_success
        assert_equal "$(echo "$output" | jq -r '.summary.warn + .summary.fail')" 0
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.level != "ok")] | length')" 0
        # every check names itself, every finding has a level and a text
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == null or .finding == null or .level == null)] | length')" 0
        for c in iommu interrupt-remapping unsafe-interrupts acs-override vfio-modules vfio-pci-ids group host-driver reset bars link; do
                assert_equal "$(field "$c" level)" ok
        done
        assert_equal "$(field link 0000:01:00.0 finding)" "0000:01:00.0: PCIe link at 16.0 GT/s PCIe x16, the best both ends support"
        # the boot VGA (the iGPU driving the console) is not the card meant for a VM
        assert_equal "$(field reset 0000:00:02.0 level)" null
        assert_equal "$(field reset 0000:01:00.0 level)" ok
        assert_equal "$(fk_writes)" 0
}

@test "doctor: no IOMMU on an Intel host: fail, with the firmware and intel_iommu=on fix" {
        fake_root doctor-no-iommu
        fk_file proc/cpuinfo "vendor_id	: GenuineIntel"
        run --separate-stderr vc doctor
        assert_failure 1
        assert_line 'fail  no IOMMU: the kernel found no DMAR unit (/sys/class/iommu is empty) and there are no IOMMU groups; intel_iommu=on is not on the kernel command line'
        assert_line '      fix: enable VT-d ("Intel Virtualization Technology for Directed I/O") in the firmware setup and add intel_iommu=on to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (grub2-mkconfig on Fedora) and reboot'
        doctor_json
        assert_failure 1
        assert_equal "$(field iommu level)" fail
        assert_equal "$(field iommu device)" null
        assert_equal "$(field group 0000:01:00.0 finding)" "0000:01:00.0 belongs to no IOMMU group: it cannot be passed through"
        [ "$(echo "$output" | jq -r '.summary.fail')" -ge 2 ]
}

@test "doctor: intel_iommu=on with VT-d off in the firmware: the fix names the firmware" {
        fake_root doctor-no-iommu
        fk_file proc/cpuinfo "vendor_id	: GenuineIntel"
        fk_file proc/cmdline "BOOT_IMAGE=/boot/vmlinuz root=/dev/sda2 ro intel_iommu=on"
        doctor_json
        assert_failure 1
        assert_equal "$(field iommu fix)" 'enable VT-d ("Intel Virtualization Technology for Directed I/O") in the firmware setup; the DMAR ACPI table is missing'
}

@test "doctor: no IOMMU on an AMD host: the fix is AMD-Vi in the firmware" {
        fake_root doctor-no-iommu
        fk_file proc/cpuinfo "vendor_id	: AuthenticAMD"
        doctor_json
        assert_failure 1
        assert_equal "$(field iommu finding)" "no IOMMU: the kernel found no AMD-Vi unit (/sys/class/iommu is empty) and there are no IOMMU groups"
        assert_equal "$(field iommu fix)" 'enable the IOMMU ("AMD-Vi" or "IOMMU", next to SVM) in the firmware setup; the kernel turns it on by itself'
}

@test "doctor: intel_iommu=off on the kernel command line is named" {
        fake_root doctor-iommu-off
        run --separate-stderr vc doctor
        assert_failure 1
        assert_line 'fail  IOMMU disabled on the kernel command line (intel_iommu=off): no IOMMU groups, no device can be passed through'
        assert_line '      fix: replace intel_iommu=off with intel_iommu=on in GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (grub2-mkconfig on Fedora) and reboot'
}

@test "doctor: AMD-Vi is recognised (ivhd units)" {
        fake_root doctor-amd-navi10
        fk_ir_on
        doctor_json
        assert_equal "$(field iommu level)" ok
        assert_equal "$(field iommu finding)" "IOMMU enabled: AMD-Vi (ivhd0), 1 IOMMU group; kernel command line: iommu=pt (passthrough mode for host DMA: fine for VFIO)"
}

@test "doctor: interrupt remapping off: fail, and allow_unsafe_interrupts=Y: warn" {
        healthy
        fk_file proc/interrupts "            CPU0
 120:          0  PCI-MSI 524288-edge      nvme0q0"
        doctor_json
        assert_failure 1
        assert_equal "$(field interrupt-remapping level)" fail
        assert_equal "$(field interrupt-remapping finding)" "interrupt remapping is off (no IR- interrupt domain in /proc/interrupts): vfio refuses to attach devices unless allow_unsafe_interrupts is set, which lets a VM inject interrupts into the host"
        # intremap=off is named even when nothing else tells (a tree without /proc/interrupts)
        rm "$ROOT/proc/interrupts"
        fk_file proc/cmdline "root=/dev/sda2 intel_iommu=on intremap=off"
        doctor_json
        assert_equal "$(field interrupt-remapping level)" fail
        assert_equal "$(field interrupt-remapping finding)" "interrupt remapping is disabled on the kernel command line (intremap=off): vfio refuses to attach devices unless allow_unsafe_interrupts is set"
        assert_equal "$(field interrupt-remapping fix)" "remove intremap=off from GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (grub2-mkconfig on Fedora) and reboot"
        assert_equal "$(field unsafe-interrupts level)" ok
        fk_file sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts Y
        doctor_json
        assert_equal "$(field unsafe-interrupts level)" warn
        assert_equal "$(field unsafe-interrupts finding)" "vfio_iommu_type1 is loaded with allow_unsafe_interrupts=Y: a VM can inject interrupts into the host (MSI attacks) when interrupt remapping is missing"
}

@test "doctor: without /proc/interrupts the VT-d ecap IR bit decides" {
        healthy
        rm "$ROOT/proc/interrupts"
        fk_file sys/class/iommu/dmar0/intel-iommu/ecap f050d2
        doctor_json
        assert_equal "$(field interrupt-remapping level)" fail
        assert_equal "$(field interrupt-remapping finding)" "dmar0 does not support interrupt remapping (ecap f050d2, IR bit 3 clear): vfio refuses to attach devices unless allow_unsafe_interrupts is set"
        fk_file sys/class/iommu/dmar0/intel-iommu/ecap f050da
        doctor_json
        assert_success
        assert_equal "$(field interrupt-remapping level)" ok
        assert_equal "$(field interrupt-remapping finding)" "the IOMMU supports interrupt remapping (ecap IR bit set)"
}

@test "doctor: allow_unsafe_interrupts in modprobe.d is a warning too" {
        healthy
        rm -r "$ROOT/sys/module/vfio_iommu_type1"
        fk_file etc/modprobe.d/vfio.conf "options vfio_iommu_type1 allow_unsafe_interrupts=1"
        doctor_json
        assert_success
        assert_equal "$(field unsafe-interrupts level)" warn
        assert_equal "$(field unsafe-interrupts finding)" 'modprobe.d sets "options vfio_iommu_type1 allow_unsafe_interrupts=1": a VM can inject interrupts into the host (MSI attacks) when interrupt remapping is missing'
}

@test "doctor: pcie_acs_override is a warning about the security trade-off" {
        healthy
        fk_file proc/cmdline "root=/dev/sda2 ro intel_iommu=on pcie_acs_override=downstream,multifunction"
        run --separate-stderr vc doctor
        assert_success
        assert_line --regexp '^warn  pcie_acs_override=downstream,multifunction is on the kernel command line: groups are split on the kernel.s word, not the hardware.s'
        doctor_json
        assert_equal "$(field acs-override level)" warn
        [[ "$(field acs-override fix)" == "accept the security trade-off knowingly, or move the device to a slot with real isolation and remove pcie_acs_override from GRUB_CMDLINE_LINUX"* ]]
}

@test "doctor: a group shared with unrelated endpoints is named with what they are" {
        fake_root doctor-shared-group
        fk_ir_on
        doctor_json
        assert_success
        assert_equal "$(field group 0000:03:00.0 level)" warn
        assert_equal "$(field group 0000:03:00.0 finding)" "IOMMU group 7 of 0000:03:00.0 also holds 0000:00:14.0 (usb, xhci_hcd), 0000:00:1f.6 (ethernet, e1000e): claiming it takes them from the host too"
}

@test "doctor: a PCIe link narrower than both ends support is a warning" {
        fake_root doctor-shared-group
        fk_ir_on
        doctor_json
        assert_equal "$(field link 0000:03:00.0 level)" warn
        assert_equal "$(field link 0000:03:00.0 finding)" "0000:03:00.0: PCIe link runs at x4, below the x16 both ends support (8.0 GT/s PCIe of 8.0 GT/s PCIe): less bandwidth for the VM"
}

@test "doctor: a GPU idling at 2.5 GT/s is not a link problem" {
        fake_root doctor-big-bar
        fk_ir_on
        doctor_json
        assert_equal "$(field link 0000:01:00.0 level)" ok
        assert_equal "$(field link 0000:01:00.0 finding)" "0000:01:00.0: PCIe link at 2.5 GT/s PCIe x16 of 16.0 GT/s PCIe: GPUs drop to the lowest speed while idle, which is normal; check again under load"
}

@test "doctor: a 48 GiB BAR needs a larger 64-bit MMIO window, with the libvirt XML to get it" {
        fake_root doctor-big-bar
        fk_ir_on
        run --separate-stderr vc doctor 01:00.0
        assert_success
        assert_line "warn  0000:01:00.0: BAR1 is 48 GiB (64-bit prefetchable BARs 49184 MiB in all), more than the 32 GiB 64-bit MMIO window OVMF gives a VM by default: the guest sees the device but its driver fails to initialise it"
        assert_line "      fix: enlarge the VM firmware's window: in the domain XML add <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=131072'/></qemu:commandline> (with xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' on <domain>)"
        doctor_json 0000:01:00.0
        assert_equal "$(field bars 0000:01:00.0 level)" warn
        assert_equal "$(field bars 0000:01:00.0 device)" 0000:01:00.0
}

@test "doctor: AMD Navi 10 without vendor-reset is a warning; with it and device_specific, ok" {
        fake_root doctor-amd-navi10
        fk_ir_on
        doctor_json
        assert_success
        assert_equal "$(field vendor-reset 0000:0b:00.0 level)" warn
        assert_equal "$(field vendor-reset 0000:0b:00.0 finding)" '0000:0b:00.0: AMD Navi 10 GPU: this family does not come back from a reset (the "AMD reset bug"), so a VM reboot or a second VM start finds it dead; the vendor-reset module is not installed'
        assert_equal "$(field vendor-reset 0000:0b:00.0 fix)" "install vendor-reset (github.com/gnif/vendor-reset, DKMS), load it at boot and set reset = device_specific for 0000:0b:00.0"
        fk_file sys/module/vendor_reset/initstate live
        doctor_json
        assert_equal "$(field vendor-reset 0000:0b:00.0 level)" warn
        assert_equal "$(field vendor-reset 0000:0b:00.0 finding)" '0000:0b:00.0: AMD Navi 10 GPU; vendor-reset is loaded but reset_method is "bus", so the kernel does not use it'
        fk_file sys/bus/pci/devices/0000:0b:00.0/reset_method "device_specific bus"
        doctor_json
        assert_equal "$(field vendor-reset 0000:0b:00.0 level)" ok
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "vendor-reset")] | length')" 1
}

@test "doctor: no reset method at all, and bus reset blocked by a host device on the same bus" {
        fake_root doctor-no-reset
        fk_ir_on
        doctor_json 0000:03:00.0
        assert_success
        assert_equal "$(field reset 0000:03:00.0 level)" warn
        assert_equal "$(field reset 0000:03:00.0 finding)" "0000:03:00.0 has no reset method (no FLR, no power-management or bus reset): the VM inherits whatever state the host or the last VM left, and it may fail to start again after a VM stops"
        doctor_json 0000:04:00.0
        assert_equal "$(field reset 0000:04:00.0 level)" warn
        assert_equal "$(field reset 0000:04:00.0 finding)" "0000:04:00.0: bus reset is its only reset method, but bus 0000:04 also holds 0000:04:00.1 (ethernet, igb) in use by the host: the reset cannot happen"
        # its own group-mate on the bus would be fine: the GPU in the healthy host resets by bus too
        healthy
        fk_file sys/bus/pci/devices/0000:01:00.0/reset_method bus
        doctor_json 0000:01:00.0
        assert_equal "$(field reset 0000:01:00.0 level)" ok
}

@test "doctor: a blacklisted host driver means the device cannot be given back" {
        healthy
        fk_file etc/modprobe.d/blacklist-nouveau.conf "blacklist nouveau"
        run --separate-stderr vc doctor 0000:01:00.0
        assert_failure 1
        assert_line 'fail  0000:01:00.0: its host driver nouveau is blacklisted ("blacklist" in modprobe.d): it never binds by itself, so the device cannot be given back to the host when a VM stops'
        assert_line '      fix: delete "blacklist nouveau" from /etc/modprobe.d, run update-initramfs -u (dracut -f on Fedora); let vfio-claim claim the device instead (boot = yes)'
        doctor_json 0000:01:00.0
        assert_equal "$(field host-driver 0000:01:00.0 level)" fail
        # the other function's driver is not affected
        assert_equal "$(field host-driver 0000:01:00.1 level)" null
}

@test "doctor: install DRIVER /bin/false and module_blacklist= block the host driver too" {
        healthy
        fk_file etc/modprobe.d/nouveau.conf "install nouveau /bin/false"
        doctor_json 0000:01:00.0
        assert_failure 1
        assert_equal "$(field host-driver 0000:01:00.0 finding)" '0000:01:00.0: modprobe.d has "install nouveau /bin/false": loading the host driver does nothing, so the device cannot be given back to the host'
        rm "$ROOT/etc/modprobe.d/nouveau.conf"
        fk_file proc/cmdline "root=/dev/sda2 intel_iommu=on module_blacklist=nouveau"
        doctor_json 0000:01:00.0
        assert_failure 1
        assert_equal "$(field host-driver 0000:01:00.0 finding)" "0000:01:00.0: its host driver nouveau is listed in module_blacklist= on the kernel command line: the kernel refuses to load it, so the device can never be given back to the host"
}

@test "doctor: vfio-pci.ids= on the command line and in modprobe.d, and softdep pre: vfio-pci" {
        healthy
        fk_file proc/cmdline "root=/dev/sda2 intel_iommu=on vfio-pci.ids=10de:2204,10de:1aef"
        doctor_json
        assert_success
        assert_equal "$(field vfio-pci-ids level)" warn
        assert_equal "$(field vfio-pci-ids finding)" "the kernel command line sets vfio-pci.ids=10de:2204,10de:1aef matches (0000:01:00.0, 0000:01:00.1): vfio-pci grabs these devices at boot, outside vfio-claim, so there is no record of their host driver to give them back to"
        fk_file proc/cmdline "root=/dev/sda2 intel_iommu=on"
        fk_file etc/modprobe.d/vfio.conf "options vfio-pci ids=10de:2204
softdep nouveau pre: vfio-pci"
        doctor_json
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "vfio-pci-ids" and .level == "warn")] | length')" 2
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "vfio-pci-ids")][0].finding')" 'modprobe.d sets "options vfio-pci ids=10de:2204" matches (0000:01:00.0): vfio-pci grabs these devices whenever it loads, outside vfio-claim, and takes them back after a release'
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "vfio-pci-ids")][1].finding')" 'modprobe.d has "softdep nouveau pre: vfio-pci": vfio-pci is loaded before nouveau to win the race for the devices, the old way of claiming that fights vfio-claim'"'"'s claim and release'
}

@test "doctor: vfio-pci missing from the kernel's modules is a failure; built in is fine" {
        fake_root doctor-no-reset
        fk_ir_on
        rm -r "$ROOT/sys/module/vfio_pci" "$ROOT/sys/bus/pci/drivers/vfio-pci"
        fk_file proc/sys/kernel/osrelease 6.1.0-13-amd64
        fk_file lib/modules/6.1.0-13-amd64/modules.dep "kernel/drivers/net/ethernet/intel/igb/igb.ko.xz: kernel/drivers/dca/dca.ko.xz"
        doctor_json 0000:04:00.0
        assert_failure 1
        assert_equal "$(field vfio-modules level)" fail
        assert_equal "$(field vfio-modules finding)" "vfio modules of kernel 6.1.0-13-amd64: vfio_pci MISSING, vfio_iommu_type1 MISSING"
        fk_file lib/modules/6.1.0-13-amd64/modules.builtin "kernel/drivers/vfio/vfio.ko
kernel/drivers/vfio/vfio_iommu_type1.ko
kernel/drivers/vfio/pci/vfio-pci.ko"
        doctor_json 0000:04:00.0
        assert_equal "$(field vfio-modules level)" ok
        assert_equal "$(field vfio-modules finding)" "vfio modules: vfio_pci built into the kernel, vfio_iommu_type1 built into the kernel"
        fk_file lib/modules/6.1.0-13-amd64/modules.builtin ""
        fk_file lib/modules/6.1.0-13-amd64/modules.dep "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz
kernel/drivers/vfio/vfio_iommu_type1.ko.xz:"
        doctor_json 0000:04:00.0
        assert_equal "$(field vfio-modules finding)" "vfio modules: vfio_pci available as a module, vfio_iommu_type1 available as a module"
}

@test "doctor: a configured device that is not present is a warning" {
        healthy
        mkdir -p "$BATS_TEST_TMPDIR/conf"
        printf '[device gpu]\nmatch = 0000:01:00.0\n\n[device gone]\nmatch = 0000:09:00.0\n' > "$BATS_TEST_TMPDIR/conf/vfio-claim.conf"
        run --separate-stderr vc --config "$BATS_TEST_TMPDIR/conf" --json doctor
        assert_success
        assert_equal "$(field config level)" warn
        assert_equal "$(field config finding)" "configured device gone (vfio-claim.conf:4) matches no PCI device on this host"
        # only the configured device is examined
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.device != null) | .device] | unique | join(" ")')" 0000:01:00.0
}

@test "doctor: usage: an unknown argument is neither a device nor a domain" {
        healthy
        run --separate-stderr vc --connect "test:///default" doctor no-such-vm
        assert_failure 2
        [[ "$stderr" == *"no-such-vm: not a PCI address, group:N, configured device or libvirt domain (test:///default)"* ]]
        run --separate-stderr vc doctor 0000:09:00.0
        assert_failure 1
        [[ "$stderr" == *"0000:09:00.0: no such PCI device"* ]]
        run vc doctor a b
        assert_failure 2
}

# A libvirt test-driver node: the real libvirt library, no daemon.
vm_node() {
        cat > "$BATS_TEST_TMPDIR/node.xml" <<EOF
<node>
  <domain type='test'>
    <name>$1</name>
    <memory>1048576</memory>
    <os><type arch='x86_64' machine='$2'>hvm</type>$3</os>
    <features>$4</features>
    <devices>$5</devices>
  </domain>
</node>
EOF
        echo "test://$BATS_TEST_TMPDIR/node.xml"
}

hostdev() {
        echo "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x$1' slot='0x$2' function='0x$3'/></source></hostdev>"
}

@test "doctor VM: q35 with UEFI and the whole group: ok" {
        healthy
        uri=$(vm_node win11 pc-q35-7.2 "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>" "<kvm><hidden state='on'/></kvm>" "$(hostdev 01 00 0)$(hostdev 01 00 1)")
        run --separate-stderr vc --connect "$uri" --json doctor win11
        assert_success
        assert_equal "$(field vm-machine level)" ok
        assert_equal "$(field vm-firmware level)" ok
        assert_equal "$(field vm-groups level)" ok
        assert_equal "$(field vm-groups finding)" "VM win11: 2 PCI host devices, every IOMMU group complete or claimed by vfio-claim"
        assert_equal "$(field vm-nvidia level)" null
        # the VM's devices were examined
        assert_equal "$(field bars 0000:01:00.0 level)" ok
}

@test "doctor VM: i440fx, BIOS, half a group and an NVIDIA card without hidden state" {
        healthy
        uri=$(vm_node win10 pc-i440fx-7.2 "" "" "$(hostdev 01 00 0)")
        run --separate-stderr vc --connect "$uri" doctor win10
        assert_failure 1
        assert_line "warn  VM win10: machine type pc-i440fx-7.2 is not q35: passed-through PCIe devices sit on a conventional PCI bus, and GPU drivers expect PCIe"
        assert_line "fail  VM win10 uses IOMMU group 1 only in part: 0000:01:00.1 is not in the VM and no configured device claims the group, so QEMU finds the group not viable"
        assert_line "      fix: vfio-claim add win10 0000:01:00.0 (adds every endpoint of the group), or configure the device in vfio-claim.conf"
        run --separate-stderr vc --connect "$uri" --json doctor win10
        assert_equal "$(field vm-firmware level)" warn
        assert_equal "$(field vm-nvidia level)" warn
        assert_equal "$(field vm-nvidia fix)" "with an older guest driver add <kvm><hidden state='on'/></kvm> to <features> in the domain XML; drivers 465 and newer need nothing"
        # a configured device claims the whole group: then the group is complete
        mkdir -p "$BATS_TEST_TMPDIR/conf"
        printf '[device gpu]\nmatch = 10de:2204\n' > "$BATS_TEST_TMPDIR/conf/vfio-claim.conf"
        run --separate-stderr vc --config "$BATS_TEST_TMPDIR/conf" --connect "$uri" --json doctor win10
        assert_equal "$(field vm-groups level)" ok
}

@test "show: reset methods, link, BAR sizes, NUMA node and the vendor-reset quirk of each device" {
        fake_root doctor-amd-navi10
        run --separate-stderr vc show 0000:0b:00.0
        assert_success
        assert_line '      reset methods: bus'
        assert_line '      reset quirk:   AMD Navi 10: needs the vendor-reset module (reset = device_specific)'
        assert_line '      link:          16.0 GT/s PCIe x16 (max 16.0 GT/s PCIe x16)'
        assert_line '      BAR0:          256 MiB 64-bit, prefetchable'
        run --separate-stderr vc --json show 0000:0b:00.0
        assert_equal "$(echo "$output" | jq -r '.groups[0].devices[] | select(.address == "0000:0b:00.0") | .vendor_reset_family')" "Navi 10"
        assert_equal "$(echo "$output" | jq -r '.groups[0].devices[] | select(.address == "0000:0b:00.1") | .vendor_reset_family')" null
        assert_equal "$(echo "$output" | jq -r '.groups[0].devices[] | select(.address == "0000:0b:00.0") | [.reset_methods[], .link.max_width, (.bars[0].size)] | join(" ")')" "bus 16 268435456"
        fake_root doctor-healthy
        run --separate-stderr vc show 0000:02:00.0
        assert_line '      NUMA node:     0'
        refute_line --partial 'reset quirk'
}

# Make the device at $1 the NIC of the IPv4 default route, as /proc and sysfs show it.
default_route_nic() {
        mkdir -p "$ROOT/proc/net" "$ROOT/sys/class/net/eth0"
        printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' \
                > "$ROOT/proc/net/route"
        # relative, as sysfs makes its links: the tree is the root, a link out of it leads nowhere
        ln -sr "$(readlink -f "$ROOT/sys/bus/pci/devices/$1")" "$ROOT/sys/class/net/eth0/device"
}

@test "doctor: a group holding the host's default-route NIC fails, and so does the NIC itself" {
        fake_root doctor-shared-group
        fk_ir_on
        default_route_nic 0000:00:1f.6
        run --separate-stderr vc doctor 0000:03:00.0
        assert_failure 1
        assert_line "fail  IOMMU group 7 of 0000:03:00.0 also holds 0000:00:14.0 (usb, xhci_hcd), 0000:00:1f.6 (ethernet, e1000e, host-critical: NIC of the default route (eth0)): the whole group goes to the VM together, and the host cannot lose a host-critical device"
        assert_line "      fix: move the card to another slot (one wired to the CPU usually has its own group); vfio-claim refuses this group unless --force is given"
        doctor_json 0000:00:1f.6
        assert_failure 1
        assert_equal "$(field critical 0000:00:1f.6 level)" fail
        assert_equal "$(field critical 0000:00:1f.6 finding)" "0000:00:1f.6 is host-critical: NIC of the default route (eth0); giving it to a VM takes it from the host"
        # without the route, the same group is only a warning
        rm "$ROOT/proc/net/route"
        doctor_json 0000:03:00.0
        assert_success
        assert_equal "$(field group 0000:03:00.0 level)" warn
}

# A disk that is only in use (a file system mounted at /srv/data) fails too, with the fix that
# applies: let it go, then claim it.
@test "doctor: a disk with a mounted file system fails as in use, and says to unmount it" {
        fake_root gpu-audio
        fk_ir_on
        blk=$(readlink -f "$ROOT/sys/bus/pci/devices/0000:02:00.0")/nvme/nvme0/nvme0n1/nvme0n1p1
        mkdir -p "$blk" "$ROOT/sys/dev/block" "$ROOT/proc/self"
        echo 1 > "$blk/partition"
        ln -sr "$blk" "$ROOT/sys/dev/block/259:1"
        echo "31 1 259:1 / /srv/data rw,relatime shared:5 - ext4 /dev/nvme0n1p1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr vc doctor 0000:02:00.0
        assert_failure 1
        assert_line "fail  0000:02:00.0 is in use: controller of /dev/nvme0n1p1, mounted at /srv/data; giving it to a VM takes it from under its users"
        assert_line "      fix: unmount the file system, or close what is built on the disk, then claim it; vfio-claim refuses it until then unless --force is given"
        : > "$ROOT/proc/self/mountinfo"
        run --separate-stderr vc doctor 0000:02:00.0
        refute_line --partial "is in use"
}

# The only keyboard of the console the admin runs doctor on sits on the xHCI: what the session
# stands on, with the fixes that apply.
@test "doctor: the controller of the last keyboard of this console fails as what the session stands on" {
        fake_root usb-desk
        fk_ir_on
        keyboard_below 0000:00:14.0 3-2/3-2:1.0/0003:046D:C31C.0001/input input5 "Logitech USB Keyboard"
        session_on_tty 1026
        run --separate-stderr vc doctor 0000:00:14.0
        assert_failure 1
        assert_line "fail  0000:00:14.0 is what this session stands on: controller of the keyboard of the console this command runs on (tty2: Logitech USB Keyboard); giving it to a VM from here cuts the session off"
        assert_line "      fix: claim it from another session (over SSH through another NIC, at another console), or give the console a keyboard on another controller; vfio-claim refuses it from this session unless --force is given"
        session_on_tty 34817
        run --separate-stderr vc doctor 0000:00:14.0
        refute_line --partial "this session"
}

# [usb] entries: one that selects the USB stick the host boots from (a SanDisk model named for a
# VM), one whose boot = yes holds two twin adapters, one that selects nothing present.
@test "doctor: a [usb] entry that selects the host's boot stick fails; twins held at boot and an entry matching nothing warn" {
        fake_root usb-desk
        fk_ir_on
        blk=$(readlink -f "$ROOT/sys/bus/usb/devices/3-3:1.0")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/proc/self" "$CONF"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1"
        echo "26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        printf '[usb sticks]\nmatch = 0781:5583\nvm = win11\n\n[usb serial]\nmatch = 0403:6001\nboot = yes\n\n[usb gone]\nmatch = 1234:5678\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc doctor
        assert_failure 1
        assert_line "fail  USB device 3-3 (0781:5583), which [usb sticks] selects, is one the host needs: it holds the root filesystem /dev/sda1"
        assert_line "      fix: narrow [usb sticks] with serial = or port =; the hook refuses this device and the boot claims leave it to the host unless protect = no"
        assert_line "warn  [usb serial] (vfio-claim.conf:5) selects 2 USB devices (3-1.2, 3-1.3), and boot = yes holds each of them at boot"
        assert_line "warn  configured USB device gone (vfio-claim.conf:9) matches no USB device on this host"
        assert_line "skip  no PCI device to examine: only [usb] entries are configured and there is no display controller; name one: vfio-claim doctor DEVICE"
        # unmounted, and the twins told apart: nothing of the first two is said
        : > "$ROOT/proc/self/mountinfo"
        printf '[usb sticks]\nmatch = 0781:5583\nvm = win11\n\n[usb serial]\nmatch = 0403:6001\nserial = A10K1234\nboot = yes\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc doctor
        refute_line --partial "[usb sticks]"
        refute_line --partial "[usb serial]"
}

# A boot = yes entry by ids alone for a VM's keyboard model, which is also the host's only
# keyboard: from the next boot (the initramfs holds it too) nobody types at the console.
@test "doctor: boot = yes entries that hold every keyboard of the host warn; another keyboard left to the host does not" {
        fake_root usb-desk
        keyboard_below 0000:00:14.0 3-2/3-2:1.0/0003:046D:C31C.0001/input input5 "Logitech USB Keyboard"
        mkdir -p "$CONF"
        printf '[usb kbd]\nmatch = 046d:c31c\nvm = win11\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc doctor
        assert_line "warn  boot = yes of [usb kbd] (vfio-claim.conf:1) holds the only keyboard of this host (3-2: Logitech USB Keyboard): from the next boot nobody can type at the console, not even a disk's passphrase in the initramfs"
        assert_line "      fix: keep a keyboard on the host, or narrow [usb kbd] with serial = or port = if it selects the host's own keyboard too"
        # without boot = yes: held only while the VM runs
        printf '[usb kbd]\nmatch = 046d:c31c\nvm = win11\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc doctor
        refute_line --partial "keyboard of this host"
        # a laptop's keyboard stays with the host
        printf '[usb kbd]\nmatch = 046d:c31c\nvm = win11\nboot = yes\n' > "$CONF/vfio-claim.conf"
        dir="$ROOT/sys/devices/platform/i8042/serio0/input/input1"
        mkdir -p "$dir/capabilities"
        echo 120013 > "$dir/capabilities/ev"
        echo "402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe" > "$dir/capabilities/key"
        echo "AT Translated Set 2 keyboard" > "$dir/name"
        ln -s ../../devices/platform/i8042/serio0/input/input1 "$ROOT/sys/class/input/input1"
        run --separate-stderr vc doctor
        refute_line --partial "keyboard of this host"
}

# ---- reset = (claim writes reset_method, release resets first)

# conf DEVICE-SECTION-BODY: the configuration under the fake root
conf() {
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# writes_to ATTR: the logged writes to ATTR, "DEVICE VALUE RESULT" per line
writes_to() {
        awk -F'\t' -v a="/$1" 'substr($1, length($1) - length(a) + 1) == a {
                n = split($1, p, "/"); print p[n - 1], $2, $3 }' "$ROOT/.fakekernel/writes.log"
}

@test "reset: claim writes the configured method to reset_method before any driver moves" {
        healthy
        conf "reset = flr"
        run vc apply
        assert_success
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" flr
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(writes_to reset_method)" "0000:01:00.0 flr ok"
        # first write of the whole operation
        assert_equal "$(head -n1 "$ROOT/.fakekernel/writes.log" | cut -f1,2)" \
                "$(printf 'sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/reset_method\tflr')"
        # the function that is not configured keeps its methods
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.1/reset_method")" "flr bus"
        # claimed again: the method is already right, nothing is written
        n=$(fk_writes)
        run vc apply
        assert_success
        assert_equal "$(fk_writes)" "$n"
}

@test "reset: auto writes nothing, none writes an empty line, a dry run shows the write" {
        healthy
        conf "reset = none"
        run vc --dry-run apply
        assert_success
        assert_line '  write /sys/bus/pci/devices/0000:01:00.0/reset_method <- "\n"'
        assert_equal "$(fk_writes)" 0
        run vc apply
        assert_success
        assert_equal "$(writes_to reset_method)" '0000:01:00.0 \n ok'
        # no method enabled: the kernel shows nothing at all
        [ ! -s "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method" ]
        run vc release gpu
        assert_success
        # the release wrote back what the device had before the claim
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" "flr bus"
        # auto leaves the methods as they are: even a list narrowed by hand stays
        fk_sh "echo bus > '$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method'"
        n=$(writes_to reset_method | wc -l)
        conf "reset = auto"
        run vc apply
        assert_success
        assert_equal "$(writes_to reset_method | wc -l)" "$n"
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" "bus"
}

@test "reset: a method the kernel refuses fails the claim and moves nothing" {
        healthy
        conf "reset = bus"
        fk_fail 'glob:*/0000:01:00.0/reset_method EINVAL'
        run vc apply
        assert_failure 1
        assert_output --partial '0000:01:00.0: failed to set reset_method to bus: Invalid argument'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        [ ! -e "$ROOT/dev/vfio/1" ]
        # without a fault: the kernel refuses a method the device does not support, and keeps its own
        healthy
        conf "reset = device_specific"
        run vc apply
        assert_failure 1
        assert_output --partial '0000:01:00.0: failed to set reset_method to device_specific: Invalid argument'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" "flr bus"
        assert_equal "$(writes_to reset_method)" "0000:01:00.0 device_specific EINVAL"
        # a kernel without reset_method (before 5.15) cannot honour an explicit method either
        fake_root doctor-healthy
        conf "reset = flr"
        rm "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method"
        run vc apply
        assert_failure 1
        assert_output --partial '0000:01:00.0: failed to set reset_method to flr: Operation not supported'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        # ... while auto has nothing to do there
        conf "reset = auto"
        run vc apply
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
}

@test "reset: a claim that fails after writing reset_method puts the kernel's list back" {
        healthy
        conf "reset = flr"
        # the method is written first (write 1), then the GPU's driver_override, unbind and
        # drivers_probe (write 4), which fails
        fk_fail "$(($(cat "$ROOT/.fakekernel/counter" 2>/dev/null || echo 0) + 4)) EIO"
        run vc apply
        assert_failure 1
        assert_output --partial 'failed to probe: Input/output error'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" "flr bus"
        assert_equal "$(writes_to reset_method)" "0000:01:00.0 flr ok
0000:01:00.0 flr bus ok"
}

@test "reset: apply on a claimed group writes a changed reset = and nothing else; a second apply has nothing to do" {
        healthy
        conf "reset = flr"
        run vc apply
        assert_success
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" flr
        conf "reset = bus"
        n=$(fk_writes)
        run vc apply
        assert_success
        assert_output --partial "IOMMU group 1: already claimed; reset_method set as configured"
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method")" bus
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(($(fk_writes) - n))" 1
        run vc apply
        assert_success
        assert_output "nothing to do: every group with a boot = yes device is claimed"
}

@test "doctor: a reset_method narrowed by an earlier claim is a warning, not a failure" {
        healthy
        conf "reset = flr"
        run vc apply
        assert_success
        conf "reset = bus"
        doctor_json 0000:01:00.0
        assert_equal "$(field reset 0000:01:00.0 level)" warn
        assert_equal "$(field reset 0000:01:00.0 finding)" "0000:01:00.0: configured with reset = bus, but reset_method says \"flr\", which vfio-claim may have narrowed at an earlier claim; whether the device supports bus shows only after the kernel's list is back"
        # not claimed by vfio-claim: the list is the kernel's, and the claim would fail
        run vc release 0000:01:00.0
        assert_success
        echo flr > "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method"
        doctor_json 0000:01:00.0
        assert_equal "$(field reset 0000:01:00.0 level)" fail
}

@test "reset: release resets an explicitly configured device before it goes back, and a failed reset keeps it on vfio-pci" {
        healthy
        conf "reset = flr"
        : > "$ROOT/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/reset"
        run vc apply
        assert_success
        fk_fail 'glob:*/0000:01:00.0/reset EIO'
        run vc release gpu
        assert_failure 1
        assert_output --partial '0000:01:00.0: failed to reset the device before giving it back: Input/output error'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        : > "$ROOT/.fakekernel/faults"
        run vc release gpu
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(writes_to reset | tail -n1)" "0000:01:00.0 1 ok"
        # the reset came while vfio-pci still had the device: before its unbind
        r=$(grep -n '/0000:01:00.0/reset	1	ok' "$ROOT/.fakekernel/writes.log" | tail -n1 | cut -d: -f1)
        u=$(grep -n 'drivers/vfio-pci/unbind	0000:01:00.0	ok' "$ROOT/.fakekernel/writes.log" | tail -n1 | cut -d: -f1)
        [ -n "$r" ] && [ -n "$u" ] && [ "$r" -lt "$u" ]
        # auto: no reset on release
        conf "reset = auto"
        run vc apply
        n=$(writes_to reset | wc -l)
        run vc release gpu
        assert_success
        assert_equal "$(writes_to reset | wc -l)" "$n"
}

@test "doctor: a configured reset method the device does not offer fails (the claim would)" {
        healthy
        conf "reset = device_specific"
        doctor_json
        assert_failure 1
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "reset" and .level == "fail")][0].finding')" \
                "0000:01:00.0: configured with reset = device_specific, but the kernel offers only: flr bus: every claim of it will fail"
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "reset" and .level == "fail")][0].fix')" \
                "set reset = auto for [device gpu] (vfio-claim.conf:1), or load the module that provides the device-specific reset (vendor-reset)"
        conf "reset = flr"
        doctor_json
        assert_success
        assert_equal "$(field reset 0000:01:00.0 level)" ok
}

@test "doctor: inside a VM without a virtual IOMMU: the fix is a virtual IOMMU, not the firmware" {
        fake_root doctor-no-iommu
        fk_file proc/cpuinfo "vendor_id	: GenuineIntel
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm"
        run --separate-stderr vc doctor
        assert_failure 1
        assert_line 'fail  no IOMMU: this system is a virtual machine (a hypervisor) that was given no virtual IOMMU, so there are no IOMMU groups'
        assert_line --regexp "^      fix: give this VM a virtual IOMMU \(firmware settings do not apply inside a VM\): with libvirt, a q35 machine with <iommu model='intel'>"
        refute_output --partial 'firmware setup'
        # DMI names the hypervisor
        fk_file sys/class/dmi/id/sys_vendor "QEMU"
        doctor_json
        assert_equal "$(field iommu finding)" "no IOMMU: this system is a virtual machine (QEMU) that was given no virtual IOMMU, so there are no IOMMU groups"
        # bare metal keeps the firmware advice
        fk_file proc/cpuinfo "vendor_id	: GenuineIntel
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep lahf_lm"
        rm "$ROOT/sys/class/dmi/id/sys_vendor"
        doctor_json
        assert_equal "$(field iommu fix)" 'enable VT-d ("Intel Virtualization Technology for Directed I/O") in the firmware setup and add intel_iommu=on to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub (grub2-mkconfig on Fedora) and reboot'
}

@test "doctor: a check that could not run is 'skip', not 'ok', and counted apart" {
        fake_root doctor-healthy
        rm -f "$ROOT/proc/interrupts"
        for f in "$ROOT"/sys/class/iommu/*/intel-iommu/ecap; do rm -f "$f"; done
        run --separate-stderr vc doctor
        assert_line 'skip  interrupt remapping not checked: neither /proc/interrupts nor the IOMMU'"'"'s capability registers are readable'
        assert_line --regexp '^[0-9]+ ok, [0-9]+ warn, [0-9]+ fail, [0-9]+ skipped$'
        doctor_json
        assert_equal "$(field interrupt-remapping level)" skip
        [ "$(echo "$output" | jq -r '.summary.skip')" -ge 1 ]
}

@test "doctor: boot = yes with an initramfs older than the configuration, and the early unit not enabled" {
        fake_root doctor-healthy
        kver=$(cat "$ROOT/proc/sys/kernel/osrelease" 2>/dev/null || uname -r)
        mkdir -p "$ROOT/boot" "$ROOT/etc/systemd/system" "$CONF/conf.d"
        touch -d '2026-01-01 00:00' "$ROOT/boot/initrd.img-$kver"
        dev=$(basename "$(ls -d "$ROOT"/sys/bus/pci/devices/0000:0[1-9]:00.0 | head -1)")
        printf '[device gpu]\nmatch = %s\nboot = yes\n' "$dev" > "$CONF/conf.d/gpu.conf"
        doctor_json
        assert_equal "$(field initramfs level)" fail
        assert_equal "$(field initramfs finding)" "/boot/initrd.img-$kver is older than the configuration in ${CONF#"$ROOT"}: at boot it claims what the old configuration said"
        assert_equal "$(field initramfs fix)" "update-initramfs -u -k $kver"
        assert_equal "$(field early-unit level)" fail
        assert_equal "$(field early-unit fix)" "systemctl enable vfio-claim-early.service"

        # rebuilt and enabled: both ok
        touch "$ROOT/boot/initrd.img-$kver"
        mkdir -p "$ROOT/etc/systemd/system/sysinit.target.wants"
        ln -s /lib/systemd/system/vfio-claim-early.service "$ROOT/etc/systemd/system/sysinit.target.wants/"
        doctor_json
        assert_equal "$(field initramfs level)" ok
        assert_equal "$(field early-unit level)" ok

        # dracut's name, and the configuration changed again
        mv "$ROOT/boot/initrd.img-$kver" "$ROOT/boot/initramfs-$kver.img"
        touch -d '2026-01-01 00:00' "$ROOT/boot/initramfs-$kver.img"
        doctor_json
        assert_equal "$(field initramfs fix)" "dracut -f --kver $kver"

        # without boot = yes entries neither check speaks
        printf '[device gpu]\nmatch = %s\n' "$dev" > "$CONF/conf.d/gpu.conf"
        doctor_json
        assert_equal "$(field initramfs level)" null
        assert_equal "$(field early-unit level)" null
}

@test "doctor VM: the 64-bit BARs of all host devices together against OVMF's window" {
        fake_root two-big-gpus
        local efi="<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"
        # One 16 GiB GPU fits the classic 32 GiB window.
        uri=$(vm_node ai pc-q35-7.2 "$efi" "" "$(hostdev 01 00 0)$(hostdev 01 00 1)")
        run --separate-stderr vc --connect "$uri" --json doctor ai
        assert_equal "$(field vm-mmio level)" ok
        assert_equal "$(field vm-mmio finding)" "VM ai: 16416 MiB of 64-bit prefetchable BARs fit OVMF's 64-bit MMIO window of 32768 MiB"
        # Two do not, though each alone would: the sum counts.
        uri=$(vm_node ai pc-q35-7.2 "$efi" "" "$(hostdev 01 00 0)$(hostdev 01 00 1)$(hostdev 02 00 0)$(hostdev 02 00 1)")
        run --separate-stderr vc --connect "$uri" --json doctor ai
        assert_failure 1
        assert_equal "$(field vm-mmio level)" fail
        assert_equal "$(field vm-mmio finding)" "VM ai: its PCI host devices have 32832 MiB of 64-bit prefetchable BARs, more than OVMF's 64-bit MMIO window of 32768 MiB: the guest sees them but their drivers fail to initialise them"
        assert_equal "$(field vm-mmio fix)" "a window of 131072 MiB: in the domain XML add <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=131072'/></qemu:commandline> (xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' on <domain>); 'vfio-claim add' writes it"
        # SeaBIOS has no fixed window.
        uri=$(vm_node ai pc-q35-7.2 "" "" "$(hostdev 01 00 0)$(hostdev 01 00 1)$(hostdev 02 00 0)$(hostdev 02 00 1)")
        run --separate-stderr vc --connect "$uri" --json doctor ai
        assert_equal "$(field vm-mmio level)" ok
        # A 48 GiB GPU alone is too large as well.
        fake_root doctor-big-bar
        uri=$(vm_node big pc-q35-7.2 "$efi" "" "$(hostdev 01 00 0)")
        run --separate-stderr vc --connect "$uri" --json doctor big
        assert_equal "$(field vm-mmio level)" fail
        assert_equal "$(field vm-mmio fix)" "a window of 131072 MiB: in the domain XML add <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=131072'/></qemu:commandline> (xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' on <domain>); 'vfio-claim add' writes it"
}
