#!/usr/bin/env bats
# vfio-claim-udev on the fake kernel, with the environment udev gives a RUN program
# (ACTION, DEVPATH, SUBSYSTEM, PCI_SLOT_NAME, PCI_ID), and the boot pass (--all).
# What this does not show: udev's own ordering of RUN entries and a real kernel's probing;
# the lab (tests/vm) boots a real one.

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"

# conf 'INI TEXT': the configuration of the fake root
conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# event ADDR [VAR=VALUE...]: one PCI "add" event for ADDR, as udev runs the rule's RUN program
event() {
        local addr=$1
        shift
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci \
                DEVPATH="/devices/pci0000:00/$addr" PCI_SLOT_NAME="$addr" \
                PCI_ID="$(pci_id "$addr")" \
                FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr "$@" \
                $VC_WRAPPER "$UDEV_HELPER"
}

# pass [ARGS...]: the boot pass
pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" --all "$@"
}

# event_within SECONDS ADDR / pass_within SECONDS: event ADDR or pass, killed after SECONDS
# (status 124: it hung), run through run_via_file (a write left stuck in the fake kernel keeps a
# pipe open).
event_within() {
        run_via_file env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" UDEV_HELPER="$UDEV_HELPER" \
                timeout "$1" "$BASH" -c "$(declare -f fk event pci_id); event $2"
}
pass_within() {
        run_via_file env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" UDEV_HELPER="$UDEV_HELPER" \
                timeout "$1" "$BASH" -c "$(declare -f fk pass); pass"
}

pci_id() {
        local d="$ROOT/sys/bus/pci/devices/$1" v dv
        [ -d "$d" ] || return 0
        v=$(cat "$d/vendor") dv=$(cat "$d/device")
        printf '%s:%s' "${v#0x}" "${dv#0x}" | tr a-f A-F
}

# record N: the state record of group N, empty when there is none
record() {
        if [ -e "$STATE/group-$1" ]; then echo "$STATE/group-$1"; fi
}

# kmod_load MODULE: what 80-drivers.rules' RUN{builtin}+="kmod load" does for an event
kmod_load() {
        fk_host "$FK_OP" modprobe "$1"
}

probe() {
        fk "$FK_OP" write "$ROOT/sys/bus/pci/drivers_probe" "$1"
}

cmdline_add() {
        local c
        c=$(cat "$ROOT/proc/cmdline")
        printf '%s %s\n' "$c" "$1" > "$ROOT/proc/cmdline"
}

@test "matched by address: override set, vfio-pci loaded, claimed, no host driver after a probe" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        run grep -c '^modprobe:vfio_pci' "$ROOT/.fakekernel/writes.log"
        assert_output 1
        # the host NIC is not touched
        assert_equal "$(fk_override 0000:01:00.0)" ""
        # udev's own module load for this event, and a later reprobe, change nothing
        kmod_load e1000e
        probe 0000:02:00.0
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" e1000e
        [ -n "$(record 5)" ]
}

@test "matched by vendor:device with the id guard holding: the whole group is claimed" {
        fake_root twin-nics
        conf '[device display]
match = 1234:1111
id = 1234:1111
boot = yes'
        run event 0000:00:05.0
        assert_success
        assert_equal "$(fk_driver 0000:00:05.0)" vfio-pci
        # the audio function shares the group: it goes too, and no host driver gets it first
        assert_equal "$(fk_override 0000:00:05.1)" vfio-pci
        assert_equal "$(fk_driver 0000:00:05.1)" vfio-pci
        kmod_load snd_hda_intel
        assert_equal "$(fk_driver 0000:00:05.1)" vfio-pci
        run cat "$(record 1)"
        assert_line 'group 1'
        assert_line 'state claimed'
        assert_line --partial 'device 0000:00:05.1 driver=none'
}

@test "id guard mismatch: hardware changed, nothing written" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
id = 10de:2204
boot = yes'
        run event 0000:02:00.0
        assert_success
        assert_output --partial '0000:02:00.0: [device guest-nic] hardware changed (expected 10de:2204, found 8086:10d3): not claiming it'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_override 0000:02:00.0)" ""
}

@test "id guard: the subsystem ids it names are the ones shown; ids that cannot be read are said so" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
id = 8086:10d3:1af4:1100
boot = yes'
        found="8086:10d3:$(sed 's/^0x//' "$ROOT/sys/bus/pci/devices/0000:02:00.0/subsystem_vendor"):$(sed 's/^0x//' "$ROOT/sys/bus/pci/devices/0000:02:00.0/subsystem_device")"
        run event 0000:02:00.0
        assert_success
        assert_output --partial "0000:02:00.0: [device guest-nic] hardware changed (expected 8086:10d3:1af4:1100, found $found): not claiming it"
        assert_equal "$(fk_writes)" 0
        # a vendor file that does not hold a number: no made-up "found 0000:0000"
        conf '[device guest-nic]
match = 0000:02:00.0
id = 8086:10d3
boot = yes'
        echo garbage > "$ROOT/sys/bus/pci/devices/0000:02:00.0/vendor"
        run event 0000:02:00.0
        assert_success
        assert_output --partial '0000:02:00.0: [device guest-nic] cannot read its ids to check id = 8086:10d3 ('
        refute_output --partial 'found 0000:0000'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_override 0000:02:00.0)" ""
}

@test "already bound (driver loaded earlier): claimed through the engine, with a record" {
        fake_root lone-nic
        conf '[device nic]
match = 03:00.0
boot = yes'
        assert_equal "$(fk_driver 0000:03:00.0)" e1000e
        run event 0000:03:00.0
        assert_success
        assert_output --partial '0000:03:00.0: [device nic] group 7 claimed for vfio-pci'
        assert_equal "$(fk_driver 0000:03:00.0)" vfio-pci
        run cat "$(record 7)"
        assert_line 'state claimed'
        assert_line --partial 'device 0000:03:00.0 driver=e1000e'
        run grep -c 'unbind' "$ROOT/.fakekernel/writes.log"
        assert_output 1
}

# driver_override takes the device's lock, which the kernel holds while a driver probes the
# device: the fake kernel's STUCK write is that. The event must end after that one bound
# ([global] timeout), without a claim that would wait for the device again at each step (past
# udev's event timeout with a long bound), name the device and what to run, and leave the group
# for `vfio-claim release` (or apply) once the kernel lets go.
# stuck_override_event SECONDS: the guest NIC's add event, its override write STUCK, with
# [global] timeout = SECONDS; output and status in $output/$status.
stuck_override_event() {
        fake_root twin-nics
        conf "[global]
timeout = $1
[device guest-nic]
match = 0000:02:00.0
boot = yes"
        fk_fail 'glob:*/0000:02:00.0/driver_override STUCK'
        event_within 600 0000:02:00.0
}

@test "an override write that blocks in the kernel: the event ends, the device is named, release finishes" {
        stuck_override_event 5
        assert_success # udev's RUN: the failure is logged, the event goes on
        assert_line "vfio-claim-udev: 0000:02:00.0: failed to set driver_override (group 5, [device guest-nic]): Connection timed out"
        assert_line "vfio-claim-udev: 0000:02:00.0: [device guest-nic] group 5 not claimed now: setting driver_override of 0000:02:00.0 did not finish within 5 s (the kernel holds the device, a driver probing it?); once it is free, run 'vfio-claim apply' to claim it or 'vfio-claim release group:5' to give it back"
        # no claim was tried: one write (the pass's), the record as the pass left it
        assert_equal "$(grep -c 'driver_override' "$ROOT/.fakekernel/writes.log")" 1
        [ -e "$STATE/stuck-0000:02:00.0" ]
        grep -qx 'state claiming' "$STATE/group-5"
        fk_unstick
        assert_equal "$(fk_override 0000:02:00.0)" vfio-pci
        kmod_load e1000e # the rest of the boot: the host NIC's module, which the override keeps off
        assert_equal "$(fk_driver 0000:02:00.0)" ""
        run vc --timeout 300 release group:5 # the kernel let go: a bound for a loaded machine
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" ""
        assert_equal "$(fk_driver 0000:02:00.0)" e1000e
        [ -z "$(record 5)" ]
}

@test "an override write that blocked at boot: once the kernel lets go, apply claims the group" {
        stuck_override_event 2
        assert_success
        assert_line --partial "group 5 not claimed now"
        fk_unstick
        kmod_load e1000e
        run vc --timeout 300 apply # the kernel let go: a bound for a loaded machine
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        [ -e "$ROOT/dev/vfio/5" ]
        grep -qx 'state claimed' "$STATE/group-5"
        [ ! -e "$STATE/stuck-0000:02:00.0" ]
}

# The kernel still holds the guest NIC's lock (the STUCK write never ends here): a later event
# the rule matches (the host twin's: udev runs the helper for its PCI_ID) and the boot pass of
# the real root's early unit (the mark in /run survives the initramfs) must end within a few
# bounds of 2 s, not wait in the kernel with udev's worker or the boot held. timeout(1)'s 120 s
# only catches that hang (status 124).
@test "an override write left stuck: a later event and the boot pass end, the group left alone" {
        stuck_override_event 2
        assert_success
        [ -e "$STATE/stuck-0000:02:00.0" ]
        event_within 120 0000:01:00.0
        assert_success
        pass_within 120
        assert_success
        assert_equal "$(grep -c 'driver_override' "$ROOT/.fakekernel/writes.log")" 1
        grep -qx 'state claiming' "$STATE/group-5"
        fk_unstick
}

# A member of a boot group whose device lock a driver's probe holds and does not return (the fake
# kernel's held lock, helpers.bash; no write of vfio-claim's is stuck, nothing is marked): the
# pass, which holds vfio-claim's lock from its first group on, reads the group's overrides with
# the write's bound (lib/root.h). It must end, claim the other boot group, write nothing to the
# held group and say so; the next event, once the kernel lets go, claims it.
@test "--all: a boot group member whose lock a probe holds is left alone; the pass ends and claims the rest" {
        fake_root twin-nics
        conf '[global]
timeout = 5

[device display]
match = 0000:00:05.0
boot = yes

[device guest-nic]
match = 0000:02:00.0
boot = yes'
        device_lock_hold 0000:00:05.1
        pass_within 300
        assert_success
        assert_line "vfio-claim-udev: 0000:00:05.1: driver_override not set (group 1, [device display]): its lock stayed held through the bounded read of it"
        assert_line "vfio-claim-udev: 0000:00:05.0: [device display] group 1 not claimed now: the kernel held 0000:00:05.1 for more than 5 s (a driver probing it?), and nothing was written; once it is free, run 'vfio-claim apply' to claim it"
        assert_equal "$(fk_override 0000:00:05.0)$(fk_override 0000:00:05.1)" ""
        [ -z "$(record 1)" ]
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        flock -n "$STATE/lock" true 3>&-
        device_lock_let_go
        sed -i 's/^timeout = 5$/timeout = 60/' "$CONF/vfio-claim.conf"
        run event 0000:00:05.0
        assert_success
        assert_equal "$(fk_driver 0000:00:05.0) $(fk_driver 0000:00:05.1)" "vfio-pci vfio-pci"
}

# The event's own device held so (its host driver's probe, started by the same add event, does not
# return): the helper's first look at its driver_override, before it takes vfio-claim's lock, has
# the bound too; udev's worker does not wait in the kernel with it.
@test "an add event of a boot device whose lock a probe holds ends within the bound, names it, writes nothing" {
        fake_root twin-nics
        conf '[global]
timeout = 5

[device guest-nic]
match = 0000:02:00.0
boot = yes'
        device_lock_hold 0000:02:00.0
        event_within 300 0000:02:00.0
        assert_success
        assert_line "vfio-claim-udev: 0000:02:00.0: driver_override not set (group 5, [device guest-nic]): its lock stayed held through the bounded read of it"
        assert_line "vfio-claim-udev: 0000:02:00.0: [device guest-nic] group 5 not claimed now: the kernel held 0000:02:00.0 for more than 5 s (a driver probing it?), and nothing was written; once it is free, run 'vfio-claim apply' to claim it"
        assert_equal "$(fk_writes)" 0
        device_lock_let_go
        sed -i 's/^timeout = 5$/timeout = 60/' "$CONF/vfio-claim.conf"
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

# An add event of a boot = yes device (a rescan, `udevadm trigger --action=add`) while `vfio-claim
# disable` gives its group back: the helper reads the configuration under the lock, which disable
# holds from its first write until its entry is gone, so it sees the entry gone and claims
# nothing. (It read the configuration first and claimed the group again, for an entry that no
# longer existed.) The fake kernel's write lock, held here, keeps disable inside its first write
# until the event waits for vfio-claim's lock.
@test "an add event during disable does not claim the group again from the entry disable drops" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event 0000:02:00.0
        assert_success
        kmod_load e1000e
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" e1000e
        exec 9>>"$ROOT/.fakekernel/lock"
        flock 9
        vc disable 0000:02:00.0 > "$BATS_TEST_TMPDIR/disable.out" 2>&1 9>&- &
        local disable=$!
        wait_for '! flock -n "$STATE/lock" true' # disable holds vfio-claim's lock
        (exec env ACTION=add SUBSYSTEM=pci DEVPATH=/devices/pci0000:00/0000:00:1c.1/0000:02:00.0 \
                PCI_SLOT_NAME=0000:02:00.0 PCI_ID=8086:10D3 FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr \
                LD_PRELOAD="$FK_SHIM" "$UDEV_HELPER" > "$BATS_TEST_TMPDIR/event.out" 2>&1 9>&-) &
        local ev=$!
        wait_for "lock_open_by $ev"
        flock -u 9
        exec 9>&-
        wait "$disable"
        wait "$ev"
        cat "$BATS_TEST_TMPDIR/disable.out" "$BATS_TEST_TMPDIR/event.out"
        grep -qx 'IOMMU group 5: given back to the host drivers' "$BATS_TEST_TMPDIR/disable.out"
        run grep -c 'guest-nic' "$CONF/vfio-claim.conf"
        assert_output 0
        assert_equal "$(fk_driver 0000:02:00.0)" e1000e
        assert_equal "$(fk_override 0000:02:00.0)" ""
        [ -z "$(record 5)" ]
}

# The boot pass (the early unit) while another vfio-claim run holds the lock and edits the
# configuration: the pass reads it, and writes the rule from it, once it has the lock. (It read
# the configuration first, then set overrides and claimed for an entry that was gone.)
@test "the boot pass reads the configuration under the lock" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        local T=$BATS_TEST_TMPDIR
        lock_hold
        (exec env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr LD_PRELOAD="$FK_SHIM" "$UDEV_HELPER" --all \
                > "$T/pass.out" 2>&1) &
        local p=$!
        wait_for "lock_open_by $p"
        # meanwhile the entry was dropped (vfio-claim disable, under the lock)
        conf '# nothing at boot'
        lock_release
        wait "$p"
        cat "$T/pass.out"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_override 0000:02:00.0)" ""
        [ -z "$(record 5)" ]
        # the rule written from the configuration the pass read: it no longer runs the helper
        # for the device
        [ ! -e "$ROOT/$RULE_FILE" ] || ! pci_rule_runs 0000:02:00.0
}

# A boot device given back with `vfio-claim release` that no host driver took (its module
# blacklisted) is unbound, with no override, as the release says. The next event the generated
# rule matches (the host twin's: a hotplug, a rescan, `udevadm trigger`) leaves it so for the
# rest of the boot: it set its override again and wrote a "claiming" record that nothing
# claimed, and the module the admin then loaded by hand did not take the device.
@test "a boot device given back unbound is left to the host by a twin's later event" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        fk_modalias_index 'e1000e pci:v00008086d000010D3sv*sd*bc*sc*i*'
        mkdir -p "$ROOT/etc/modprobe.d"
        echo 'blacklist e1000e' > "$ROOT/etc/modprobe.d/no-e1000e.conf"
        run vc release guest-nic
        assert_success
        assert_line '  0000:02:00.0  now unbound'
        [ -z "$(record 5)" ]
        run event 0000:01:00.0
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" ""
        [ -z "$(record 5)" ]
        kmod_load e1000e # by hand, past the blacklist: it takes both NICs
        assert_equal "$(fk_driver 0000:02:00.0)" e1000e
        # the device's own event (a rescan) claims it again, as its entry says
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

@test "a boot group given back is claimed again by the boot pass run by hand" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run pass
        assert_success
        kmod_load e1000e
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        run vc release guest-nic
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" e1000e
        # the twin's event leaves it to the host ...
        run event 0000:01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" e1000e
        # ... the pass (systemctl restart vfio-claim-early.service) claims it, as apply would
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        grep -qx 'state claimed' "$STATE/group-5"
}

@test "unmatched device: no write, no module load" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event 0000:02:00.0
        assert_success
        : > "$ROOT/.fakekernel/writes.log"
        run event 0000:01:00.0
        assert_success
        assert_output ''
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_override 0000:01:00.0)" ""
}

@test "unmatched device, configured device absent: no write" {
        fake_root twin-nics
        conf '[device gone]
match = 0000:09:00.0
boot = yes

[device later]
match = 0000:01:00.0
boot = no'
        run event 0000:01:00.0
        assert_success
        assert_output ''
        assert_equal "$(fk_writes)" 0
}

@test "malformed configuration: exit 0, nothing written, the error logged" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = perhaps'
        run event 0000:02:00.0
        assert_success
        assert_line --partial 'vfio-claim.conf:3:'
        assert_line "vfio-claim-udev: ${CONF#"$ROOT"}: configuration invalid (1 error): claiming nothing"
        assert_equal "$(fk_writes)" 0
        run pass
        assert_success
        assert_equal "$(fk_writes)" 0
}

@test "malformed PCI_SLOT_NAME: exit 0, nothing written" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event '../../../../etc'
        assert_success
        assert_output --partial 'PCI_SLOT_NAME="../../../../etc"'
        assert_output --partial 'is not a PCI address: ignoring the event'
        assert_equal "$(fk_writes)" 0
        run event '0000:02:00.0 '
        assert_success
        assert_equal "$(fk_writes)" 0
}

@test "other actions and subsystems are ignored" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run event 0000:02:00.0 ACTION=remove
        assert_success
        run event 0000:02:00.0 ACTION=bind
        assert_success
        run event 0000:02:00.0 SUBSYSTEM=usb
        assert_success
        assert_equal "$(fk_writes)" 0
}

@test "two identical NICs: the host twin's event protects the guest twin from its module load" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        # udev handles the host NIC's event first; its RUN list ends with "kmod load e1000e"
        run event 0000:01:00.0
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" vfio-pci
        kmod_load e1000e
        assert_equal "$(fk_driver 0000:01:00.0)" e1000e
        assert_equal "$(fk_driver 0000:02:00.0)" ""
        # then the guest NIC's own event
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.0)" e1000e
        assert_equal "$(fk_override 0000:01:00.0)" ""
        run grep -c 'unbind' "$ROOT/.fakekernel/writes.log"
        assert_output 0
}

@test "--all: sets every configured override before any module loads, claims, then has nothing to do" {
        fake_root twin-nics
        conf '[device host-nic]
match = 0000:01:00.0
boot = no

[device display]
match = 0000:00:05.0
boot = yes

[device guest-nic]
match = 8086:10d3
boot = yes'
        run pass
        assert_success
        # one line says what the pass did and what it cost (in the initramfs: the kernel log)
        assert_line --regexp 'boot pass \(vfio-claim-early\): 2 boot devices in 2 groups, 2 claimed, 0 failed, in [0-9]+\.[0-9]{3} ms$'
        # the first writes of the run are the overrides, before vfio-pci loads
        run head -n 3 "$ROOT/.fakekernel/writes.log"
        assert_line --index 0 --partial '0000:00:05.1/driver_override'
        assert_line --index 1 --partial '0000:00:05.0/driver_override'
        assert_line --index 2 --partial '0000:02:00.0/driver_override'
        assert_equal "$(fk_driver 0000:00:05.0)" vfio-pci
        assert_equal "$(fk_driver 0000:00:05.1)" vfio-pci
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        # the first entry that matches wins: 01:00.0 is "boot = no", though 8086:10d3
        assert_equal "$(fk_override 0000:01:00.0)" ""
        assert_equal "$(fk_driver 0000:01:00.0)" ""
        [ -n "$(record 1)" ]
        [ -n "$(record 5)" ]
        n=$(fk_writes)
        run pass
        assert_success
        assert_equal "$(fk_writes)" "$n"
        assert_line --regexp 'boot pass \(vfio-claim-early\): 2 boot devices in 2 groups, 2 claimed, 0 failed, in [0-9]+\.[0-9]{3} ms$'
        run event 0000:02:00.0
        assert_success
        assert_equal "$(fk_writes)" "$n"
}

@test "--all: the pass never writes an override the admin set (the engine's claim does)" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes

[device other]
match = 0000:01:00.0
boot = yes'
        fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override" e1000e
        : > "$ROOT/.fakekernel/writes.log"
        run pass
        assert_success
        run grep -c '0000:01:00.0/driver_override' "$ROOT/.fakekernel/writes.log"
        assert_output 1 # the engine's claim, after the pass; never the pass itself
        run head -n 1 "$ROOT/.fakekernel/writes.log"
        assert_output --regexp '/0000:02:00.0/driver_override.vfio-pci.ok$'
}

@test "vfio_claim=0 and rd.vfio_claim=0 on the kernel command line: nothing is claimed" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        for sw in vfio_claim=0 rd.vfio_claim=0 vfio-claim=off rd.vfio_claim=no; do
                fake_root twin-nics
                conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
                cmdline_add "$sw"
                run event 0000:02:00.0
                assert_success
                run pass
                assert_success
                assert_output --partial 'on the kernel command line: no device is claimed at boot'
                assert_equal "$(fk_writes)" 0
        done
        # the last occurrence wins
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        cmdline_add 'vfio_claim=0 vfio_claim=1'
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

@test "no IOMMU: a boot device is left to the host, with a warning" {
        fake_root no-iommu
        conf '[device gpu]
match = 0000:03:00.0
boot = yes'
        run pass
        assert_success
        assert_output --partial '0000:03:00.0: [device gpu] has no IOMMU group (is the IOMMU enabled?): leaving it to the host'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:03:00.0)" amdgpu
}

# Whose consent = yes counts for a group of several slots (vfio-claim.conf(5), consent): that of
# any entry that configures a device of the group, the first in reading order that selects it
# (MATCHING), with boot = yes or not. An entry that only selects a device an earlier entry
# configures gives none: its keys do not apply to that device.
@test "consent: any entry configuring a member of the group gives it, boot = no too; a shadowed entry does not" {
        fake_root doctor-shared-group
        conf '[device gpu]
match = 0000:03:00.0
boot = yes

[device usb]
match = 0000:00:14.0
consent = yes'
        run pass
        assert_success
        for a in 0000:00:14.0 0000:00:1f.6 0000:03:00.0; do assert_equal "$a $(fk_driver $a)" "$a vfio-pci"; done
        grep -qx 'state claimed' "$STATE/group-7"

        fake_root doctor-shared-group
        conf '[device gpu]
match = 0000:03:00.0
boot = yes

[device nvidia]
match = 10de:1b80
consent = yes'
        run pass
        assert_success
        assert_output --partial '0000:00:14.0: refused: not a function of a configured device (another slot of IOMMU group 7); moved only with consent = yes in the entry'
        # the pass's closing line counts a refused group as failed (not claimed)
        assert_line --regexp 'boot pass \(vfio-claim-early\): 1 boot device in 1 group, 0 claimed, 1 failed, in [0-9]+\.[0-9]{3} ms$'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:03:00.0)" nouveau
        [ ! -e "$STATE/group-7" ]
}

@test "--has-boot-devices: 0 with boot entries, 1 without, 3 for an invalid configuration" {
        fake_root twin-nics
        run env VFIO_CLAIM_SYSROOT="$ROOT" "$UDEV_HELPER" --has-boot-devices
        assert_failure 1
        conf '; [device x]
; match = 0000:02:00.0
; boot = yes
[device x]
match = 0000:02:00.0'
        run env VFIO_CLAIM_SYSROOT="$ROOT" "$UDEV_HELPER" --has-boot-devices
        assert_failure 1
        mkdir -p "$CONF/conf.d"
        printf '[device y]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/conf.d/y.conf"
        run env VFIO_CLAIM_SYSROOT="$ROOT" "$UDEV_HELPER" --has-boot-devices
        assert_success
        # a [usb] entry's boot = yes alone: the boot path holds it (the initramfs, the early unit)
        printf '[device y]\nmatch = 0000:01:00.0\n\n[usb stick]\nmatch = 0781:5583\nboot = yes\n' > "$CONF/conf.d/y.conf"
        run env VFIO_CLAIM_SYSROOT="$ROOT" "$UDEV_HELPER" --has-boot-devices
        assert_success
        printf 'bogus\n' >> "$CONF/conf.d/y.conf"
        run env VFIO_CLAIM_SYSROOT="$ROOT" "$UDEV_HELPER" --has-boot-devices
        assert_failure 3
        run "$UDEV_HELPER" --bogus
        assert_failure 2
}

@test "after a boot claim: vfio-claim apply has nothing to do, status lists the boot groups" {
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
boot = yes

[device guest-nic]
match = 0000:02:00.0
boot = yes'
        # coldplug order: the audio function, the host NIC, then the two configured devices
        for a in 0000:00:05.1 0000:01:00.0 0000:00:05.0 0000:02:00.0; do
                run event "$a"
                assert_success
        done
        vc --help 2>&1 | grep -q '^  apply' || skip "vfio-claim has no apply verb in this build"
        n=$(fk_writes)
        run vc apply
        assert_success
        assert_output 'nothing to do: every group with a boot = yes device is claimed'
        assert_equal "$(fk_writes)" "$n"
        run vc status
        assert_success
        assert_line --regexp '^IOMMU group 1: claimed, no VM, since .*, by udev \(PCI add event\)$'
        assert_line --regexp '^IOMMU group 5: claimed, no VM, since .*, by udev \(PCI add event\)$'
}

@test "an SR-IOV VF that appears bound to its VF driver: claimed, its 63 siblings untouched" {
        fake_root sriov-64vf
        conf '[device vf3]
match = 0000:02:02.3
id = 8086:154c
boot = yes'
        run event 0000:02:02.3
        assert_success
        assert_equal "$(fk_driver 0000:02:02.3)" vfio-pci
        assert_equal "$(fk_driver 0000:02:02.2)" iavf
        assert_equal "$(fk_driver 0000:02:02.4)" iavf
        assert_equal "$(fk_driver 0000:02:00.0)" i40e
        run grep -c 'driver_override' "$ROOT/.fakekernel/writes.log"
        assert_output 1
        : > "$ROOT/.fakekernel/writes.log"
        # the next VF's event: nothing to do
        run event 0000:02:02.4
        assert_success
        assert_equal "$(fk_writes)" 0
}

# reset_method ADDR: what the device's reset_method shows
reset_method() {
        cat "$ROOT/sys/bus/pci/devices/$1/reset_method"
}

@test "reset =: a boot claim writes the reset_method that vfio-claim apply writes" {
        for reset in flr bus none auto; do
                c="[device guest-nic]
match = 0000:02:00.0
boot = yes
reset = $reset"
                fake_root twin-nics
                conf "$c"
                run vc apply
                assert_success
                assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
                want=$(reset_method 0000:02:00.0)
                for how in pass event; do
                        fake_root twin-nics
                        conf "$c"
                        if [ $how = pass ]; then run pass; else run event 0000:02:00.0; fi
                        assert_success
                        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
                        assert_equal "reset = $reset, $how: '$(reset_method 0000:02:00.0)'" \
                                "reset = $reset, $how: '$want'"
                done
        done
        # the values themselves, as vfio-claim.conf(5) says
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes
reset = flr'
        run pass
        assert_equal "$(reset_method 0000:02:00.0)" flr
}

# ---- the generated rule: udev runs the helper only for the events that can matter

RULE_FILE=run/udev/rules.d/70-vfio-claim.rules


# rule_runs_for: the PCI devices of the tree whose add event runs the helper, one line
rule_runs_for() {
        local d out=""
        for d in "$ROOT"/sys/bus/pci/devices/*; do
                pci_rule_runs "${d##*/}" && out="$out ${d##*/}"
                [ $? -le 1 ] || return 2
        done
        echo "${out# }"
}

@test "udev rule in udev's directory runs nothing: no process for any PCI event until vfio-claim writes its rule" {
        run grep -v -e '^#' -e '^$' "$abs_top_srcdir/udev/70-vfio-claim.rules"
        assert_failure 1
        assert_output ""
}

@test "generated rule: the configured address, its group, twins of its model; no other PCI event runs the helper" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes

[device display]
match = 0000:00:05.0
boot = no'
        run pass
        assert_success
        run rule_runs_for
        assert_success
        # the guest NIC, and the host NIC: same model, its event loads e1000e, which would
        # probe the guest NIC; never the display pair or the root ports
        assert_output "0000:01:00.0 0000:02:00.0"
        run cat "$ROOT/$RULE_FILE"
        assert_line '# [device guest-nic] matches this address'
        assert_line 'KERNEL=="0000:02:00.0", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        assert_line '# same model as 0000:02:00.0 (group 5, [device guest-nic]): a twin card'
        assert_line 'ENV{PCI_ID}=="8086:10D3", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        # the claim went on as before
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

@test "generated rule: every endpoint of a boot device's group, and entries by id" {
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
boot = yes'
        run pass
        assert_success
        # the audio function shares the group: its event must set the group's overrides
        # before snd_hda_intel loads
        assert_equal "$(rule_runs_for)" "0000:00:05.0 0000:00:05.1"
        run grep -c RUN "$ROOT/$RULE_FILE"
        assert_output 4
        fake_root twin-nics
        conf '[device nics]
match = 8086:10d3
boot = yes'
        run pass
        assert_success
        assert_equal "$(rule_runs_for)" "0000:01:00.0 0000:02:00.0"
        run grep -c RUN "$ROOT/$RULE_FILE"
        assert_output 3
}

# The rule reaches a group's other endpoints, and their twins, through a boot device the claim
# can take: not through a bridge (a root port alone in its group: nothing to claim, and a root
# port's twin loads no host module), nor through a boot device whose id = guard fails (its group
# is refused whole).
@test "generated rule: a named root port alone, its twin not; a refused group's other endpoints not" {
        fake_root twin-nics
        conf '[device port]
match = 0000:00:1c.1
boot = yes'
        run pass
        assert_success
        assert_equal "$(rule_runs_for)" "0000:00:1c.1"
        run grep -c 'ENV{PCI_ID}' "$ROOT/$RULE_FILE"
        assert_output 0
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
id = 1234:1112
boot = yes'
        run pass
        assert_success
        assert_equal "$(rule_runs_for)" "0000:00:05.0"
        run cat "$ROOT/$RULE_FILE"
        assert_line 'ENV{PCI_ID}=="1234:1112", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        refute_line --partial '0000:00:05.1'
}

@test "generated rule: an absent device is matched by address and by its id = guard" {
        fake_root twin-nics
        conf '[device later]
match = 0000:07:00.0
id = 10de:2204
boot = yes'
        run pass
        assert_success
        run cat "$ROOT/$RULE_FILE"
        assert_line 'KERNEL=="0000:07:00.0", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        assert_line 'ENV{PCI_ID}=="10DE:2204", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        assert_equal "$(rule_runs_for)" ""
}

@test "generated rule: no boot = yes entry, or an invalid configuration, runs nothing" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0'
        run pass
        assert_success
        run grep -c RUN "$ROOT/$RULE_FILE"
        assert_output 0
        grep -q '^# No "boot = yes" entry: no PCI event runs anything.$' "$ROOT/$RULE_FILE"
        conf '[device guest-nic]
match = 0000:02:00.0
boot = perhaps'
        run pass
        assert_success
        grep -q '^# The configuration cannot be used: no PCI event runs anything.$' "$ROOT/$RULE_FILE"
        run grep -c RUN "$ROOT/$RULE_FILE"
        assert_output 0
}

@test "generated rule: enable --boot, disable and apply keep it current; a stale rule claims nothing" {
        fake_root twin-nics
        fk_host "$FK_OP" modprobe e1000e
        run vc enable --boot 0000:02:00.0
        assert_success
        assert_equal "$(rule_runs_for)" "0000:01:00.0 0000:02:00.0"
        run vc disable 0000:02:00.0
        assert_success
        assert_equal "$(rule_runs_for)" ""
        # apply writes it from the configuration as it is now
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run vc apply
        assert_success
        assert_equal "$(rule_runs_for)" "0000:01:00.0 0000:02:00.0"
        # --dry-run writes nothing: the entry removed by hand, not applied yet
        conf ''
        run vc --dry-run apply
        assert_success
        assert_equal "$(rule_runs_for)" "0000:01:00.0 0000:02:00.0"
        # the stale rule still runs the helper, which reads the configuration again and claims
        # nothing (release the group first, as disable would)
        run vc release 0000:02:00.0
        assert_success
        [ -z "$(fk_override 0000:02:00.0)" ]
        fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/0000:02:00.0/driver/unbind" 0000:02:00.0
        run event 0000:02:00.0
        assert_success
        [ -z "$(fk_override 0000:02:00.0)" ]
        [ "$(fk_driver 0000:02:00.0)" != vfio-pci ]
}

@test "libkmod is opened only to load a module, libudev only to name a device: neither linked, neither mapped for a group claimed already" {
        local bin=$UDEV_HELPER
        [ -x "$abs_top_builddir/.libs/vfio-claim-udev" ] && bin=$abs_top_builddir/.libs/vfio-claim-udev
        run readelf -d "$bin"
        assert_success
        assert_output --partial '(NEEDED)'
        refute_output --partial libkmod
        refute_output --partial libudev
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        # the event of the claimed device, outside the shim: the loader opens neither libkmod nor
        # libudev (the hwdb's names, lib/root.c)
        run --separate-stderr env LD_DEBUG=files ACTION=add SUBSYSTEM=pci \
                DEVPATH=/devices/pci0000:00/0000:02:00.0 PCI_SLOT_NAME=0000:02:00.0 PCI_ID=8086:10D3 \
                VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_LOG=stderr "$UDEV_HELPER"
        assert_success
        [[ $stderr == *"file=libinih"* ]] # LD_DEBUG works
        [[ $stderr != *libkmod* ]]
        [[ $stderr != *libudev* ]]
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
}

# The initramfs's pass logs to /dev/kmsg, which the kernel rate-limits per open file by default
# (printk.devkmsg=ratelimit: 10 messages in 5 s, the rest dropped without an error; the fake
# kernel models it for ROOT/dev/kmsg). Every line must land, the overrides that show they were
# set in the initramfs, the errors and the pass's closing line: every message has a fresh file.
# kmsg_tree N: N GPUs with their audio, each in a group of its own, no driver bound yet (the
# initramfs); the last one's claim fails (reset = flr, a method it lacks)
kmsg_tree() {
        local n=$1 i
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        {
                printf 'iommu intel\ndriver pcieport builtin\ndriver nouveau ids=10de:*\ndriver vfio-pci unloaded\n'
                for ((i = 1; i <= n; i++)); do
                        printf 'dev 0000:00:%02x.0 class=0x060400 id=8086:460d group=%d driver=pcieport\n' "$i" $((2 * i))
                        printf 'dev 0000:%02x:00.0 class=0x030000 id=10de:2204 group=%d parent=0000:00:%02x.0 reset_method=%s\n' \
                                "$i" $((2 * i + 1)) "$i" "$([ "$i" = "$n" ] && echo bus || echo flr,bus)"
                        printf 'dev 0000:%02x:00.1 class=0x040300 id=10de:1aef group=%d parent=0000:00:%02x.0 reset_method=%s\n' \
                                "$i" $((2 * i + 1)) "$i" "$([ "$i" = "$n" ] && echo bus || echo flr,bus)"
                done
        } > "$BATS_TEST_TMPDIR/kmsg.topo"
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/kmsg.topo" "$ROOT" > /dev/null
        FAKEKERNEL_ROOT=$ROOT CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$CONF" "$ROOT/dev" "$ROOT/etc" # /etc/initrd-release, whatever the build's sysconfdir
        : > "$ROOT/etc/initrd-release"
        : > "$ROOT/dev/kmsg"
        for ((i = 1; i <= n; i++)); do
                printf '[device gpu%d]\nmatch = 0000:%02x:00.0\nboot = yes\nreset = flr\n' "$i" "$i"
        done > "$CONF/vfio-claim.conf"
}

# kmsg_pass: the pass as the initramfs runs it, its messages to ROOT/dev/kmsg
kmsg_pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 $VC_WRAPPER "$UDEV_HELPER" --all --kmsg
}

@test "initramfs pass, three groups: the error and the closing line reach the kernel log" {
        kmsg_tree 3
        run kmsg_pass
        assert_success
        assert_output ""
        run sed -E 's/\[[0-9]+\]/[PID]/; s/ in [0-9.]+ ms$/ in T ms/' "$ROOT/dev/kmsg"
        # LOG_DAEMON with the level: <27> err, <29> notice, <30> info
        assert_output "<30>vfio-claim[PID]: 0000:01:00.1: driver_override set to vfio-pci (group 3, [device gpu1])
<30>vfio-claim[PID]: 0000:01:00.0: driver_override set to vfio-pci (group 3, [device gpu1])
<30>vfio-claim[PID]: 0000:02:00.1: driver_override set to vfio-pci (group 5, [device gpu2])
<30>vfio-claim[PID]: 0000:02:00.0: driver_override set to vfio-pci (group 5, [device gpu2])
<30>vfio-claim[PID]: 0000:03:00.1: driver_override set to vfio-pci (group 7, [device gpu3])
<30>vfio-claim[PID]: 0000:03:00.0: driver_override set to vfio-pci (group 7, [device gpu3])
<29>vfio-claim[PID]: 0000:01:00.0: [device gpu1] group 3 claimed for vfio-pci
<29>vfio-claim[PID]: 0000:02:00.0: [device gpu2] group 5 claimed for vfio-pci
<27>vfio-claim[PID]: 0000:03:00.0: failed to set reset_method to flr: Invalid argument ([device gpu3], group 7)
<29>vfio-claim[PID]: group 7 left to the host: driver_override cleared, nothing on vfio-pci, no record
<30>vfio-claim[PID]: boot pass in the initramfs: 3 boot devices in 3 groups, 2 claimed, 1 failed, in T ms"
}

@test "initramfs pass, twelve groups: more lines than the kernel's burst, none lost" {
        kmsg_tree 12
        run kmsg_pass
        assert_success
        assert_equal "$(grep -c 'claimed for vfio-pci$' "$ROOT/dev/kmsg")" 11
        run grep '^<27>' "$ROOT/dev/kmsg"
        assert_output --regexp '0000:0c:00.0: failed to set reset_method to flr: Invalid argument \(\[device gpu12\], group 25\)$'
        assert_equal "$(grep -c '^<30>.*driver_override set to vfio-pci' "$ROOT/dev/kmsg")" 24
        run grep -c . "$ROOT/dev/kmsg"
        assert_output 38
        run tail -n 1 "$ROOT/dev/kmsg"
        assert_output --regexp '^<30>vfio-claim\[[0-9]+\]: boot pass in the initramfs: 12 boot devices in 12 groups, 11 claimed, 1 failed, in '
}
