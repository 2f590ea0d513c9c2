#!/usr/bin/env bats
# The libvirt qemu hook against the fake kernel: what libvirt gives it (argv, the domain XML on
# stdin), what it must leave behind (drivers, overrides, state records, the write log), and what
# libvirt shows the user (exit status, one line on stderr, nothing on stdout).

bats_require_minimum_version 1.5.0
load helpers

DOMAINS="$abs_top_srcdir/tests/fixtures/domains"

# conf 'INI TEXT': the configuration directory for this test.
conf() {
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
        export CONF
}

# record N: the state record of group N (empty when there is none).
record() {
        local f
        f=$(find "$ROOT" -path "*/vfio-claim/group-$1" 2>/dev/null | head -n1)
        [ -z "$f" ] || cat "$f"
}

assert_claimed() { # assert_claimed ADDR...
        for a in "$@"; do
                assert_equal "$a $(fk_driver "$a")" "$a vfio-pci"
                assert_equal "$a $(fk_override "$a")" "$a vfio-pci"
        done
}

assert_host() { # assert_host ADDR=DRIVER...
        for p in "$@"; do
                assert_equal "${p%%=*} $(fk_driver "${p%%=*}")" "${p%%=*} ${p#*=}"
                assert_equal "${p%%=*} override '$(fk_override "${p%%=*}")'" "${p%%=*} override ''"
        done
}

GPU_HOST="0000:01:00.0=nouveau 0000:01:00.1=snd_hda_intel"

@test "prepare: virt-manager style (managed='yes') claims the GPU's whole group for the VM" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$stderr" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
        assert_equal "$(fk_driver 0000:00:01.0)" pcieport
        [ -e "$ROOT/dev/vfio/1" ]
        run record 1
        assert_line "owner win11"
        assert_line "state claimed"
        # reset = auto leaves reset_method alone: nothing to keep in the record
        assert_line "device 0000:01:00.0 driver=nouveau module=nouveau override=none"
        assert_line "device 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none"
}

@test "prepare: virsh style (managed='no', decimal address, matched by id) claims the NIC" {
        fake_root lone-nic
        conf $'[device nic]\nmatch = 8086:10d3'
        run --separate-stderr hook "$DOMAINS/virsh.xml" builder prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$stderr" ""
        assert_claimed 0000:03:00.0
        assert_equal "$(fk_driver 0000:00:1c.4)" pcieport
        run record 7
        assert_line "owner builder"
}

@test "prepare: GPU and audio both listed: the group is claimed once" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 10de:2204\n[device gpu-audio]\nmatch = 10de:1aef'
        run --separate-stderr hook "$DOMAINS/gpu-audio.xml" gaming prepare begin
        assert_success
        assert_equal "$output" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
        assert_equal "$(grep -c '/unbind' "$ROOT/.fakekernel/writes.log")" 2
        assert_equal "$(grep -c 'drivers_probe' "$ROOT/.fakekernel/writes.log")" 2
        run record 1
        assert_line "owner gaming"
}

@test "prepare: only the VGA function listed: the audio function is claimed with it" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 0000:01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        assert_equal "$output" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
}

@test "prepare: <interface type='hostdev'> is claimed like a hostdev" {
        fake_root lone-nic
        conf $'[device nic]\nmatch = 03:00.0'
        run --separate-stderr hook "$DOMAINS/interface-hostdev.xml" router prepare begin
        assert_success
        assert_equal "$output" ""
        assert_claimed 0000:03:00.0
        run record 7
        assert_line "owner router"
}

@test "prepare: a domain without host devices costs nothing: exit 0, no write, no record" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/no-hostdev.xml" plain prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$stderr" ""
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

# virt_manager_xml BUS: virt-manager's domain with its one managed='yes' hostdev at BUS:00.0.
virt_manager_xml() {
        sed "s/<address domain='0x0000' bus='0x01'/<address domain='0x0000' bus='0x$1'/" \
                "$DOMAINS/virt-manager.xml" > "$BATS_TEST_TMPDIR/vm.xml"
        echo "$BATS_TEST_TMPDIR/vm.xml"
}

@test "prepare: an unconfigured managed='yes' device alone in its group is left to libvirt" {
        fake_root lone-nic
        conf $'[device disk]\nmatch = 02:00.0'
        xml=$(virt_manager_xml 03)
        grep -q "managed='yes'" "$xml"
        run --separate-stderr hook "$xml" win11 prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$stderr" ""
        assert_equal "$(fk_writes)" 0
        assert_host 0000:03:00.0=e1000e
        assert_equal "$(record 7)" ""
}

@test "prepare: an unconfigured managed='yes' GPU whose audio function is on its host driver: one line, no start" {
        fake_root gpu-audio
        conf $'[device disk]\nmatch = 02:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: 0000:01:00.0 is not configured for vfio-claim, and its IOMMU group 1 also holds 0000:01:00.1 (snd_hda_intel), which libvirt does not detach; run 'vfio-claim enable 0000:01:00.0' to claim the whole group for VMs; VM \"win11\" was not started"
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
        # The command the line names is the fix: afterwards the same domain starts.
        run vc enable 0000:01:00.0
        assert_success
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        assert_claimed 0000:01:00.0 0000:01:00.1
}

@test "prepare: with no configuration at all, a shared group names every member on a host driver" {
        fake_root doctor-shared-group
        CONF="$BATS_TEST_TMPDIR/none"
        export CONF
        run --separate-stderr hook "$(virt_manager_xml 03)" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: 0000:03:00.0 is not configured for vfio-claim, and its IOMMU group 7 also holds 0000:00:14.0 (xhci_hcd), 0000:00:1f.6 (e1000e), which libvirt does not detach; run 'vfio-claim enable 0000:03:00.0' to claim the whole group for VMs; VM \"win11\" was not started"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:1f.6) $(fk_driver 0000:03:00.0)" "xhci_hcd e1000e nouveau"
}

@test "prepare: unconfigured managed='yes' GPU and audio both listed: left to libvirt, which detaches both" {
        fake_root gpu-audio
        conf $'[device disk]\nmatch = 02:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-audio.xml" gaming prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
}

@test "prepare: an unconfigured managed='no' device is left to libvirt, whatever its group holds" {
        fake_root gpu-audio
        sed "s/managed='yes'/managed='no'/" "$DOMAINS/virt-manager.xml" > "$BATS_TEST_TMPDIR/vm.xml"
        conf $'[device disk]\nmatch = 02:00.0'
        run --separate-stderr hook "$BATS_TEST_TMPDIR/vm.xml" win11 prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_writes)" 0
}

@test "hook-claim-unconfigured = yes: virt-manager's device gets its whole group, and it goes back at release" {
        fake_root gpu-audio
        conf $'[global]\nhook-claim-unconfigured = yes'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$stderr" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        assert_line "owner win11"
        assert_line "device 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        assert_equal "$stderr" ""
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "hook-claim-unconfigured = yes: the safety refusals still apply (the default-route NIC in the group)" {
        fake_root doctor-shared-group
        default_route_nic 0000:00:1f.6
        conf $'[global]\nhook-claim-unconfigured = yes'
        run --separate-stderr hook "$(virt_manager_xml 03)" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_regex "$stderr" "^vfio-claim: IOMMU group 7: .*0000:00:1f.6.*default route.*VM \"win11\" was not started"
        assert_equal "$(wc -l <<< "$stderr")" 1
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:1f.6) $(fk_driver 0000:03:00.0)" "xhci_hcd e1000e nouveau"
        assert_equal "$(record 7)" ""
}

@test "hook-claim-unconfigured: not a boolean is a configuration error the start names" {
        fake_root gpu-audio
        conf $'[global]\nhook-claim-unconfigured = maybe'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_failure 1
        assert_regex "$stderr" 'hook-claim-unconfigured: "maybe" is not a boolean'
        assert_equal "$(fk_writes)" 0
}

@test "prepare: USB and mdev host devices are ignored" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        for x in usb mdev; do
                run --separate-stderr hook "$DOMAINS/$x.xml" "$x" prepare begin
                assert_success
                assert_equal "$output$stderr" ""
        done
        assert_equal "$(fk_writes)" 0
}

@test "prepare: a device reserved for another VM is refused with one line, nothing written" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\nvm = win11'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: 0000:01:00.0 (device gpu) is reserved for VM "win11" by vfio-claim.conf:1; remove it from VM "gaming" or change vm = in the configuration'
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""

        # The VM it is reserved for gets it.
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" win11 prepare begin
        assert_success
        assert_claimed 0000:01:00.0 0000:01:00.1
}

@test "prepare: a reservation of another function of the group refuses the whole group" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\n\n[device hdmi]\nmatch = 01:00.1\nvm = win11'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: 0000:01:00.1 (device hdmi, IOMMU group 1) is reserved for VM "win11" by vfio-claim.conf:4; remove the group from VM "gaming" or change vm = in the configuration'
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
}

# libvirt takes names a record cannot keep as a group's owner (a trailing blank, a tab): the start
# is refused before any change, saying why, not as a record that failed to be written.
@test "prepare: a VM name no record can keep is refused with one line, nothing written; one without devices starts" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" "win11 " prepare begin
        assert_failure 1
        assert_equal "$stderr" 'vfio-claim: VM "win11 ": vfio-claim cannot record this name as the owner of its devices (at most 255 bytes, no control character, no '"'"'/'"'"', no white space first or last); rename the VM (virsh domrename). It was not started'
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" $'win\t11' prepare begin
        assert_failure 1
        assert_equal "$(fk_writes)" 0
        run --separate-stderr hook "$DOMAINS/no-hostdev.xml" "win11 " prepare begin
        assert_success
}

@test "prepare: a group held by a running VM is refused; the holder keeps it" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        writes=$(fk_writes)
        run --separate-stderr hook "$DOMAINS/gpu-audio.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: 0000:01:00.0 (IOMMU group 1) is in use by VM "win11"; stop that VM first (if it is not running: vfio-claim release group:1)'
        assert_equal "$(fk_writes)" "$writes"
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        assert_line "owner win11"
}

@test "prepare: malformed XML fails with one line naming the place, nothing written" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/malformed.xml" broken prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: the domain XML of VM "broken" is unusable: line 7: malformed XML: Opening and ending tag mismatch: source line 5 and hostdev'
        assert_equal "$(fk_writes)" 0
}

@test "prepare: a member of the group whose sysfs entry cannot be read is named; nothing written" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        # a device listed in the GPU's group whose own iommu_group link names no group
        group=$(basename "$(readlink -f "$(fk_dev 0000:01:00.0)/iommu_group")")
        ln -sfn ../../../kernel/iommu_groups/x "$(readlink -f "$(fk_dev 0000:00:17.0)")/iommu_group"
        ln -sfn ../../../../devices/pci0000:00/0000:00:17.0 "$ROOT/sys/kernel/iommu_groups/$group/devices/0000:00:17.0"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: cannot read IOMMU group $group: 0000:00:17.0: Bad message; the VM was not started"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record "$group")" ""
}

@test "prepare: an address out of range fails with one line, nothing written" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/bad-address.xml" badaddr prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: the domain XML of VM \"badaddr\" is unusable: line 6: <hostdev> source <address bus='0x100'>: out of range (at most 0xff)"
        assert_equal "$(fk_writes)" 0
}

@test "prepare: hardware changed behind a configured address is refused" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\nid = 10de:1111'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: IOMMU group 1: 0000:01:00.0: hardware changed (expected 10de:1111); VM "gaming" was not started (check the id = line in the configuration)'
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
}

# The guard of every configured member of the group counts, as at boot and for apply: the audio
# function's entry says another card sits in its slot, and the group moves whole or not at all.
@test "prepare: hardware changed behind another configured function of the group refuses the whole group" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\n[device gpu-audio]\nmatch = 01:00.1\nid = 10de:228b'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" 'vfio-claim: IOMMU group 1: 0000:01:00.1: hardware changed (expected 10de:228b); VM "gaming" was not started (check the id = line in the configuration)'
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "prepare: a broken configuration refuses a VM with host devices, not one without" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00\n'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_regex "$stderr" "^vfio-claim: .*vfio-claim.conf:2: .*run 'vfio-claim check-config'\. VM \"gaming\" was not started$"
        assert_equal "$(echo "$stderr" | wc -l)" 1
        run --separate-stderr hook "$DOMAINS/no-hostdev.xml" plain prepare begin
        assert_success
        assert_equal "$(fk_writes)" 0
}

@test "prepare: when a later group fails, the groups claimed before it are given back" {
        fake_root gpu-audio
        conf $'[global]\nprotect = no\n[device gpu]\nmatch = 01:00.0\n[device disk]\nmatch = 02:00.0'
        fk_fail 'glob:sys/bus/pci/drivers/nvme/unbind EIO'
        run --separate-stderr hook "$DOMAINS/two-groups.xml" workstation prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: IOMMU group 4: 0000:02:00.0: failed to unbind from nvme: Input/output error; VM \"workstation\" was not started (see 'vfio-claim show group:4' and the system log)"
        assert_equal "$(echo "$stderr" | wc -l)" 1
        # Group 1 was claimed first, then given back; group 4 never moved.
        grep -q 'nouveau/unbind' "$ROOT/.fakekernel/writes.log"
        assert_host $GPU_HOST 0000:02:00.0=nvme
        assert_equal "$(record 1)" ""
        assert_equal "$(record 4)" ""

        # libvirt runs "release end" after a failed start: nothing left to do, no error.
        writes=$(fk_writes)
        run --separate-stderr hook "$DOMAINS/two-groups.xml" workstation release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_equal "$(fk_writes)" "$writes"
}

# A hotplug takes no lock of ours: a device of the domain removed and added again while the hook
# claims an earlier group can come back in a group of another number. The hook reads each group
# when it comes to it: the GPU, moved from group 1 to group 3 while group 4's unbind from nvme was
# in the kernel, is not in group 1 then, and the start stops with group 4, claimed by then, given
# back. Claiming group 1 as found would take the GPU's audio function and leave the GPU to nouveau.
@test "prepare: a device that left its group while an earlier group was claimed stops the start; nothing stays claimed" {
        fake_root gpu-audio
        conf $'[global]\nprotect = no\ntimeout = 120\n[device disk]\nmatch = 02:00.0\n[device gpu]\nmatch = 01:00.0'
        local T=$BATS_TEST_TMPDIR prog="$abs_top_builddir/vfio-claim-hook"
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        # the NVMe first, then the GPU
        printf '%s\n' "<domain type='kvm'><name>workstation</name><devices>" \
                "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='2' slot='0' function='0'/></source></hostdev>" \
                "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>" \
                "</devices></domain>" > "$T/dom.xml"
        fk_fail 'glob:sys/bus/pci/drivers/nvme/unbind STUCK'
        # shellcheck disable=SC2086
        (exec env FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM" $VC_WRAPPER "$prog" workstation prepare begin - < "$T/dom.xml" \
                > "$T/out" 2> "$T/err" 3>&-) &
        local h=$!
        wait_for "[ -n \"\$(ls -A '$ROOT/.fakekernel/stuck' 2>/dev/null)\" ]"
        # the GPU goes from group 1 to group 3; its audio function and root port stay in group 1
        local gpu dev
        gpu=$(fk_dev 0000:01:00.0)
        mv "$ROOT/sys/kernel/iommu_groups/1/devices/0000:01:00.0" "$ROOT/sys/kernel/iommu_groups/3/devices/"
        dev=$(readlink "$gpu/iommu_group")
        ln -sfn "${dev%/1}/3" "$gpu/iommu_group"
        fk_unstick
        status=0
        wait "$h" || status=$?
        assert_equal "$status" 1
        assert_equal "$(cat "$T/out")" ""
        assert_equal "$(cat "$T/err")" 'vfio-claim: 0000:01:00.0 is no longer in IOMMU group 1 (the host'"'"'s devices changed while the hook read them); the VM was not started'
        # group 4 was claimed (nvme let go), then given back; group 1 never moved
        grep -q '^sys/bus/pci/drivers/nvme/unbind	0000:02:00.0	ok$' "$ROOT/.fakekernel/writes.log"
        assert_host $GPU_HOST 0000:02:00.0=nvme
        assert_equal "$(record 1)$(record 3)$(record 4)" ""
}

# hook_behind_lock XML VM OPERATION SUB-OPERATION: start the hook in the background while
# another process holds vfio-claim's lock, and return once the hook waits for it. $HOOK_PID is
# the hook's, its output goes to $BATS_TEST_TMPDIR/out; hook_let_go lets the lock go and waits.
hook_behind_lock() {
        local xml=$1 T=$BATS_TEST_TMPDIR prog="$abs_top_builddir/vfio-claim-hook"
        shift
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        lock_hold
        # shellcheck disable=SC2086
        (exec env FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM" $VC_WRAPPER "$prog" "$@" - < "$xml" > "$T/out" 2>&1 3>&-) &
        HOOK_PID=$!
        wait_for "lock_open_by $HOOK_PID"
}
hook_let_go() {
        lock_release
        status=0
        wait "$HOOK_PID" || status=$?
        output=$(cat "$BATS_TEST_TMPDIR/out")
}

@test "prepare: a domain with none of vfio-claim's devices starts while another run holds the lock" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        # the NVMe, managed='no', no entry: libvirt's alone
        printf '%s\n' "<domain type='kvm'><name>builder</name><devices>" \
                "<hostdev mode='subsystem' type='pci' managed='no'>" \
                "<source><address domain='0' bus='2' slot='0' function='0'/></source></hostdev>" \
                "</devices></domain>" > "$BATS_TEST_TMPDIR/nvme.xml"
        local T=$BATS_TEST_TMPDIR prog="$abs_top_builddir/vfio-claim-hook"
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        lock_hold
        # (it waited up to the hook's 60 s for the lock, then refused the start)
        # shellcheck disable=SC2086
        run --separate-stderr timeout 120 env FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" \
                ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" LD_PRELOAD="$FK_SHIM" \
                $VC_WRAPPER "$prog" builder prepare begin - < "$T/nvme.xml" 3>&-
        local st=$status held=0
        kill -0 "$LOCK_HOLDER_PID" 2>/dev/null && held=1
        lock_release
        status=$st
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$held" 1
        assert_equal "$(fk_writes)" 0
        # a domain with a device of vfio-claim's waits for the lock as before (the tests below)
}

@test "prepare: the configuration is read as it stands when the hook gets the lock" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        hook_behind_lock "$DOMAINS/virt-manager.xml" win11 prepare begin
        # Meanwhile the admin took the GPU out of the configuration (as "disable --force" does,
        # under the lock): the VM's managed='yes' GPU is not configured any more, and the audio
        # function of its group is on a host driver.
        printf '' > "$CONF/vfio-claim.conf"
        hook_let_go
        assert_failure
        assert_output --partial '0000:01:00.0 is not configured for vfio-claim, and its IOMMU group 1 also holds 0000:01:00.1 (snd_hda_intel)'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record 1)" ""
        assert_host $GPU_HOST
}

@test "release end: release = is read as it stands when the hook gets the lock" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        hook_behind_lock "$DOMAINS/virt-manager.xml" win11 release end
        printf '[device gpu]\nmatch = 01:00.0\nrelease = keep\n' > "$CONF/vfio-claim.conf"
        hook_let_go
        assert_success
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        refute_line --partial owner
}

@test "release end: the VM's group goes back to its host drivers" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "release end: idempotent; a second run writes nothing" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        writes=$(fk_writes)
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_equal "$(fk_writes)" "$writes"
        assert_host $GPU_HOST
}

@test "release end: devices already given back by hand are not an error" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        # As an admin would: override, unbind, probe, clear the override.
        for p in $GPU_HOST; do
                f=${p%%=*}
                fk_sh "echo ${p#*=} > '$(fk_dev $f)/driver_override'; echo $f > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'; echo $f > '$ROOT/sys/bus/pci/drivers_probe'; printf '\n' > '$(fk_dev $f)/driver_override'"
        done
        assert_host $GPU_HOST
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "release end: a card removed while the VM ran is no error; its record goes" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        # The GPU and its audio function hot-removed (their root port stays in group 1).
        fk_sh "echo 1 > '$(fk_dev 0000:01:00.1)/remove'; echo 1 > '$(fk_dev 0000:01:00.0)/remove'"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_equal "$(record 1)" ""
        assert_equal "$(basename "$(readlink "$(fk_dev 0000:00:01.0)/driver")")" pcieport
}

@test "release end: only this VM's groups are given back" {
        fake_root gpu-audio
        conf $'[global]\nprotect = no\n[device gpu]\nmatch = 01:00.0\n[device disk]\nmatch = 02:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        sed 's/bus=.0x01./bus="0x02"/' "$DOMAINS/gpu-only.xml" > "$BATS_TEST_TMPDIR/disk.xml"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/disk.xml" storage prepare begin
        assert_success
        assert_claimed 0000:01:00.0 0000:02:00.0
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_host $GPU_HOST
        assert_claimed 0000:02:00.0
        run record 4
        assert_line "owner storage"
}

@test "release end: release = keep leaves the group on vfio-pci and frees it for the next VM" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\nrelease = keep'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        refute_line --partial "owner"
        assert_line "device 0000:01:00.0 driver=nouveau module=nouveau override=none"
        # Another VM may take it now; nothing moves.
        writes=$(fk_writes)
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        assert_equal "$(fk_writes)" "$writes"
        run record 1
        assert_line "owner win11"
}

# prepare_killed_at GLOB VM XML: the hook's prepare killed (SIGKILL, the fake kernel's KILL fault
# at the write GLOB names) halfway through its claim: the record stays "claiming", owned by VM.
prepare_killed_at() {
        fk_fail "glob:$1 KILL"
        run setsid -w env FK_SHIM="$FK_SHIM" CONF="$CONF" VC_WRAPPER="${VC_WRAPPER:-}" \
                "$BASH" -c "$(declare -f fk hook); hook '$3' $2 prepare begin"
        assert_equal "$status" 137
        : > "$ROOT/.fakekernel/faults"
        run record 1
        assert_line "state claiming"
        assert_line "owner $2"
}

# release = keep after a prepare that did not finish (killed, or a rollback that failed): libvirt
# runs release end. The group, split between vfio-pci and its host drivers, never was the VM's: it
# goes back as it was, as after any failed start; release = keep keeps only a finished claim. A
# give-back that fails there says so and what to run.
@test "release end: release = keep after a prepare killed halfway gives the group back as it was" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\nrelease = keep'
        prepare_killed_at 'sys/bus/pci/drivers/snd_hda_intel/unbind' gaming "$DOMAINS/gpu-only.xml"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci snd_hda_intel"
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
        [ ! -e "$ROOT/dev/vfio/1" ]

        # the give-back fails: the message says so and what to run, which finishes it
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\nboot = yes'
        prepare_killed_at 'sys/bus/pci/drivers/snd_hda_intel/unbind' gaming "$DOMAINS/gpu-only.xml"
        fk_fail 'glob:sys/bus/pci/drivers/vfio-pci/unbind EIO'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_failure 1
        assert_equal "$output" ""
        assert_regex "$stderr" '^vfio-claim: VM "gaming" stopped, but IOMMU group 1: 0000:01:00.0: failed to unbind from vfio-pci: Input/output error; retry with .vfio-claim release group:1.$'
        : > "$ROOT/.fakekernel/faults"
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "release end: a failed give-back says what to do; the next run finishes" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        fk_fail 'glob:sys/bus/pci/drivers/vfio-pci/unbind EIO'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_failure 1
        assert_equal "$output" ""
        assert_regex "$stderr" '^vfio-claim: VM "gaming" stopped, but IOMMU group 1: 0000:01:00.0: failed to unbind from vfio-pci: Input/output error; retry with .vfio-claim release group:1.$'
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        assert_line "owner gaming"
        : > "$ROOT/.fakekernel/faults"
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

# The lab saw it (a TCG guest on a loaded host): a host driver's probe at VM stop took longer than
# the write timeout. The hook takes no options; [global] timeout is its bound, and the message
# says what happened, that the kernel may still finish the probe, and which group to release
# (the next release end, or that command with libvirt up, finishes it).
@test "release end: a probe past [global] timeout is named with its bound; release finishes once it ends" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 5\n[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        fk_fail 'glob:sys/bus/pci/drivers_probe STUCK'
        run_via_file env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" \
                timeout 600 "$BASH" -c "$(declare -f fk hook); hook '$DOMAINS/gpu-only.xml' gaming release end"
        assert_failure 1
        assert_output --partial 'failed to probe: Connection timed out (the write did not finish within 5 s, [global] timeout; the kernel may still complete it); retry with '"'vfio-claim release group:1'"
        grep -qx 'state releasing' "$STATE/group-1"
        fk_unstick
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_host $GPU_HOST
        assert_equal "$(record 1)" ""
}

@test "reconnect and the other operations exit 0 at once, even with a broken configuration" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        conf $'[device gpu\nthis is not a configuration'
        writes=$(fk_writes)
        for op in "reconnect begin" "start begin" "started begin" "stopped end" "migrate begin" \
                  "restore begin" "attach begin" "prepare end" "release begin"; do
                # shellcheck disable=SC2086
                run --separate-stderr hook "$DOMAINS/malformed.xml" gaming $op
                assert_success
                assert_equal "$op: $output$stderr" "$op: "
        done
        run --separate-stderr hook /dev/null gaming reconnect begin
        assert_success
        assert_equal "$(fk_writes)" "$writes"
        assert_claimed 0000:01:00.0 0000:01:00.1
}

@test "release end with a broken configuration keeps the group on vfio-pci, owner cleared" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming prepare begin
        assert_success
        conf $'[device gpu]\nmatch = nonsense'
        run --separate-stderr hook "$DOMAINS/gpu-only.xml" gaming release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        refute_line --partial "owner"
}

@test "the front answers alone for domains without host devices, and says so when the worker is missing" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        mkdir -p "$BATS_TEST_TMPDIR/front"
        cp "$abs_top_builddir/vfio-claim-hook" "$BATS_TEST_TMPDIR/front/"
        front="$BATS_TEST_TMPDIR/front/vfio-claim-hook"
        run --separate-stderr env VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_CONFIG="$CONF" \
                "$front" plain prepare begin - < "$DOMAINS/no-hostdev.xml"
        assert_success
        assert_equal "$output$stderr" ""
        run --separate-stderr "$front" plain reconnect begin - < /dev/null
        assert_success
        assert_equal "$output$stderr" ""
        # Without a worker next to it, the front falls back to LIBEXECDIR/vfio-claim.
        mk="$abs_top_builddir/Makefile"
        prefix=$(sed -n 's/^prefix = //p' "$mk")
        exec_prefix=$(sed -n 's/^exec_prefix = //p' "$mk" | sed "s|\${prefix}|$prefix|")
        libexecdir=$(sed -n 's/^libexecdir = //p' "$mk" | sed "s|\${exec_prefix}|$exec_prefix|")
        if [ -e "$libexecdir/vfio-claim/vfio-claim-hook-worker" ]; then
                skip "a vfio-claim-hook-worker is installed on this machine"
        fi
        run --separate-stderr env VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_CONFIG="$CONF" \
                "$front" gaming prepare begin - < "$DOMAINS/gpu-only.xml"
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: $libexecdir/vfio-claim/vfio-claim-hook-worker: No such file or directory; the hook could not run (reinstall vfio-claim, then restart libvirtd)"
        assert_equal "$(fk_writes)" 0
}

@test "reset =: the hook applies the configured method at prepare and resets before giving back" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\n[device audio]\nmatch = 01:00.1\nreset = flr'
        # every method of the GPU disabled by hand before
        fk_sh "echo > '$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method'"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        assert_claimed 0000:01:00.0 0000:01:00.1
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.1/reset_method")" flr
        # the function without a reset = line (auto) keeps what it had: nothing is written
        ! grep -q '0000:01:00.0/reset_method' "$ROOT/.fakekernel/writes.log"
        [ ! -s "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method" ]
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 release end
        assert_success
        assert_host $GPU_HOST
        # an explicit method resets the function before its host driver gets it back
        grep -q $'0000:01:00.1/reset\t1\tok' "$ROOT/.fakekernel/writes.log"
        ! grep -q $'0000:01:00.0/reset\t' "$ROOT/.fakekernel/writes.log"
        # ... and both get back the reset_method the host had: none enabled on the GPU (an
        # empty file), the kernel's list on the audio function
        [ ! -s "$ROOT/sys/bus/pci/devices/0000:01:00.0/reset_method" ]
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:01:00.1/reset_method")" "flr bus"
}

@test "status names the hook as the claimer and the VM as the owner" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_success
        run vc status
        assert_success
        assert_line --regexp '^IOMMU group 1: claimed, used by VM win11, since .*, by libvirt hook$'
}

# big_xml SIZE FILE: the virt-manager domain grown to exactly SIZE bytes by a comment before its
# <hostdev>, which thus comes last
big_xml() {
        local size=$1 out=$2 src="$DOMAINS/virt-manager.xml" head tail pad
        head=$(sed '/<hostdev /,$d' "$src")$'\n'
        tail=$(sed -n '/<hostdev /,$p' "$src")$'\n'
        pad=$((size - ${#head} - ${#tail} - 8))
        {
                printf '%s<!--' "$head"
                head -c "$pad" /dev/zero | tr '\0' x
                printf -- '-->\n%s' "$tail"
        } > "$out"
        assert_equal "$(stat -c %s "$out")" "$size"
}

@test "prepare: the domain XML limit is one for front and worker; over it, one line and exit 1" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        max=$((4 * 1024 * 1024))
        msg='vfio-claim: the domain XML of VM "win11" is larger than 4194304 bytes, the most vfio-claim reads; VM "win11" was not started'
        # at the limit, its <hostdev> at the very end: claimed, through the front and the worker
        big_xml $max "$BATS_TEST_TMPDIR/at.xml"
        for prog in vfio-claim-hook vfio-claim-hook-worker; do
                fake_root gpu-audio
                conf $'[device gpu]\nmatch = 01:00.0'
                run --separate-stderr env FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" \
                        LD_PRELOAD="$FK_SHIM" "$abs_top_builddir/$prog" win11 prepare begin - < "$BATS_TEST_TMPDIR/at.xml"
                assert_success
                assert_equal "$prog: $output$stderr" "$prog: "
                assert_claimed 0000:01:00.0 0000:01:00.1
        done
        # one byte more, and far more (past twice the limit): refused by both, nothing written
        big_xml $((max + 1)) "$BATS_TEST_TMPDIR/over.xml"
        big_xml $((2 * max + 4096)) "$BATS_TEST_TMPDIR/far.xml"
        for xml in over far; do
                for prog in vfio-claim-hook vfio-claim-hook-worker; do
                        fake_root gpu-audio
                        conf $'[device gpu]\nmatch = 01:00.0'
                        run --separate-stderr env FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" \
                                LD_PRELOAD="$FK_SHIM" "$abs_top_builddir/$prog" win11 prepare begin - \
                                < "$BATS_TEST_TMPDIR/$xml.xml"
                        assert_failure 1
                        assert_equal "$output" ""
                        assert_equal "$xml, $prog: $stderr" "$xml, $prog: $msg"
                        assert_equal "$(fk_writes)" 0
                        assert_host $GPU_HOST
                        [ -z "$(record 1)" ]
                done
        done
}

@test "prepare records the libvirtd starting the VM; started drops it; the front starts the worker for started only then" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0'
        # The hook's parent plays libvirtd: a process of the tree's /proc with start time 777.
        (
                mkdir -p "$ROOT/proc/$BASHPID"
                echo "$BASHPID (libvirtd) S 1 $BASHPID $BASHPID 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0" \
                        > "$ROOT/proc/$BASHPID/stat"
                echo "$BASHPID" > "$BATS_TEST_TMPDIR/libvirtd"
                hook "$DOMAINS/virt-manager.xml" win11 prepare begin
                rc=$?
                exit $rc
        )
        assert_claimed 0000:01:00.0 0000:01:00.1
        run record 1
        assert_line "owner win11"
        assert_line "starter $(cat "$BATS_TEST_TMPDIR/libvirtd") 777"

        prog="$abs_top_builddir/vfio-claim-hook"
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        # Another domain's start: the front answers alone (no worker next to a copy of it).
        if [ -z "${VC_WRAPPER:-}" ]; then
                mkdir -p "$BATS_TEST_TMPDIR/front"
                cp "$abs_top_builddir/vfio-claim-hook" "$BATS_TEST_TMPDIR/front/"
                run --separate-stderr env VFIO_CLAIM_SYSROOT="$ROOT" "$BATS_TEST_TMPDIR/front/vfio-claim-hook" \
                        other started begin - < /dev/null
                assert_success
                assert_equal "$output$stderr" ""
        fi
        # shellcheck disable=SC2086
        VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_CONFIG="$CONF" \
                run --separate-stderr fk $VC_WRAPPER "$prog" win11 started begin - < /dev/null
        assert_success
        assert_equal "$output$stderr" ""
        run record 1
        assert_line "owner win11"
        refute_line --partial "starter"
        assert_claimed 0000:01:00.0 0000:01:00.1
}

@test "prepare: a configured group that holds other slots' devices starts the VM only with consent = yes" {
        local GPU=0000:03:00.0 USB=0000:00:14.0 NIC=0000:00:1f.6
        fake_root doctor-shared-group
        sed "s/bus='0x01' slot='0x00' function='0x0'/bus='0x03' slot='0x00' function='0x0'/" \
                "$DOMAINS/virt-manager.xml" > "$BATS_TEST_TMPDIR/shared.xml"
        conf "$(printf '[device gpu]\nmatch = %s\nvm = win11' $GPU)"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/shared.xml" win11 prepare begin
        assert_failure
        assert_equal "$output" ""
        assert_regex "$stderr" "IOMMU group 7: .*$USB.*consent = yes.*VM \"win11\" was not started"
        assert_equal "$(fk_driver $USB) $(fk_driver $NIC) $(fk_driver $GPU)" "xhci_hcd e1000e nouveau"
        assert_equal "$(fk_override $USB)$(fk_override $NIC)$(fk_override $GPU)" ""
        [ -z "$(record 7)" ]
        printf 'consent = yes\n' >> "$CONF/vfio-claim.conf"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/shared.xml" win11 prepare begin
        assert_success
        assert_claimed $USB $NIC $GPU
        grep -qx 'owner win11' <<<"$(record 7)"
}

# A configured GPU of four functions (tests/fixtures/gpu-turing.topo) and virt-manager's domain
# listing the GPU and its audio function, both managed='yes': the audio function matches no entry
# itself, but its group is claimed whole for the GPU's entry. It is not refused for the xHCI and
# UCSI functions the domain does not list, as the group of an unconfigured device alone would be.
@test "prepare: a configured GPU of four functions with its unconfigured audio function in the domain: the group is claimed whole" {
        fake_root gpu-turing
        conf $'[device gpu]\nmatch = 01:00.0'
        run --separate-stderr hook "$DOMAINS/gpu-audio.xml" gaming prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_claimed 0000:01:00.0 0000:01:00.1 0000:01:00.2 0000:01:00.3
        run record 1
        assert_line "owner gaming"
        run --separate-stderr hook "$DOMAINS/gpu-audio.xml" gaming release end
        assert_success
        assert_host 0000:01:00.0=nouveau 0000:01:00.1=snd_hda_intel 0000:01:00.2=xhci_hcd 0000:01:00.3=ucsi_ccg
}

# A prepare whose second group fails takes the first back (vc_op_result_undo()). Killed in the
# middle of that undo, it leaves the first group split between vfio-pci and its host drivers; its
# record must say so ("claiming"), so that release end gives it back even with release = keep,
# which keeps only a finished claim.
@test "release end: release = keep after a prepare killed while it took back an earlier group gives that group back" {
        fake_root gpu-audio
        conf $'[global]\nprotect = no\nrelease = keep\n[device gpu]\nmatch = 01:00.0\n[device disk]\nmatch = 02:00.0'
        # the nvme unbind fails; write 16 is the GPU's probe in the undo of group 1
        fk_fail 'glob:sys/bus/pci/drivers/nvme/unbind EIO'
        fk_fail '16 KILL'
        run setsid -w env FK_SHIM="$FK_SHIM" CONF="$CONF" VC_WRAPPER="${VC_WRAPPER:-}" \
                "$BASH" -c "$(declare -f fk hook); hook '$DOMAINS/two-groups.xml' workstation prepare begin"
        assert_equal "$status" 137
        : > "$ROOT/.fakekernel/faults"
        grep -q '^sys/bus/pci/drivers_probe	0000:01:00.0	KILL$' "$ROOT/.fakekernel/writes.log"
        run record 1
        assert_line "state claiming"
        run --separate-stderr hook "$DOMAINS/two-groups.xml" workstation release end
        assert_success
        assert_host $GPU_HOST 0000:02:00.0=nvme
        assert_equal "$(record 1)" ""
}

# A domain of two groups whose second is refused (its id = guard names another card): the first
# group is not claimed and put back on the way, its GPU's display and audio dropping out
# meanwhile. Every group is checked first; nothing is written.
@test "prepare: a domain whose second group is refused writes nothing to the first" {
        fake_root gpu-audio
        conf $'[device gpu]\nmatch = 01:00.0\n[device disk]\nmatch = 02:00.0\nid = 1234:5678'
        run --separate-stderr hook "$DOMAINS/two-groups.xml" workstation prepare begin
        assert_failure
        assert_output ""
        [[ "$stderr" == *"0000:02:00.0"*'VM "workstation" was not started (check the id = line in the configuration)' ]]
        assert_equal "$(fk_writes)" 0
        assert_host $GPU_HOST 0000:02:00.0=nvme
        assert_equal "$(record 1)" ""
}
