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
