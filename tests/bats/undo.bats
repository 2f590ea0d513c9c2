#!/usr/bin/env bats
# What a command takes back when a later group of it fails, and what a give-back restores: the
# engine records what each group's operation moved and wrote, and undo reverses exactly that
# (vc_op_result_undo(), lib/bind.h). A group that was claimed before the command stays claimed;
# a reset_method the claim wrote goes back to the host's at release (the record's reset_method=).

bats_require_minimum_version 1.5.0
load helpers

DOMAINS="$abs_top_srcdir/tests/fixtures/domains"
NIC1=0000:01:00.0 # e1000e, group 3
NIC2=0000:02:00.0 # e1000e, group 5

# conf 'INI TEXT': the configuration under the fake root
conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

reset_method() {
        cat "$ROOT/sys/bus/pci/devices/$1/reset_method"
}

# Two boot NICs of the lab, each alone in its group, with e1000e loaded: both on e1000e.
two_nics() {
        fake_root twin-nics
        fk_host "$FK_OP" modprobe e1000e
        assert_equal "$(fk_driver $NIC1) $(fk_driver $NIC2)" "e1000e e1000e"
}

@test "apply: when a later group fails, a group claimed before the command stays claimed; only its new reset_method goes back" {
        two_nics
        conf $'[device nic1]\nmatch = 01:00.0\nboot = yes'
        run vc apply
        assert_success
        assert_equal "$(fk_driver $NIC1)" vfio-pci
        before=$(cat "$STATE/group-3")
        assert_equal "$(reset_method $NIC1)" "flr bus"
        # reset = flr added to the first NIC, the second NIC configured, its unbind fails
        conf $'[device nic1]\nmatch = 01:00.0\nboot = yes\nreset = flr\n[device nic2]\nmatch = 02:00.0\nboot = yes'
        fk_fail 'glob:*/drivers/e1000e/unbind EIO'
        run vc apply
        assert_failure 1
        assert_line 'IOMMU group 3: already claimed; reset_method set as configured'
        assert_line --partial '0000:02:00.0: failed to unbind from e1000e: Input/output error'
        assert_line --partial 'IOMMU group 3: put back as it was'
        # the first NIC: still claimed, its record as before the command, the host's reset_method
        assert_equal "$(fk_driver $NIC1)" vfio-pci
        assert_equal "$(fk_override $NIC1)" vfio-pci
        [ -e "$ROOT/dev/vfio/3" ]
        assert_equal "$(cat "$STATE/group-3")" "$before"
        assert_equal "$(reset_method $NIC1)" "flr bus"
        # the second NIC: never moved
        assert_equal "$(fk_driver $NIC2)" e1000e
        assert_equal "$(fk_override $NIC2)" ""
        [ ! -e "$STATE/group-5" ]
}

@test "apply: when a later group fails, a group this command claimed goes back to its host driver and reset_method" {
        two_nics
        conf $'[device nic1]\nmatch = 01:00.0\nboot = yes\nreset = flr\n[device nic2]\nmatch = 02:00.0\nboot = yes'
        fk_fail "glob:*/$NIC2/driver_override EIO"
        run vc apply
        assert_failure 1
        assert_line --partial 'IOMMU group 3: put back as it was'
        assert_equal "$(fk_driver $NIC1) $(fk_override $NIC1)" "e1000e "
        assert_equal "$(reset_method $NIC1)" "flr bus"
        [ ! -e "$ROOT/dev/vfio/3" ]
        [ ! -e "$STATE/group-3" ]
        assert_equal "$(fk_driver $NIC2)" e1000e
}

@test "hook prepare: when a later group fails, a group on vfio-pci before stays so; owner and reset_method go back" {
        fake_root gpu-audio
        vc enable 01:00.0
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
        before=$(cat "$STATE/group-1")
        ours="$(reset_method 0000:01:00.1)"
        hookconf="$BATS_TEST_TMPDIR/hookconf"
        mkdir -p "$hookconf"
        printf '[global]\nprotect = no\n[device gpu]\nmatch = 01:00.0\n[device audio]\nmatch = 01:00.1\nreset = flr\n[device disk]\nmatch = 02:00.0\n' \
                > "$hookconf/vfio-claim.conf"
        fk_fail 'glob:sys/bus/pci/drivers/nvme/unbind EIO'
        run --separate-stderr env VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_CONFIG="$hookconf" \
                LD_PRELOAD="$FK_SHIM" "$abs_top_builddir/vfio-claim-hook" workstation prepare begin - \
                < "$DOMAINS/two-groups.xml"
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: IOMMU group 4: 0000:02:00.0: failed to unbind from nvme: Input/output error; VM \"workstation\" was not started (see 'vfio-claim show group:4' and the system log)"
        # the hook had set flr on the audio function and taken the group for the VM: both undone
        grep -q $'0000:01:00.1/reset_method\tflr\tok' "$ROOT/.fakekernel/writes.log"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        assert_equal "$(reset_method 0000:01:00.1)" "$ours"
        assert_equal "$(cat "$STATE/group-1")" "$before"
        assert_equal "$(fk_driver 0000:02:00.0)" nvme
        [ ! -e "$STATE/group-4" ]
}

@test "release gives back the reset_method the host had before the claim wrote its own" {
        two_nics
        # the admin had narrowed the list by hand before
        fk_sh "echo bus > '$(fk_dev $NIC1)/reset_method'"
        conf $'[device nic1]\nmatch = 01:00.0\nreset = flr'
        run vc enable nic1
        assert_success
        assert_equal "$(reset_method $NIC1)" flr
        grep -qx "device $NIC1 driver=e1000e module=e1000e override=none reset_method=bus" "$STATE/group-3"
        run vc release nic1
        assert_success
        assert_equal "$(fk_driver $NIC1)" e1000e
        assert_equal "$(reset_method $NIC1)" bus
        [ ! -e "$STATE/group-3" ]

        # none (every method disabled) is restored too, and a change of "reset =" while claimed
        # keeps the first original
        fk_sh "echo > '$(fk_dev $NIC1)/reset_method'"
        conf $'[device nic1]\nmatch = 01:00.0\nreset = flr\nboot = yes'
        run vc apply
        assert_success
        grep -qx "device $NIC1 driver=e1000e module=e1000e override=none reset_method=none" "$STATE/group-3"
        conf $'[device nic1]\nmatch = 01:00.0\nreset = bus\nboot = yes'
        run vc apply
        assert_success
        assert_equal "$(reset_method $NIC1)" bus
        grep -qx "device $NIC1 driver=e1000e module=e1000e override=none reset_method=none" "$STATE/group-3"
        run vc release nic1
        assert_success
        assert_equal "$(fk_driver $NIC1)" e1000e
        [ ! -s "$(fk_dev $NIC1)/reset_method" ]
}

@test "release of a record written before reset_method= existed leaves reset_method alone" {
        two_nics
        conf $'[device nic1]\nmatch = 01:00.0\nreset = flr'
        run vc enable nic1
        assert_success
        # as the previous version wrote it: no reset_method=
        sed -i 's/ reset_method=[^ ]*$//' "$STATE/group-3"
        run vc release nic1
        assert_success
        assert_equal "$(fk_driver $NIC1)" e1000e
        assert_equal "$(reset_method $NIC1)" flr
}
