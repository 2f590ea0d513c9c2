#!/usr/bin/env bats
# usb-reattach PORT: a [usb NAME] device with vm = that was plugged back in is attached to its
# running VM again (libvirt does not do it); the generated udev rule makes systemd start
# vfio-claim-usb-reattach@PORT.service for such a device's add event. libvirt's test driver
# (a node file, as in vm-usb.bats) stands in for libvirtd. The fake kernel's USB desk: FTDI
# adapters 0403:6001 at 3-1.2 (serial A10K1234, bus 3 device 5) and 3-1.3 (A10K5678, device 6), a
# SanDisk stick 0781:5583 at 3-3.

bats_require_minimum_version 1.5.0
load helpers

RULE_FILE=run/udev/rules.d/70-vfio-claim.rules

node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        { echo "<node>"; printf '%s\n' "$@"; echo "</node>"; } > "$NODE"
        URI="test://$NODE"
}

# stopped|running NAME [DEVICES]: a domain of the test node (the test driver starts a domain
# without a runstate)
stopped() {
        echo "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>$1</name><memory>1048576</memory><os><type>hvm</type></os><devices>${2:-}</devices><test:runstate>5</test:runstate></domain>"
}
running() {
        echo "<domain type='test'><name>$1</name><memory>1048576</memory><os><type>hvm</type></os><devices>${2:-}</devices></domain>"
}

# usb_hostdev SOURCE: a <hostdev type='usb'> with that <source> content
usb_hostdev() {
        echo "<hostdev mode='subsystem' type='usb'><source>$1</source></hostdev>"
}
FTDI_IDS="<vendor id='0x0403'/><product id='0x6001'/>"

setup() {
        fake_root usb-desk
        mkdir -p "$CONF"
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\n\n[usb stick]\nmatch = 0781:5583\n' \
                > "$CONF/vfio-claim.conf"
}

reattach() {
        vc --connect "$URI" usb-reattach "$@"
}

@test "usb-reattach: the running VM lists the device at its old bus and device number: that one detached, the device attached again, live" {
        # replugged: the device is device 5 now; the running VM's XML still has the old number 2,
        # which is no device any more (its QEMU would go on showing it to the guest: the lab's
        # usb-passthrough scenario), and the identical adapter at 3-1.3 (device 6), still plugged in
        node "$(running lab "$(usb_hostdev "$FTDI_IDS<address bus='3' device='2'/>")$(usb_hostdev "$FTDI_IDS<address bus='3' device='6'/>")")"
        run --separate-stderr reattach 3-1.2
        if [ "$status" -eq 1 ] && [[ $stderr == *"not supported by the connection driver"* ]]; then
                # libvirt's test driver (libvirt 9.0, Debian 12) has neither virDomainDetachDeviceFlags nor
                # virDomainAttachDeviceFlags: the decisions reached the calls, with the VM and devices
                # named; device 6 is left alone
                assert_equal "$stderr" "vfio-claim: VM lab: cannot detach the 0403:6001 it had at bus 3 device 2, which is gone: this function is not supported by the connection driver: virDomainDetachDeviceFlags
vfio-claim: VM lab: cannot attach USB device 3-1.2 (0403:6001) again: this function is not supported by the connection driver: virDomainAttachDeviceFlags"
                assert_equal "$output" ""
        else
                # a libvirt whose test driver detaches and attaches: the verb read the live XML back
                assert_success
                assert_equal "$output" "VM lab: the 0403:6001 it had at bus 3 device 2, which is gone, detached (USB device 3-1.2 (0403:6001) is attached next).
VM lab: USB device 3-1.2 (0403:6001) ([usb serial-a]) attached again."
        fi
}

@test "usb-reattach: attached already (its bus and device number now, or by ids alone): left alone" {
        node "$(running lab "$(usb_hostdev "$FTDI_IDS<address bus='3' device='5'/>")")"
        run --separate-stderr reattach 3-1.2
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$output" "VM lab has USB device 3-1.2 (0403:6001) attached already: left alone."
        node "$(running lab "$(usb_hostdev "$FTDI_IDS")")"
        run --separate-stderr reattach 3-1.2
        assert_success
        assert_equal "$output" "VM lab has USB device 3-1.2 (0403:6001) attached already: left alone."
}

@test "usb-reattach: a VM that is not running, or whose definition does not list the device, is left alone" {
        node "$(stopped lab "$(usb_hostdev "$FTDI_IDS")")"
        run --separate-stderr reattach 3-1.2
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$output" "VM lab is not running: USB device 3-1.2 (0403:6001) ([usb serial-a]) left alone."
        node "$(running lab "$(usb_hostdev "<vendor id='0x0781'/><product id='0x5583'/>")")"
        run --separate-stderr reattach 3-1.2
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$output" "VM lab's definition has no <hostdev> for USB device 3-1.2 (0403:6001): left alone ('vfio-claim add lab serial-a' adds it while the VM is stopped)."
}

@test "usb-reattach: a device without an entry with vm =, or no device at the port: left alone without asking libvirt; bad input refused" {
        # no libvirt at this URI: it is not asked
        URI="test://$BATS_TEST_TMPDIR/no-such-node.xml"
        run --separate-stderr reattach 3-3
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$output" "USB device 3-3 (0781:5583) has no [usb NAME] entry with vm =: left alone."
        # the twin adapter: same ids, another serial
        run --separate-stderr reattach 3-1.3
        assert_success
        assert_equal "$output" "USB device 3-1.3 (0403:6001) has no [usb NAME] entry with vm =: left alone."
        run --separate-stderr reattach 3-4
        assert_success
        assert_equal "$output" "No USB device (other than a hub) is plugged into port 3-4: nothing to attach."
        run --separate-stderr reattach ../3-1.2
        assert_failure 2
        assert_equal "$stderr" "vfio-claim: usb-reattach: \"../3-1.2\" is not a USB port path (such as 3-1.2)"
        # configured, but libvirt cannot be reached, or does not know the VM: a failure to see
        run --separate-stderr reattach 3-1.2
        assert_failure 1
        [[ $stderr == "vfio-claim: cannot connect to libvirt at $URI: "* ]]
        node "$(running other)"
        run --separate-stderr reattach 3-1.2
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: [usb serial-a] (vfio-claim.conf:1) names VM lab, which libvirt at $URI does not know"
}

@test "generated udev rule: a device of an entry with vm = wants vfio-claim-usb-reattach@PORT.service at its add event; one without vm = does not" {
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\n\n[usb stick]\nmatch = 0781:5583\n\n[usb other]\nmatch = 046d:c31c\nport = 3-2\nvm = desk\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc apply
        assert_success
        run grep -c SYSTEMD_WANTS "$ROOT/$RULE_FILE"
        assert_output 2
        run cat "$ROOT/$RULE_FILE"
        assert_line '# [usb serial-a] is for VM lab: when it is plugged in, attach it to the VM again if the VM runs'
        assert_line 'SUBSYSTEM=="usb", ENV{PRODUCT}=="403/6001/*", ACTION=="add", ENV{DEVTYPE}=="usb_device", TAG+="systemd", ENV{SYSTEMD_WANTS}+="vfio-claim-usb-reattach@%k.service"'
        assert_line 'SUBSYSTEM=="usb", ENV{PRODUCT}=="46d/c31c/*", ACTION=="add", ENV{DEVTYPE}=="usb_device", KERNEL=="3-2", TAG+="systemd", ENV{SYSTEMD_WANTS}+="vfio-claim-usb-reattach@%k.service"'
        refute_line --partial '781/5583'
        # the entry loses vm =: the rule drops it
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc apply
        assert_success
        run grep -c SYSTEMD_WANTS "$ROOT/$RULE_FILE"
        assert_output 0
}

@test "vfio-claim-usb-reattach@.service: the unit the rule wants, running usb-reattach with the port; systemd-analyze verify" {
        unit="$abs_top_builddir/systemd/vfio-claim-usb-reattach@.service"
        run grep '^ExecStart=' "$unit"
        assert_output --regexp '^ExecStart=/.*/vfio-claim usb-reattach %i$'
        command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
        dir="$BATS_TEST_TMPDIR/units"
        mkdir -p "$dir"
        # the installed path of the CLI does not exist here: the built one stands in
        sed "s|^ExecStart=/[^ ]*/vfio-claim |ExecStart=$abs_top_builddir/vfio-claim |" "$unit" \
                > "$dir/vfio-claim-usb-reattach@.service"
        ln -s vfio-claim-usb-reattach@.service "$dir/vfio-claim-usb-reattach@3-1.2.service"
        run systemd-analyze verify --man=no "$dir/vfio-claim-usb-reattach@3-1.2.service"
        assert_success
        assert_output ""
}
