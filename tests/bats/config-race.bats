#!/usr/bin/env bats
# The writing verbs decide from the configuration as it stands once they hold the lock
# (docs/DESIGN.md, "The lock"): another vfio-claim run (enable, disable, under the same lock)
# or the admin may change it while they wait. The race is made by holding the lock, starting
# the CLI in the background, changing the configuration once it waits for the lock, and
# letting go.

bats_require_minimum_version 1.5.0
load helpers

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# record N: the state record of group N, empty when there is none
record() {
        cat "$STATE/group-$1" 2>/dev/null || true
}

# cli_behind_lock VERB...: "vfio-claim VERB..." on the fake tree as the running system, started
# while another process holds the lock; returns once it waits for it. cli_let_go lets the lock
# go, waits for the CLI and sets $status and $output.
cli_behind_lock() {
        local T=$BATS_TEST_TMPDIR
        lock_hold
        # shellcheck disable=SC2086
        (exec env FAKEKERNEL_HOST=1 ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM" $VC_WRAPPER "$abs_top_builddir/vfio-claim" "$@" > "$T/out" 2>&1 3>&- < /dev/null) &
        CLI_PID=$!
        wait_for "lock_open_by $CLI_PID || [ ! -e /proc/$CLI_PID ]"
        lock_open_by "$CLI_PID"
}
cli_let_go() {
        lock_release
        status=0
        wait "$CLI_PID" || status=$?
        output=$(cat "$BATS_TEST_TMPDIR/out")
        echo "exit status $status: $output"
}

@test "apply: an entry dropped while apply waits for the lock is not claimed" {
        fake_root twin-nics
        conf $'[device nic]\nmatch = 0000:02:00.0\nboot = yes'
        cli_behind_lock apply
        # meanwhile the entry was dropped (vfio-claim disable does it under the lock)
        conf '# nothing at boot'
        cli_let_go
        assert_success
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record 5)" ""
}

@test "apply: a group that became wanted while apply waited for the lock is claimed with the others" {
        fake_root twin-nics
        conf $'[device nic]\nmatch = 0000:02:00.0\nboot = yes'
        cli_behind_lock apply
        # meanwhile the twin got an entry too (enable --boot of another run, or the admin)
        conf $'[device nic]\nmatch = 0000:02:00.0\nboot = yes\n[device twin]\nmatch = 0000:01:00.0\nboot = yes'
        cli_let_go
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        grep -qx 'state claimed' "$STATE/group-5"
        grep -qx 'state claimed' "$STATE/group-3"
}

@test "disable: the configuration file is edited as it stands when disable gets the lock" {
        fake_root twin-nics
        conf $'[device a]\nmatch = 0000:01:00.0\n\n[device b]\nmatch = 0000:02:00.0'
        cli_behind_lock disable a
        # meanwhile "vfio-claim disable b" dropped the other entry, under the lock
        conf $'[device a]\nmatch = 0000:01:00.0\n'
        cli_let_go
        assert_success
        run ! grep -q '^\[device' "$CONF/vfio-claim.conf"
}

@test "enable --name: a file another run wrote while enable waited for the lock is not replaced" {
        fake_root twin-nics
        conf '# none yet'
        cli_behind_lock enable --name nic 0000:01:00.0
        # meanwhile "vfio-claim enable --name nic 0000:02:00.0" wrote conf.d/nic.conf
        mkdir -p "$CONF/conf.d"
        printf '[device nic]\nmatch = 0000:02:00.0\n' > "$CONF/conf.d/nic.conf"
        cli_let_go
        assert_failure
        assert_equal "$(cat "$CONF/conf.d/nic.conf")" $'[device nic]\nmatch = 0000:02:00.0'
        assert_equal "$(record 3)" ""
        assert_equal "$(fk_writes)" 0
}

# The generated udev rule (lib/boot.h) is read and written under the lock, from the configuration
# read under it: otherwise a run that let the lock go, read the configuration and wrote the rule
# late could write it over the rule of a run that changed the configuration meanwhile (a device
# just enabled missing from it: its next add event is not claimed). The fake kernel stops the CLI
# in its open of the old rule (an "open:GLOB WAIT" fault, tests/fakekernel/README.md); the lock
# must be held then.
@test "enable and disable write the udev rule while they hold the lock" {
        fake_root twin-nics
        conf '# none yet'
        local T=$BATS_TEST_TMPDIR rule="$ROOT/run/udev/rules.d/70-vfio-claim.rules" verb
        for verb in "enable 0000:01:00.0" "disable 0000:01:00.0"; do
                mkdir -p "$ROOT/run/udev/rules.d"
                echo '# old' > "$rule"
                fk_fail 'open:run/udev/rules.d/70-vfio-claim.rules WAIT'
                # shellcheck disable=SC2086
                (exec env FAKEKERNEL_HOST=1 ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                        LD_PRELOAD="$FK_SHIM" $VC_WRAPPER "$abs_top_builddir/vfio-claim" $verb > "$T/out" 2>&1 3>&-) &
                local p=$! held=0
                wait_for '[ -e "$ROOT/.fakekernel/waiting" ]'
                flock -n "$STATE/lock" true 3>&- || held=1
                touch "$ROOT/.fakekernel/go"
                wait "$p"
                cat "$T/out"
                echo "$verb: lock held while the rule was read: $held"
                [ "$held" = 1 ]
                [ -f "$rule" ]
        done
        ! rule_runs_any
}

rule_runs_any() {
        grep -q 'RUN' "$ROOT/run/udev/rules.d/70-vfio-claim.rules"
}

# cli_ends: 0 once the CLI cli_behind_lock started has ended (a zombie counts), 1 if it has not
# within 120 s. The loop ends at the first sign, so the bound only matters when it never ends.
cli_ends() {
        local i
        for i in $(seq 1200); do
                if [ ! -e "/proc/$CLI_PID" ] || [ "$(awk '{print $3}' "/proc/$CLI_PID/stat" 2>/dev/null)" = Z ]; then
                        return 0
                fi
                sleep 0.1
        done
        return 1
}

# cli_ends_with_device_stuck ADDR: with the CLI waiting for the lock (cli_behind_lock), a task
# stuck in the kernel takes ADDR's device lock (a driver's probe or remove() that does not
# return: modelled by holding the fake kernel's lock of it), and the lock is let go. The CLI must
# end while ADDR is still stuck, and then another run (status, the hook) get the lock. Sets
# $status to the CLI's exit status.
cli_ends_with_device_stuck() {
        local ended=0 got=0
        device_lock_hold "$1"
        lock_release
        cli_ends && ended=1
        flock -w 5 "$STATE/lock" true 3>&- && got=1
        device_lock_let_go
        status=0
        wait "$CLI_PID" || status=$?
        cat "$BATS_TEST_TMPDIR/out"
        echo "the CLI ended while $1 was stuck: $ended; then another run took the lock: $got"
        [ "$ended" = 1 ]
        [ "$got" = 1 ]
}

# The udev rule is written under the lock (above) from the configuration and the bus's addresses,
# ids and IOMMU groups (lib/boot.h): no device's driver_override, whose read waits for the
# device lock. A member of a boot group whose device lock a task stuck in the kernel holds (a
# driver's probe that does not return: modelled by holding the fake kernel's lock of it) must
# not keep the verb under the lock while it writes the rule: another run gets the lock, and the
# rule still names the member.
@test "enable: a boot group's device stuck in the kernel does not hold it under the lock while the udev rule is written" {
        fake_root twin-nics
        conf $'[device display]\nmatch = 0000:00:05.0\nboot = yes'
        # vfio-pci loaded first: the fake kernel's load of it reads every device's override
        vc enable 0000:01:00.0
        vc disable 0000:01:00.0
        cli_behind_lock enable 0000:02:00.0
        cli_ends_with_device_stuck 0000:00:05.1
        assert_equal "$status" 0
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        pci_rule_runs 0000:00:05.0
        pci_rule_runs 0000:00:05.1
}

# Under the lock apply decides again (from the configuration; it reads no device there); a device
# it does not move whose device lock a task stuck in the kernel holds (a driver's remove() that does not return: modelled by holding
# the fake kernel's lock of it) must not keep it there, holding the lock, for ever: its
# driver_override, whose read waits for that lock, is not read.
@test "apply: a device stuck in the kernel that apply does not move does not hold it under the lock" {
        fake_root twin-nics
        conf $'[device nic]\nmatch = 0000:02:00.0\nboot = yes'
        # vfio-pci loaded first: the fake kernel's load of it reads every device's override
        vc enable 0000:01:00.0
        vc disable 0000:01:00.0
        cli_behind_lock apply
        cli_ends_with_device_stuck 0000:01:00.0
        assert_equal "$status" 0
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

# Consent for a group of several slots (consent.bats) that came from the configuration is checked
# again under the lock: an admin who took "consent = yes" out meanwhile keeps the USB controller
# and the NIC of the GPU's group (nobody is asked while the lock is held: refused, exit 4).
@test "apply: a consent = yes taken out while apply waits for the lock is not taken as given" {
        fake_root doctor-shared-group
        conf $'[device gpu]\nmatch = 0000:03:00.0\nboot = yes\nconsent = yes'
        cli_behind_lock apply
        conf $'[device gpu]\nmatch = 0000:03:00.0\nboot = yes'
        cli_let_go
        assert_equal "$status" 4
        assert_output --partial "refused: the configuration read under the lock gives no consent = yes for it (it changed while this command waited for the lock); nothing was changed, run it again"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:00:14.0) $(fk_driver 0000:00:1f.6) $(fk_driver 0000:03:00.0)" "xhci_hcd e1000e nouveau"
}

# disable of a [usb NAME] finds the devices enabled from their records read under the lock: one
# that "vfio-claim enable" took while disable waited for the lock is given back too.
@test "disable of a USB entry: a device enabled while disable waited for the lock is given back" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        cli_behind_lock disable serial-a
        # meanwhile "vfio-claim enable serial-a" took it, under the lock
        printf 'id 0403:6001\nserial A10K1234\ninterface 3-1.2:1.0 ftdi_sio\n' > "$STATE/usb-3-1.2"
        fk_sh "printf 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/unbind'"
        [ ! -e "$ROOT/sys/bus/usb/devices/3-1.2:1.0/driver" ]
        cli_let_go
        assert_success
        [ ! -e "$STATE/usb-3-1.2" ]
        [ -e "$ROOT/sys/bus/usb/devices/3-1.2:1.0/driver" ]
}

# ... and matches them against the entry as the configuration read under the lock has it: an
# entry that now names the other adapter (the admin changed its serial meanwhile) gives that one
# back, and the one it named before stays enabled.
@test "disable of a USB entry: the entry as it stands under the lock decides which device goes back" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        vc enable 3-1.2
        vc enable 3-1.3
        assert_equal "$(fk_writes)" 2
        cli_behind_lock disable serial-a
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K5678'
        cli_let_go
        assert_success
        [ -e "$STATE/usb-3-1.2" ]
        [ ! -e "$ROOT/sys/bus/usb/devices/3-1.2:1.0/driver" ]
        [ ! -e "$STATE/usb-3-1.3" ]
        [ -e "$ROOT/sys/bus/usb/devices/3-1.3:1.0/driver" ]
}

@test "disable of a USB entry dropped while disable waited for the lock: nothing is given back" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        vc enable serial-a
        cli_behind_lock disable serial-a
        conf '# none'
        cli_let_go
        assert_failure 1
        assert_output "vfio-claim: serial-a: no longer configured in ${CONF#"$ROOT"}; nothing was changed"
        [ -e "$STATE/usb-3-1.2" ]
        [ ! -e "$ROOT/sys/bus/usb/devices/3-1.2:1.0/driver" ]
}

# disable refuses to drop an entry that also selects a device outside the groups it gives back
# (disable-config.bats). Which devices an entry selects is decided under the lock, from the
# devices as they are then: a twin card that came back (a rescan) while disable waited for the
# lock is selected by the same id, and the entry stays.
@test "disable: an entry that selects, by id, a twin that came back while disable waited for the lock stays" {
        fake_root twin-nics
        conf $'[device nics]\nmatch = 8086:10d3\nboot = yes'
        fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/0000:01:00.0/remove" 1
        [ ! -e "$ROOT/sys/bus/pci/devices/0000:01:00.0" ]
        cli_behind_lock disable nics
        fk "$FK_OP" write "$ROOT/sys/bus/pci/rescan" 1
        [ -e "$ROOT/sys/bus/pci/devices/0000:01:00.0" ]
        cli_let_go
        assert_failure 1
        assert_output --partial "[device nics] also selects 0000:01:00.0, which is in IOMMU group 3"
        assert_equal "$(cat "$CONF/vfio-claim.conf")" $'[device nics]\nmatch = 8086:10d3\nboot = yes'
}

# ... without reading their overrides there: as for apply (above), a device it does not give
# back whose device lock a task stuck in the kernel holds does not keep disable under the lock.
@test "disable: a device stuck in the kernel that disable does not give back does not hold it under the lock" {
        fake_root twin-nics
        conf $'[device nic]\nmatch = 0000:02:00.0'
        vc enable 0000:02:00.0
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        cli_behind_lock disable nic
        cli_ends_with_device_stuck 0000:01:00.0
        assert_equal "$status" 0
        assert_equal "$(fk_driver 0000:02:00.0)" "" # unbound before the claim: e1000e is not loaded
        run ! grep -q '^\[device' "$CONF/vfio-claim.conf"
}

# The devices disable and enable NAME read again under the lock are read without anything that
# takes a device lock: neither driver_override nor an SR-IOV PF's sriov_numvfs, which Linux
# holds the PF's lock to show. A PF whose probe is stuck (modelled by holding the fake kernel's
# lock of it) must not keep them under the lock when they move one of its VFs.
sriov_pf_stuck_under_lock() {
        fake_root sriov-64vf
        conf $'[device vf]\nmatch = 0000:02:02.0'
        [ "$1" = enable ] || vc enable 0000:02:02.0
        cli_behind_lock "$1" vf
        cli_ends_with_device_stuck 0000:02:00.0
        assert_equal "$status" 0
}

@test "disable: an SR-IOV PF stuck in the kernel does not hold disable of its VF under the lock" {
        sriov_pf_stuck_under_lock disable
        assert_equal "$(fk_driver 0000:02:02.0)" iavf
        run ! grep -q '^\[device' "$CONF/vfio-claim.conf"
}

@test "enable NAME: an SR-IOV PF stuck in the kernel does not hold enable of its VF under the lock" {
        sriov_pf_stuck_under_lock enable
        assert_equal "$(fk_driver 0000:02:02.0)" vfio-pci
        assert_equal "$(fk_driver 0000:02:00.0)" i40e
}

# A verb that failed but changed the configuration (disable --all: the first group's entries
# dropped, the second group refused) writes the udev rule as one that succeeded does, waiting
# for the lock when another run holds it then: the rule must not keep a device whose entry is
# gone. libvirt's test driver reads its node from a FIFO here, which stops the CLI where each
# group asks libvirt about the VMs' definitions: the lock is taken before the second answer.
@test "disable --all that fails for a later group: the udev rule follows the entries it dropped, lock busy or not" {
        fake_root twin-nics
        conf '# none yet'
        vc enable --boot 0000:01:00.0
        vc enable --boot 0000:02:00.0
        pci_rule_runs 0000:01:00.0
        pci_rule_runs 0000:02:00.0
        local T=$BATS_TEST_TMPDIR node=$BATS_TEST_TMPDIR/node.xml i waited=0
        local vm="<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>lab</name><memory>1048576</memory><os><type>hvm</type></os><devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></hostdev></devices><test:runstate>5</test:runstate></domain>"
        mkfifo "$node"
        # shellcheck disable=SC2086
        (exec env FAKEKERNEL_HOST=1 ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM" $VC_WRAPPER "$abs_top_builddir/vfio-claim" --connect "test://$node" disable --all \
                > "$T/out" 2>&1 3>&- < /dev/null) &
        CLI_PID=$!
        # group 3: no VM lists it; given back, its entry dropped
        wait_for "grep -q wait_for_partner /proc/$CLI_PID/wchan 2>/dev/null"
        echo "<node>${vm/bus='0x02'/bus='0x07'}</node>" > "$node"
        wait_for "[ ! -e '$CONF/conf.d/0000-01-00.0.conf' ]"
        # group 5: another run holds the lock now, and VM lab lists the group (managed='no'): refused
        wait_for "grep -q wait_for_partner /proc/$CLI_PID/wchan 2>/dev/null"
        lock_hold
        echo "<node>$vm</node>" > "$node"
        for i in $(seq 1200); do
                lock_open_by "$CLI_PID" && { waited=1; break; }
                [ "$(awk '{print $3}' "/proc/$CLI_PID/stat" 2>/dev/null)" = Z ] && break
                sleep 0.1
        done
        lock_release
        status=0
        wait "$CLI_PID" || status=$?
        cat "$T/out"
        assert_equal "$status" 4
        grep -q "IOMMU group 5 is in the definition of VM lab" "$T/out"
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
        [ -e "$CONF/conf.d/0000-02-00.0.conf" ]
        # the twin's id stays in the rule (the "id =" of group 5's entry): its address does not
        local rule=$ROOT/run/udev/rules.d/70-vfio-claim.rules
        run ! grep -q 'KERNEL=="0000:01:00.0"' "$rule"
        grep -q 'KERNEL=="0000:02:00.0"' "$rule"
        assert_equal "$waited" 1
}

# enable of a [usb NAME] takes the devices the entry selects as the configuration read under the
# lock has it, as disable does (above).
@test "enable of a USB entry: the entry as it stands under the lock decides which device is taken" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        cli_behind_lock enable serial-a
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K5678'
        cli_let_go
        assert_success
        assert_output "3-1.3:1.0: unbind"
        [ ! -e "$STATE/usb-3-1.2" ]
        [ -e "$ROOT/sys/bus/usb/devices/3-1.2:1.0/driver" ]
        [ -e "$STATE/usb-3-1.3" ]
        [ ! -e "$ROOT/sys/bus/usb/devices/3-1.3:1.0/driver" ]
}

# enable of a [device NAME] claims the groups the entry selects as the configuration read under
# the lock has it, as enable of a [usb NAME] does (above): an entry whose match = another run or
# the admin changed while enable waited claims the device it names now, and the one it named
# before stays with the host.
@test "enable of a device entry: the entry as it stands under the lock decides which group is claimed" {
        fake_root two-big-gpus
        conf $'[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock enable gpu
        conf $'[device gpu]\nmatch = 0000:02:00.0'
        cli_let_go
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0) $(fk_driver 0000:02:00.1)" "vfio-pci vfio-pci"
        [ -e "$ROOT/dev/vfio/2" ]
        grep -qx 'state claimed' "$STATE/group-2"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        assert_equal "$(fk_override 0000:01:00.0)$(fk_override 0000:01:00.1)" ""
        [ ! -e "$ROOT/dev/vfio/1" ]
        assert_equal "$(record 1)" ""
}

@test "enable of a device entry dropped while enable waited for the lock: nothing is claimed" {
        fake_root two-big-gpus
        conf $'[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock enable gpu
        conf '# none'
        cli_let_go
        assert_failure 1
        assert_output "vfio-claim: gpu: no longer configured in ${CONF#"$ROOT"}; nothing was changed"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record 1)" ""
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
}

@test "enable of a device entry that selects no device present once enable holds the lock: nothing is claimed" {
        fake_root two-big-gpus
        conf $'[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock enable gpu
        conf $'[device gpu]\nmatch = 0000:09:00.0'
        cli_let_go
        assert_failure 1
        assert_output "vfio-claim: gpu: configured in vfio-claim.conf:1, but no device present matches it"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record 1)" ""
        [ ! -e "$CONF/conf.d" ]
}

# ... and the consent asked before the lock was for the groups the entry selected then: a group it
# selects now that holds another slot's device (consent.bats) needs a consent of its own, and
# nobody is asked under the lock: refused (exit 4), nothing changed.
@test "enable of a device entry that selects, under the lock, a group that needs consent: refused" {
        fake_root two-big-gpus
        # the second GPU's audio function in a slot of its own: its group moves only with consent
        sed 's/0000:02:00\.1/0000:02:01.0/' "$abs_top_srcdir/tests/fixtures/two-big-gpus.topo" > "$BATS_TEST_TMPDIR/apart.topo"
        rm -rf "$ROOT" && "$FK_MKTREE" "$BATS_TEST_TMPDIR/apart.topo" "$ROOT"
        conf $'[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock enable gpu
        conf $'[device gpu]\nmatch = 0000:02:00.0'
        cli_let_go
        assert_equal "$status" 4
        assert_output --partial "refused: the configuration read under the lock gives no consent = yes for it"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(record 1)$(record 2)" ""
        [ ! -e "$CONF/conf.d" ]
}

# disable NAME of an entry whose device is gone decides under the lock too: an entry another run
# edited meanwhile is taken out as it reads then, and one whose device showed up meanwhile (a
# rescan) is left alone: the device it selects now may be claimed, which only a run that reads it
# can give back.
@test "disable NAME of an entry whose device is gone: an edit made while it waited for the lock stays" {
        fake_root gpu-audio
        conf $'[device old-nic]\nmatch = 0000:07:00.0\n\n[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock disable old-nic
        conf $'[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n\n[device old-nic]\nmatch = 0000:07:00.0'
        cli_let_go
        assert_success
        assert_output "old-nic: no device present matches it (${CONF#"$ROOT"}/vfio-claim.conf:5); nothing to give back
configuration: ${CONF#"$ROOT"}/vfio-claim.conf: removed [device old-nic] (lines 5-6)"
        assert_equal "$(cat "$CONF/vfio-claim.conf")" $'[device gpu]\nmatch = 0000:01:00.0\nboot = yes'
        assert_equal "$(fk_writes)" 0
}

@test "disable NAME of an entry whose device showed up while disable waited for the lock: nothing changes" {
        fake_root gpu-audio
        conf $'[device old-nic]\nmatch = 0000:07:00.0\n\n[device gpu]\nmatch = 0000:01:00.0'
        cli_behind_lock disable old-nic
        conf $'[device old-nic]\nmatch = 0000:01:00.1\n\n[device gpu]\nmatch = 0000:01:00.0'
        cli_let_go
        assert_failure 1
        assert_output "vfio-claim: old-nic: a device it selects showed up while this command waited for the lock; nothing was changed, run it again"
        assert_equal "$(cat "$CONF/vfio-claim.conf")" $'[device old-nic]\nmatch = 0000:01:00.1\n\n[device gpu]\nmatch = 0000:01:00.0'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
}
