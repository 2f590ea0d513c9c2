#!/usr/bin/env bats
# The initramfs carries the copy of the configuration it was built with. A boot = yes entry
# dropped (or set to boot = no) since its last rebuild is claimed there; the boot pass after the
# switch to the real root (vfio-claim-early.service) gives such a group back, says so, and says
# to rebuild the initramfs. The fake root is in the initramfs while it has /etc/initrd-release,
# as dracut's is; the real root has none. What a real kernel does with it: tests/vm (boot).

bats_require_minimum_version 1.5.0
load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
NIC=0000:02:00.0 # e1000e, group 5
TWIN=0000:01:00.0 # the same model, group 3

setup() {
        fake_root twin-nics
        # the give-back loads the host module the device's modalias names, as release does
        fk_modalias_index 'e1000e pci:v00008086d000010D3sv*sd*bc*sc*i*'
}

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" --all "$@"
}

event() {
        local d="$ROOT/sys/bus/pci/devices/$1" id
        id=$(printf '%s:%s' "$(sed 's/^0x//' "$d/vendor")" "$(sed 's/^0x//' "$d/device")" | tr a-f A-F)
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" \
                PCI_ID="$id" FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER"
}

# initramfs_claims CONFIG: the initramfs's pass claims with CONFIG; then the switch to the real root
initramfs_claims() {
        conf "$1"
        mkdir -p "$ROOT/etc"
        : > "$ROOT/etc/initrd-release"
        run --separate-stderr pass
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        grep -qx "by boot pass in the initramfs" "$STATE/group-5"
        rm "$ROOT/etc/initrd-release"
}

stale_message() {
        echo "vfio-claim-udev: IOMMU group $1: the initramfs claimed it, but no boot = yes entry of the configuration asks for it now: given back to the host; the initramfs has an older copy of the configuration, rebuild it (dracut -f, or update-initramfs -u)"
}

@test "an entry dropped since the initramfs was built: the real root's pass gives its group back" {
        initramfs_claims $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        conf $'[device other]\nmatch = 0000:00:05.0'
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" "$(stale_message 5)"
        refute [ -e "$STATE/group-5" ]
        assert_equal "$(fk_driver $NIC)" e1000e
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/$NIC/driver_override")" "(null)"
        refute [ -e "$ROOT/dev/vfio/5" ]
        # Said once: the next pass has nothing to give back.
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "an entry set to boot = no since: given back; one still boot = yes: kept" {
        initramfs_claims $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        run --separate-stderr pass
        assert_success
        refute_output --partial "initramfs claimed"
        assert_equal "$(fk_driver $NIC)" vfio-pci
        [ -e "$STATE/group-5" ]
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = no'
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" "$(stale_message 5)"
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "a group a udev event claimed in the initramfs is given back the same way" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        mkdir -p "$ROOT/etc"
        : > "$ROOT/etc/initrd-release"
        run --separate-stderr event $NIC
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run grep -x "by udev (PCI add event in the initramfs)" "$STATE/group-5"
        assert_success
        rm "$ROOT/etc/initrd-release"
        conf ''
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" "$(stale_message 5)"
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "what the initramfs did not claim is left alone: a claim of enable, a VM's hold, an invalid configuration" {
        # enable, in the real root: its record names vfio-claim enable
        conf $'[device twin]\nmatch = 01:00.0'
        run --separate-stderr vc enable twin
        assert_success
        assert_equal "$(fk_driver $TWIN)" vfio-pci
        # a boot claim a VM holds now
        initramfs_claims $'[device twin]\nmatch = 01:00.0\n[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        sed -i '1a owner lab-vm' "$STATE/group-5"
        conf ''
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver $NIC)" vfio-pci
        assert_equal "$(fk_driver $TWIN)" vfio-pci
        # an invalid configuration gives nothing back
        sed -i '/^owner lab-vm$/d' "$STATE/group-5"
        conf $'[device guest-nic]\nmatch = 02:00.0\nbot = yes'
        run --separate-stderr pass
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        refute_output --partial "given back"
}

@test "the initramfs's own pass gives nothing back" {
        initramfs_claims $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        : > "$ROOT/etc/initrd-release"
        conf ''
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver $NIC)" vfio-pci
}

# The initramfs's copy said consent = yes (or protect = no), and took a GPU's whole group with
# the onboard USB controller and NIC of other slots; the real root's entry still says boot = yes
# but no longer consents. Its claim is refused, but the group was claimed already: given back,
# or the host would be without its USB and network for the whole boot.
refused_message() {
        echo "vfio-claim-udev: IOMMU group $1: the initramfs claimed it for [device $2] with an older copy of the configuration, which the configuration refuses now ($3): given back to the host; rebuild the initramfs (dracut -f, or update-initramfs -u)"
}

@test "consent = yes only in the initramfs's copy: the real root's pass gives the group back and says why" {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        # at boot: no host driver has the devices yet
        sed -e 's/ driver=nouveau//; s/ driver=xhci_hcd//; s/ driver=e1000e//' \
                "$abs_top_srcdir/tests/fixtures/doctor-shared-group.topo" > "$BATS_TEST_TMPDIR/boot.topo"
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/boot.topo" "$ROOT" > /dev/null
        FAKEKERNEL_ROOT=$ROOT CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$ROOT/etc"
        conf $'[device gpu]\nmatch = 0000:03:00.0\nboot = yes\nconsent = yes'
        : > "$ROOT/etc/initrd-release"
        run --separate-stderr pass
        assert_success
        assert_equal "$(fk_driver 0000:00:1f.6)" vfio-pci
        rm "$ROOT/etc/initrd-release"
        conf $'[device gpu]\nmatch = 0000:03:00.0\nboot = yes'
        run --separate-stderr pass
        assert_success
        local why="0000:00:14.0: refused: not a function of a configured device (another slot of IOMMU group 7); moved only with consent = yes in the entry (vfio-claim enable --yes writes it)"
        assert_equal "${stderr_lines[0]}" "$(refused_message 7 gpu "$why")"
        # the claim after it meets the same refusal: said once, and counted as not claimed
        assert_equal "${#stderr_lines[@]}" 2
        assert_regex "${stderr_lines[1]}" '^vfio-claim-udev: boot pass \(vfio-claim-early\): 1 boot device in 1 group, 0 claimed, 1 failed, in '
        refute [ -e "$STATE/group-7" ]
        assert_equal "$(fk_driver 0000:00:14.0)" xhci_hcd
        assert_equal "$(fk_driver 0000:00:1f.6)" e1000e
        assert_equal "$(fk_driver 0000:03:00.0)" nouveau
        # the next pass has nothing to give back, and the refusal was said already
        run --separate-stderr pass
        assert_success
        refute_output --partial "given back"
        refute_output --partial "refused"
        assert_equal "$(fk_driver 0000:00:1f.6)" e1000e
}

@test "protect = no only in the initramfs's copy: a device of the image's host-critical list is given back" {
        mkdir -p "$CONF"
        echo "$NIC 8086:10d3 NIC of the default route (eth1)" > "$CONF/host-critical"
        initramfs_claims $'[global]\nprotect = no\n[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        run --separate-stderr pass
        assert_success
        assert_equal "${stderr_lines[0]}" "$(refused_message 5 guest-nic "$NIC: refused: NIC of the default route (eth1) when the initramfs was built")"
        refute [ -e "$STATE/group-5" ]
        assert_equal "$(fk_driver $NIC)" e1000e
        # the real root's copy says protect = no as well: the claim stands
        fk_sh "printf $NIC > $ROOT/sys/bus/pci/drivers/e1000e/unbind"
        rm -f "$STATE"/boot-*
        initramfs_claims $'[global]\nprotect = no\n[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        run --separate-stderr pass
        assert_success
        refute_output --partial "given back"
        assert_equal "$(fk_driver $NIC)" vfio-pci
}

# The initramfs's pass gave up on a driver_override write that did not finish within the bound:
# the group stays "claiming", and the override names vfio-pci once the kernel lets go. An entry
# the real root dropped since: its pass gives that unfinished claim back too, or the NIC would
# stay without a driver for the whole boot.
@test "an unfinished initramfs claim of an entry dropped since: the real root's pass gives it back" {
        conf $'[global]\ntimeout = 2\n[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        mkdir -p "$ROOT/etc"
        : > "$ROOT/etc/initrd-release"
        fk_fail "glob:*/$NIC/driver_override STUCK"
        run_via_file env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" UDEV_HELPER="$UDEV_HELPER" \
                timeout 120 "$BASH" -c "$(declare -f fk pass); pass"
        assert_success
        grep -qx 'state claiming' "$STATE/group-5"
        fk_unstick
        rm "$ROOT/etc/initrd-release"
        assert_equal "$(fk_override $NIC)" vfio-pci
        conf $'[device other]\nmatch = 0000:00:05.0'
        run --separate-stderr pass
        assert_success
        assert_equal "$stderr" "$(stale_message 5)"
        assert_equal "$(fk_override $NIC)" ""
        assert_equal "$(fk_driver $NIC)" e1000e
        [ ! -e "$STATE/group-5" ]
}
