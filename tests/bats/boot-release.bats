#!/usr/bin/env bats
# A device claimed at boot had no host driver yet. Giving it back (vfio-claim release, disable,
# or the hook when a VM stops with "release = host") hands it to the driver the kernel picks, as
# at boot without vfio-claim: the loaded driver that matches, else the module its modalias names
# (through libkmod, blacklists applied). The fixture is the lab's boot topology at coldplug time:
# no host module is loaded yet. What a real kernel does with it: tests/vm (boot scenarios).

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
DOMAINS="$abs_top_srcdir/tests/fixtures/domains"
NIC=0000:02:00.0      # e1000e, group 5
DISPLAY=0000:00:05.0  # bochs-drm (module bochs), group 1
AUDIO=0000:00:05.1    # snd_hda_intel, group 1

setup() {
        fake_root twin-nics
}

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# boot_event ADDR: udev's "add" event for ADDR runs the helper (70-vfio-claim.rules)
boot_event() {
        local d="$ROOT/sys/bus/pci/devices/$1" id
        id=$(printf '%s:%s' "$(sed 's/^0x//' "$d/vendor")" "$(sed 's/^0x//' "$d/device")" | tr a-f A-F)
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" \
                PCI_ID="$id" FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr \
                $VC_WRAPPER "$UDEV_HELPER"
}

# kmod_load MODULE: what 80-drivers.rules' "kmod load $MODALIAS" does after our rule
kmod_load() {
        fk_host "$FK_OP" modprobe "$1"
}

@test "the record of a boot claim marks its devices host=probe" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        run boot_event $NIC
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run cat "$STATE/group-5"
        assert_line "device $NIC driver=none module=none override=none host=probe"
}

@test "release after a boot claim: the host driver that udev loaded at boot takes the device" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        kmod_load e1000e # udev's autoload for the event, after our rule: it must not bind
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run vc --dry-run release guest-nic
        assert_success
        assert_output --partial "claimed at boot: unbind, let the kernel pick its host driver"
        run vc status
        assert_line "  $NIC  now vfio-pci, originally claimed at boot (given back: the kernel picks its driver)"
        run vc release guest-nic
        assert_success
        assert_line "  $NIC  now e1000e"
        assert_equal "$(fk_driver $NIC)" e1000e
        assert_equal "$(fk_override $NIC)" ""
        [ ! -e "$STATE/group-5" ]
        [ ! -e "$ROOT/dev/vfio/5" ]
}

@test "release after a boot claim: a host module not loaded yet is loaded by modalias, its driver named otherwise" {
        conf $'[device display]\nmatch = 00:05.0\nboot = yes'
        boot_event $AUDIO
        boot_event $DISPLAY
        assert_equal "$(fk_driver $DISPLAY) $(fk_driver $AUDIO)" "vfio-pci vfio-pci"
        fk_modalias_index 'bochs pci:v00001234d00001111sv*sd*bc03sc00i00' \
                'snd_hda_intel pci:v00008086d0000293Esv*sd*bc*sc*i*'
        run vc release display
        assert_success
        # module bochs registers the driver bochs-drm
        assert_equal "$(fk_driver $DISPLAY)" bochs-drm
        assert_equal "$(fk_driver $AUDIO)" snd_hda_intel
        assert_equal "$(fk_override $DISPLAY)$(fk_override $AUDIO)" ""
        run grep -c -e '^modprobe:bochs' -e '^modprobe:snd_hda_intel' "$ROOT/.fakekernel/writes.log"
        assert_output 2
        [ ! -e "$STATE/group-1" ]
}

@test "release after a boot claim: a blacklisted host module is not loaded; the device stays unbound" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        fk_modalias_index 'e1000e pci:v00008086d000010D3sv*sd*bc*sc*i*'
        mkdir -p "$ROOT/etc/modprobe.d"
        echo 'blacklist e1000e' > "$ROOT/etc/modprobe.d/no-e1000e.conf"
        run vc release guest-nic
        assert_success
        assert_equal "$(fk_driver $NIC)" ""
        assert_equal "$(fk_override $NIC)" ""
        run grep -c '^modprobe:e1000e' "$ROOT/.fakekernel/writes.log"
        assert_output 0
        [ ! -e "$STATE/group-5" ]
}

@test "release after a boot claim: no module for it: unbound, override cleared, not an error" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        run vc release guest-nic
        assert_success
        assert_equal "$(fk_driver $NIC)" ""
        assert_equal "$(fk_override $NIC)" ""
}

@test "release after a boot claim: a host module that loads but does not take the device rolls back" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        # the index names snd_hda_intel for the NIC: it loads, its driver does not match
        fk_modalias_index 'snd_hda_intel pci:v00008086d000010D3sv*sd*bc*sc*i*'
        run --separate-stderr vc release guest-nic
        assert_failure
        assert_equal "$stderr" "vfio-claim: $NIC: failed to verify the binding to a host driver: No such device or address"
        assert_equal "$(fk_driver $NIC) $(fk_override $NIC)" "vfio-pci vfio-pci"
        run cat "$STATE/group-5"
        assert_line "state claimed"
        assert_line "device $NIC driver=none module=none override=none host=probe"
}

@test "hook: a boot device without its own release = stays on vfio-pci when its VM stops" {
        conf $'[global]\nrelease = host\n[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        kmod_load e1000e
        run hook "$DOMAINS/guest-nic.xml" router prepare begin
        assert_success
        run grep -c '^owner router$' "$STATE/group-5"
        assert_output 1
        run hook "$DOMAINS/guest-nic.xml" router release end
        assert_success
        assert_equal "$(fk_driver $NIC) $(fk_override $NIC)" "vfio-pci vfio-pci"
        run grep -c '^owner' "$STATE/group-5"
        assert_output 0
}

@test "hook: boot = yes with release = host: the VM's stop gives the device to its host driver" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes\nrelease = host'
        boot_event $NIC
        kmod_load e1000e
        run hook "$DOMAINS/guest-nic.xml" router prepare begin
        assert_success
        run hook "$DOMAINS/guest-nic.xml" router release end
        assert_success
        assert_equal "$(fk_driver $NIC)" e1000e
        assert_equal "$(fk_override $NIC)" ""
        [ ! -e "$STATE/group-5" ]
        # the next start claims it again, now from its host driver
        run hook "$DOMAINS/guest-nic.xml" router prepare begin
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run cat "$STATE/group-5"
        # reset = auto leaves reset_method alone: the record has nothing to restore
        assert_line "device $NIC driver=e1000e module=e1000e override=none"
}

@test "disable after a boot claim gives the device to its host driver and drops the entry" {
        run vc enable --boot $NIC
        assert_success
        assert_equal "$(fk_driver $NIC)" vfio-pci
        # reboot: a fresh kernel, the same configuration; the boot claim beats e1000e
        cp -r "$CONF" "$BATS_TEST_TMPDIR/conf"
        fake_root twin-nics
        mkdir -p "${CONF%/*}"
        cp -r "$BATS_TEST_TMPDIR/conf" "$CONF"
        run boot_event $NIC
        assert_success
        kmod_load e1000e
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run vc disable $NIC
        assert_success
        assert_equal "$(fk_driver $NIC)" e1000e
        assert_equal "$(fk_override $NIC)" ""
        [ -z "$(ls -A "$CONF/conf.d" 2>/dev/null)" ]
}

# vfio-pci.ids= (or "options vfio-pci ids=") names the NIC: the kernel's own pick is vfio-pci.
# A give-back must still end on the host driver, or unbound with the reason, never on vfio-pci
# (issue 11, defect 3).
@test "release after a boot claim with vfio-pci.ids=: the host driver gets it, not vfio-pci" {
        fake_root twin-nics-vfio-ids
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        kmod_load e1000e
        assert_equal "$(fk_driver $NIC)" vfio-pci
        fk_modalias_index 'e1000e pci:v00008086d000010D3sv*sd*bc*sc*i*'
        run vc release guest-nic
        assert_success
        assert_line "  $NIC  now e1000e"
        assert_equal "$(fk_driver $NIC)" e1000e
        assert_equal "$(fk_override $NIC)" ""
        [ ! -e "$STATE/group-5" ]
        [ ! -e "$ROOT/dev/vfio/5" ]
        # the other NIC, which vfio-pci took by id at boot and vfio-claim never had, stays
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
}

@test "release after a boot claim with vfio-pci.ids= and no host driver known: unbound, and says why" {
        fake_root twin-nics-vfio-ids
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        assert_equal "$(fk_driver $NIC)" vfio-pci
        run vc release guest-nic
        assert_success
        assert_line "  $NIC  claimed at boot: left unbound: vfio-pci takes it by its id (vfio-pci ids=), and no host driver is known for it"
        assert_line "  $NIC  now unbound"
        assert_equal "$(fk_driver $NIC)" ""
        assert_equal "$(fk_override $NIC)" ""
        [ ! -e "$STATE/group-5" ]
        [ ! -e "$ROOT/dev/vfio/5" ]
}

# A give-back of a group claimed at boot marks it released for this boot (lib/boot.h,
# boot-released-N): the boot pass and the add events leave it to the host from then on. When
# disable cannot edit the configuration, it claims the group again: the mark it wrote goes too,
# or a group claimed, with its entry still there, would be left to the host by the next pass.
@test "disable that cannot edit the configuration: the group is claimed again, without the released mark it wrote" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        kmod_load e1000e
        assert_equal "$(fk_driver $NIC)" vfio-pci
        chattr +i "$CONF/vfio-claim.conf" 2>/dev/null || skip "no immutable files here (chattr +i)"
        run vc disable guest-nic
        chattr -i "$CONF/vfio-claim.conf"
        assert_failure 1
        assert_output --partial "vfio-claim.conf: cannot write it"
        assert_output --partial "IOMMU group 5: put back as it was"
        assert_equal "$(fk_driver $NIC)" vfio-pci
        grep -qx 'state claimed' "$STATE/group-5"
        [ ! -e "$STATE/boot-released-5" ]
}

@test "disable that cannot edit the configuration: a released mark that was there before stays" {
        conf $'[device guest-nic]\nmatch = 02:00.0\nboot = yes'
        boot_event $NIC
        kmod_load e1000e
        assert_equal "$(fk_driver $NIC)" vfio-pci
        touch "$STATE/boot-released-5"
        chattr +i "$CONF/vfio-claim.conf" 2>/dev/null || skip "no immutable files here (chattr +i)"
        run vc disable guest-nic
        chattr -i "$CONF/vfio-claim.conf"
        assert_failure 1
        assert_output --partial "IOMMU group 5: put back as it was"
        assert_equal "$(fk_driver $NIC)" vfio-pci
        [ -e "$STATE/boot-released-5" ]
}
