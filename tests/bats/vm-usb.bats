#!/usr/bin/env bats
# add/remove VM for USB devices ([usb NAME] entries, port paths) through libvirt's test driver, on
# the fake kernel's USB desk: two identical FTDI adapters (0403:6001, serials A10K1234 at 3-1.2,
# bus 3 device 5, and A10K5678 at 3-1.3) and a SanDisk stick (0781:5583 at 3-3, alone).

bats_require_minimum_version 1.5.0
load helpers

node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        { echo "<node>"; printf '%s\n' "$@"; echo "</node>"; } > "$NODE"
        URI="test://$NODE"
}

stopped() {
        cat <<EOX
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>$1</name>
  <memory>1048576</memory>
  <os><type>hvm</type></os>
  <devices>${2:-}</devices>
  <test:runstate>5</test:runstate>
</domain>
EOX
}
running() {
        echo "<domain type='test'><name>$1</name><memory>1048576</memory><os><type>hvm</type></os></domain>"
}

setup() {
        fake_root usb-desk
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\n\n[usb stick]\nmatch = 0781:5583\n' \
                > "$CONF/vfio-claim.conf"
}

vm() {
        vc --config "$CONF" --connect "$URI" "$@"
}

validate() {
        command -v virt-xml-validate >/dev/null || skip "virt-xml-validate (libvirt-clients) is not installed"
        run virt-xml-validate "$1" domain
        assert_success
}

# The verb reads the stored definition back after defining it and fails when libvirt did not
# store what it sent; each run is a new connection to the test node (the node file is the state).

STICK="<hostdev mode='subsystem' type='usb'><source startupPolicy='optional'><vendor id='0x0781'/><product id='0x5583'/></source></hostdev>"
FTDI_5="<hostdev mode='subsystem' type='usb'><source><vendor id='0x0403'/><product id='0x6001'/><address bus='3' device='5'/></source></hostdev>"
FTDI_6="<hostdev mode='subsystem' type='usb'><source><vendor id='0x0403'/><product id='0x6001'/><address bus='3' device='6'/></source></hostdev>"

@test "add a [usb NAME] entry: vendor, product, startupPolicy='optional'; no address when the device has no twin; remove takes it out" {
        node "$(stopped lab)"
        run --separate-stderr vm -v add lab stick
        assert_success
        assert_equal "$stderr" ""
        assert_output "VM lab: USB device 3-3 (0781:5583) added
<hostdev mode=\"subsystem\" type=\"usb\" managed=\"no\"><source startupPolicy=\"optional\"><vendor id=\"0x0781\"/><product id=\"0x5583\"/></source></hostdev>
Its interfaces still have host drivers: 'vfio-claim enable stick' takes them off."
        node "$(stopped lab "$STICK")"
        run --separate-stderr vm add lab stick
        assert_success
        assert_output "VM lab already has USB device 3-3 (0781:5583)."
        run --separate-stderr vm -v remove lab stick
        assert_success
        # (the element as libvirt stored it: its own format)
        assert_line --index 0 "VM lab: USB device 3-3 (0781:5583) removed"
        assert_line --index 1 '<hostdev mode="subsystem" type="usb" managed="no">'
        assert_line --index 2 '      <source startupPolicy="optional">'
        assert_line --index 3 '        <vendor id="0x0781"/>'
        node "$(stopped lab)"
        run --separate-stderr vm remove lab stick
        assert_success
        assert_output "VM lab has no USB device 3-3 (0781:5583)."
        # enabled: no hint
        run --separate-stderr vc --config "$CONF" enable stick
        assert_success
        run --separate-stderr vm add lab 3-3
        assert_success
        assert_output "VM lab: USB device 3-3 (0781:5583) added"
}

@test "add: one of two identical adapters is selected by bus and device too; --startup-policy" {
        node "$(stopped lab)"
        run --separate-stderr vm --dry-run --startup-policy mandatory add lab serial-a
        assert_success
        assert_output "Would add to VM lab's definition (USB device 3-1.2):
<hostdev mode=\"subsystem\" type=\"usb\" managed=\"no\"><source startupPolicy=\"mandatory\"><vendor id=\"0x0403\"/><product id=\"0x6001\"/><address bus=\"3\" device=\"5\"/></source></hostdev>"
        run --separate-stderr vm add lab serial-a
        assert_success
        assert_line --index 0 "VM lab: USB device 3-1.2 (0403:6001) added"
        # the VM has the adapter at device 5: the one at 3-1.3 (device 6) is another device
        node "$(stopped lab "$FTDI_5")"
        run --separate-stderr vm add lab serial-a
        assert_success
        assert_output "VM lab already has USB device 3-1.2 (0403:6001)."
        run --separate-stderr vm add lab 3-1.3
        assert_success
        assert_line --index 0 "VM lab: USB device 3-1.3 (0403:6001) added"
        run --separate-stderr vm remove lab 3-1.3
        assert_success
        assert_output "VM lab has no USB device 3-1.3 (0403:6001)."
        run --separate-stderr vm --startup-policy sometimes add lab stick
        assert_failure 2
        assert_equal "$stderr" "vfio-claim: --startup-policy: \"sometimes\" is not optional, requisite or mandatory"
        run --separate-stderr vm --startup-policy optional add lab 0000:00:14.0
        assert_failure 2
}

@test "every element add writes passes virt-xml-validate in a domain" {
        node "$(stopped lab)"
        for args in "add lab serial-a" "--startup-policy requisite add lab stick"; do
                # shellcheck disable=SC2086
                run --separate-stderr vm --dry-run $args
                assert_success
                el=$(echo "$output" | sed -n 2p)
                stopped lab "$el" | sed '/test:runstate/d; s/ xmlns:test=[^>]*//' > "$BATS_TEST_TMPDIR/d.xml"
                validate "$BATS_TEST_TMPDIR/d.xml"
        done
}

@test "add: refused with exit 4 when another VM's definition lists the device, naming it; --force goes on" {
        node "$(stopped lab)" "$(stopped other "$STICK")"
        run --separate-stderr vm add lab stick
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: USB device 3-3 (0781:5583) is already in the definition of VM other: a passed-through device belongs to one VM; take it out there first (vfio-claim remove other stick), or run again with --force"
        assert_output ""
        run --separate-stderr vm --force add lab stick
        assert_success
        assert_equal "$stderr" "vfio-claim: USB device 3-3 is also in the definition of VM other; going on (--force): only one of them can run at a time"
        assert_line --index 0 "VM lab: USB device 3-3 (0781:5583) added"
        # the twin adapters: another VM holding the other one by its address is no conflict
        node "$(stopped lab)" "$(stopped other "$FTDI_6")"
        run --separate-stderr vm add lab serial-a
        assert_success
        assert_line --index 0 "VM lab: USB device 3-1.2 (0403:6001) added"
        assert_equal "$(fk_writes)" 0
}

@test "add and remove of a USB device: refused with exit 4 while the VM runs" {
        node "$(running lab)"
        run --separate-stderr vm add lab stick
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: VM lab is running; shut it down first (virsh shutdown lab), add edits only a stopped VM"
        run --separate-stderr vm remove lab stick
        assert_failure 4
}
