#!/usr/bin/env bats
# A boot claim either claims the whole group, with a record, or leaves nothing behind: after a
# refused or failed boot pass (vfio-claim-udev --all, and udev's add events in coldplug order),
# every driver, driver_override, reset_method and state record is what it was before. Each way a
# boot claim can be refused or fail is tried: protect (a member host-critical, also one already
# on its host driver), an "id =" guard of a member, a device without an IOMMU group, the rescue
# switch, a group whose only member is a bridge, a member whose host driver will not let go, a
# reset method the device lacks, and vfio-pci that cannot load.

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# pass: the boot pass (vfio-claim-early.service, dracut's and initramfs-tools' hooks)
pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" --all
}

# event ADDR: udev's "add" event for ADDR runs the helper (70-vfio-claim.rules)
event() {
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" \
                FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER"
}

# coldplug: udev's add event for every device, in address order
coldplug() {
        local d
        for d in "$ROOT"/sys/bus/pci/devices/*; do
                event "${d##*/}" || return 1
        done
}

# snapshot [ADDR...]: driver, driver_override and reset_method of these devices (default: all),
# and every state record
snapshot() {
        local a d
        if [ $# -eq 0 ]; then
                for d in "$ROOT"/sys/bus/pci/devices/*; do set -- "$@" "${d##*/}"; done
        fi
        for a in "$@"; do
                d="$ROOT/sys/bus/pci/devices/$a"
                printf '%s driver=%s override=%s reset_method=%s\n' "$a" "$(fk_driver "$a")" \
                        "$(fk_override "$a")" "$(cat "$d/reset_method" 2>/dev/null || echo -)"
        done
        for d in "$STATE"/group-*; do
                [ -e "$d" ] || continue
                echo "record ${d##*/}:"
                grep -v '^since ' "$d"
        done
}

# refused HOW: run the boot pass (HOW=pass) or the coldplug events (HOW=coldplug) on the tree as
# it is, and check that nothing changed; the pass's messages are in $output
refused() {
        local before
        before=$(snapshot)
        run "$1"
        assert_success
        assert_equal "$(snapshot)" "$before"
}

# default_route_nic ADDR: the NIC at ADDR carries the default route (eth0)
default_route_nic() {
        mkdir -p "$ROOT/proc/net" "$ROOT/sys/class/net/eth0"
        printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' \
                > "$ROOT/proc/net/route"
        ln -sr "$(readlink -f "$ROOT/sys/bus/pci/devices/$1")" "$ROOT/sys/class/net/eth0/device"
}

# fbcon: a framebuffer console is active (efifb on the boot VGA, as at boot)
fbcon() {
        mkdir -p "$ROOT/sys/class/vtconsole/vtcon1"
        echo 1 > "$ROOT/sys/class/vtconsole/vtcon1/bind"
        echo '(M) frame buffer device' > "$ROOT/sys/class/vtconsole/vtcon1/name"
}

@test "protect: the boot VGA drives the console: refused before anything is written, also at coldplug" {
        for how in pass coldplug; do
                fake_root twin-nics
                fbcon
                conf '[device display]
match = 0000:00:05.0
boot = yes'
                refused $how
                assert_output --partial '0000:00:05.0: refused: boot VGA driving the active console ([device display], group 1)'
                assert_equal "$(fk_writes)" 0
                # the host driver, loaded by udev later, takes both functions
                fk_host "$FK_OP" modprobe snd_hda_intel
                assert_equal "$(fk_driver 0000:00:05.1)" snd_hda_intel
        done
}

@test "protect: a member already on its host driver is the default-route NIC: nothing written" {
        for how in pass coldplug; do
                fake_root boot-shared
                default_route_nic 0000:02:00.1
                conf '[device guest-port]
match = 0000:02:00.0
boot = yes'
                refused $how
                assert_output --partial '0000:02:00.1: refused: NIC of the default route (eth0) ([device guest-port], group 3)'
                assert_equal "$(fk_writes)" 0
        done
        # protect = no (and the next boot): the whole group is claimed, with a record
        fake_root boot-shared
        conf '[global]
protect = no

[device guest-port]
match = 0000:02:00.0
boot = yes'
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:02:00.0) $(fk_driver 0000:02:00.1)" "vfio-pci vfio-pci"
        run cat "$STATE/group-3"
        assert_line 'state claimed'
        assert_line 'device 0000:02:00.0 driver=none module=none override=none host=probe'
        assert_line 'device 0000:02:00.1 driver=igb module=igb override=none'
}

@test "id =: a member of the group is not the configured hardware: the group is refused whole" {
        for how in pass coldplug; do
                fake_root boot-shared
                conf '[device gpu]
match = 0000:01:00.0
id = 10de:2204
boot = yes

[device gpu-audio]
match = 0000:01:00.1
id = 10de:228b'
                refused $how
                assert_output --partial '0000:01:00.1: hardware changed (expected 10de:228b) ([device gpu], group 1)'
        done
        # the boot device itself changed: nothing either
        fake_root boot-shared
        conf '[device gpu]
match = 0000:01:00.0
id = 10de:2206
boot = yes'
        refused pass
        assert_output --partial 'hardware changed (expected 10de:2206, found 10de:2204): not claiming it'
        assert_equal "$(fk_writes)" 0
}

# A guard that does not hold refuses its device's whole group, whichever entry configures the
# other members and whatever they say: the GPU's own entry holds and says boot = yes, yet the
# group stays the host's, since the audio function cannot stay behind (groups move whole). Other
# groups are claimed as usual.
@test "id =: a boot device whose guard fails takes its group's other boot device with it, and nothing else" {
        for how in pass coldplug; do
                fake_root boot-shared
                conf '[device gpu]
match = 0000:01:00.0
id = 10de:2204
boot = yes

[device gpu-audio]
match = 0000:01:00.1
id = 10de:228b
boot = yes

[device old-nic]
match = 0000:04:00.0
boot = yes'
                before=$(snapshot 0000:01:00.0 0000:01:00.1 | grep '^0000:')
                run "$how"
                assert_success
                assert_equal "$(snapshot 0000:01:00.0 0000:01:00.1 | grep '^0000:')" "$before"
                assert_output --partial '0000:01:00.1: [device gpu-audio] hardware changed (expected 10de:228b, found 10de:1aef): not claiming it'
                assert_output --partial '0000:01:00.1: hardware changed (expected 10de:228b) ([device gpu], group 1)'
                [ ! -e "$STATE/group-1" ]
                assert_equal "$(fk_driver 0000:04:00.0)" vfio-pci
                grep -qx 'state claimed' "$STATE/group-5"
        done
}

@test "no IOMMU, and the rescue switch: nothing is written" {
        fake_root no-iommu
        conf '[device gpu]
match = 0000:03:00.0
boot = yes'
        refused pass
        refused coldplug
        assert_equal "$(fk_writes)" 0
        for sw in vfio_claim=0 rd.vfio_claim=0; do
                fake_root twin-nics
                conf '[device display]
match = 0000:00:05.0
boot = yes

[device guest-nic]
match = 0000:02:00.0
boot = yes'
                printf '%s %s\n' "$(cat "$ROOT/proc/cmdline")" "$sw" > "$ROOT/proc/cmdline"
                refused pass
                refused coldplug
                assert_equal "$(fk_writes)" 0
        done
}

@test "bridges: a group of only a bridge is refused without a write; a bridge beside the device is left alone" {
        fake_root boot-shared
        conf '[device port]
match = 0000:00:1c.1
boot = yes'
        refused pass
        assert_output --partial 'group 4'
        refused coldplug
        assert_equal "$(fk_writes)" 0
        # the NIC behind the PCIe-to-PCI bridge: its group is claimed whole, the bridge untouched
        conf '[device old-nic]
match = 0000:04:00.0
boot = yes'
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:04:00.0) $(fk_override 0000:04:00.0)" "vfio-pci vfio-pci"
        assert_equal "bridge: $(fk_driver 0000:03:00.0) $(fk_override 0000:03:00.0)" "bridge:  "
        run cat "$STATE/group-5"
        assert_line 'state claimed'
        refute_line --partial '0000:03:00.0'
}

# A boot = yes entry that names only a root port: bridges stay on their drivers, and its group
# has nothing else, so there is nothing to claim. Not a configuration error (the configuration is
# read without the hardware, and an invalid one would cost every other boot claim): one warning
# with the line that names it, at the pass and at its own event, and the pass's summary counts it
# neither as claimed nor as failed.
@test "bridges: a boot entry naming a root port alone gets one line naming file and line; the summary does not count it" {
        fake_root boot-shared
        conf '[device port]
match = 0000:00:1c.1
boot = yes

[device old-nic]
match = 0000:04:00.0
boot = yes'
        run pass
        assert_success
        assert_line "vfio-claim-udev: ${VC_SYSCONFDIR:-/etc}/vfio-claim/vfio-claim.conf:2: [device port] selects 0000:00:1c.1, a PCI bridge alone in IOMMU group 4: nothing to claim (bridges stay on their drivers; match the device behind it instead)"
        assert_line --regexp '^vfio-claim-udev: boot pass \(vfio-claim-early\): 1 boot device in 1 group, 1 claimed, 0 failed, in [0-9.]+ ms$'
        assert_equal "$(echo "$output" | grep -c '0000:00:1c.1')" 1
        refute_output --partial 'No such device'
        assert_equal "$(fk_driver 0000:04:00.0)" vfio-pci
        [ ! -e "$STATE/boot-failed-4" ]
        n=$(fk_writes)
        run event 0000:00:1c.1
        assert_success
        assert_output "vfio-claim-udev: ${VC_SYSCONFDIR:-/etc}/vfio-claim/vfio-claim.conf:2: [device port] selects 0000:00:1c.1, a PCI bridge alone in IOMMU group 4: nothing to claim (bridges stay on their drivers; match the device behind it instead)"
        assert_equal "$(fk_writes)" "$n"
        # matched by id: the id line is named
        fake_root boot-shared
        conf '# the chipset port
[device ports]
match = 0000:09:00.0
match = 8086:a111
boot = yes'
        run pass
        assert_success
        assert_output "vfio-claim-udev: ${VC_SYSCONFDIR:-/etc}/vfio-claim/vfio-claim.conf:4: [device ports] selects 0000:00:1c.1, a PCI bridge alone in IOMMU group 4: nothing to claim (bridges stay on their drivers; match the device behind it instead)"
        assert_equal "$(fk_writes)" 0
        # a PCIe-to-PCI bridge with the NIC behind it in its group: the NIC, of another slot,
        # moves with consent = yes
        fake_root boot-shared
        conf '[device old-bridge]
match = 0000:03:00.0
boot = yes'
        run pass
        assert_success
        assert_output --partial '0000:04:00.0: refused: not a function of a configured device (another slot of IOMMU group 5)'
        assert_equal "$(fk_writes)" 0
        printf 'consent = yes\n' >> "$CONF/vfio-claim.conf"
        run pass
        assert_success
        assert_equal "$(fk_driver 0000:04:00.0) $(fk_driver 0000:03:00.0)" "vfio-pci "
}

@test "a member's host driver will not let go: the group is given back, nothing left on vfio-pci" {
        for how in pass coldplug; do
                fake_root boot-shared
                conf '[device guest-port]
match = 0000:02:00.0
boot = yes'
                fk_fail 'glob:*/drivers/igb/unbind EBUSY'
                refused $how
                assert_output --partial '0000:02:00.1: failed to unbind from igb: Device or resource busy'
                assert_output --partial 'group 3 left to the host: driver_override cleared, nothing on vfio-pci, no record'
                [ ! -e "$ROOT/dev/vfio/3" ]
                if [ "$how" = pass ]; then
                        assert_line --regexp 'boot pass \(vfio-claim-early\): 1 boot device in 1 group, 0 claimed, 1 failed, in [0-9]+\.[0-9]{3} ms$'
                fi
        done
        # without the fault: claimed whole, the record names both originals
        fake_root boot-shared
        conf '[device gpu]
match = 0000:01:00.0
boot = yes'
        run coldplug
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        run cat "$STATE/group-1"
        assert_line 'state claimed'
        assert_line 'device 0000:01:00.0 driver=none module=none override=none host=probe'
        assert_line 'device 0000:01:00.1 driver=snd_hda_intel module=snd_hda_intel override=none'
}

@test "reset = a method the device lacks: given back, and later events leave the group to the host" {
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
boot = yes

[device display-audio]
match = 0000:00:05.1
reset = flr

[device guest-nic]
match = 0000:02:00.0
boot = yes'
        group1="0000:00:05.0 0000:00:05.1"
        before=$(snapshot $group1)
        # coldplug order: the audio function's event sets the group's overrides (a twin's
        # protection), the display's claims and fails, the NIC's must not set them again
        run coldplug
        assert_success
        assert_output --partial '0000:00:05.1: failed to set reset_method to flr: Invalid argument'
        assert_output --partial 'group 1 left to the host'
        assert_equal "$(snapshot $group1 | grep '^0000:')" "$before"
        [ ! -e "$STATE/group-1" ]
        [ ! -e "$ROOT/dev/vfio/1" ]
        # the other boot group is claimed all the same
        assert_equal "$(fk_driver 0000:02:00.0)" vfio-pci
        [ -e "$STATE/group-5" ]
        # udev's host module loads then find the devices free
        fk_host "$FK_OP" modprobe bochs
        fk_host "$FK_OP" modprobe snd_hda_intel
        assert_equal "$(fk_driver 0000:00:05.0) $(fk_driver 0000:00:05.1)" "bochs-drm snd_hda_intel"
        # the boot pass run later (vfio-claim-early after the initramfs) tries the claim again,
        # which fails the same way and changes nothing; the failure was logged once this boot
        # (the group's boot-failed mark holds the line), so only the summary counts it
        before=$(snapshot)
        run pass
        assert_success
        refute_output --partial '0000:00:05.1: failed to set reset_method to flr: Invalid argument'
        assert_output --regexp 'boot pass \(vfio-claim-early\): 2 boot devices in 2 groups, 1 claimed, 1 failed, in [0-9.]+ ms'
        grep -q '0000:00:05.1: failed to set reset_method to flr: Invalid argument' "$STATE/boot-failed-1"
        assert_equal "$(snapshot)" "$before"
}

@test "vfio-pci cannot load: every override the pass set is cleared again" {
        for how in pass coldplug; do
                fake_root twin-nics
                conf '[device display]
match = 0000:00:05.0
boot = yes

[device guest-nic]
match = 0000:02:00.0
boot = yes'
                fk_fail 'modprobe:vfio_pci ENOENT'
                refused $how
                assert_output --partial 'failed to load module vfio-pci'
        done
        # the host drivers take the devices when udev loads them
        fk_host "$FK_OP" modprobe e1000e
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:02:00.0)" "e1000e e1000e"
}

@test "a boot pass killed between the overrides and the claim leaves a record that release finishes" {
        fake_root twin-nics
        conf '[device guest-nic]
match = 0000:02:00.0
boot = yes'
        # the host twin's event sets the guest twin's override; its own event never comes
        run event 0000:01:00.0
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" vfio-pci
        run cat "$STATE/group-5"
        assert_line 'state claiming'
        assert_line 'device 0000:02:00.0 driver=none module=none override=none host=probe'
        run vc release 0000:02:00.0
        assert_success
        assert_equal "$(fk_override 0000:02:00.0)" ""
        assert_equal "$(fk_driver 0000:02:00.0)" ""
        [ ! -e "$STATE/group-5" ]
}
