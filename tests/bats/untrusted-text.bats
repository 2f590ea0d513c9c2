#!/usr/bin/env bats
# What vfio-claim prints from text it does not control: a USB device's strings (anyone who plugs
# a device in chooses them, and Linux keeps every character but NUL), a libvirt domain's name, a
# state record an older version or a damaged disk left, a configuration in another encoding.
# For a person, one line of text each, no control character reaches the terminal; in JSON, valid
# UTF-8 (RFC 8259). And a Nova alias names the devices of one entry only.

bats_require_minimum_version 1.5.0
load helpers

usb_dev() { echo "$ROOT/sys/bus/usb/devices/$1"; }

no_controls() { # no_controls TEXT: no C0 control byte but \n, no DEL, no C1 (raw or UTF-8)
        if LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' <<<"$1"; then
                echo "control bytes in output:" >&2
                cat -v <<<"$1" >&2
                return 1
        fi
}

utf8_file() { # utf8_file FILE: FILE is valid UTF-8
        iconv -f UTF-8 -t UTF-8 "$1" > /dev/null
}

# What the kernel really shows for a USB device whose iProduct holds U+001B and U+000A
# (usb_string() -> utf16s_to_utf8s() keeps every code point but NUL; sysfs adds "\n"):
# "cursor up, erase line, carriage return", a spoofed row, a second line of its own.
hostile_product() {
        printf 'Keyboard\033[1A\033[2K\r3-2    046d:c31c  -  usbhid  0000:00:14.0  5  kbd  Logitech USB Keyboard\nINJECTED-LINE'
}


@test "list: a USB product string puts no control byte on the terminal and no row of its own" {
        fake_root usb-desk
        hostile_product > "$(usb_dev 3-2)/product"
        run --separate-stderr vc list
        assert_success
        refute_line --regexp '^INJECTED-LINE'
        no_controls "$output"
}

@test "list: a USB serial string puts no control byte on the terminal" {
        fake_root usb-desk
        printf 'A10K1234\033]0;owned\007\033[8m' > "$(usb_dev 3-1.2)/serial"
        run --separate-stderr vc list
        assert_success
        no_controls "$output"
}

@test "show PORT: a USB device's manufacturer, product and serial put no control byte on the terminal" {
        fake_root usb-desk
        hostile_product > "$(usb_dev 3-2)/product"
        printf 'Logi\033[8m' > "$(usb_dev 3-2)/manufacturer"
        run --separate-stderr vc show 3-2
        assert_success
        refute_line --regexp '^INJECTED-LINE'
        no_controls "$output"
}


node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        { echo "<node>"; printf '%s\n' "$@"; echo "</node>"; } > "$NODE"
        URI="test://$NODE"
}

@test "show group:N: a VM name from libvirt does not split lines or carry control bytes" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 10de:2204\n' > "$CONF/vfio-claim.conf"
        node "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>evil&#13;IOMMU group 1: 3 devices; claimed by VM trusted&#9;x&#x9b;2J</name>
  <memory>1048576</memory>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev></devices>
  <test:runstate>5</test:runstate>
</domain>"
        run --separate-stderr vc --connect "$URI" show group:1
        assert_success
        assert_equal "$(grep -c '^IOMMU group 1' <<<"$output")" 1
        no_controls "$output"
}


@test "hook: the message refusing an unrecordable VM name carries no control byte" {
        fake_root gpu-audio
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        export CONF
        run --separate-stderr hook "$abs_top_srcdir/tests/fixtures/domains/gpu-audio.xml" \
                $'win\rvfio-claim: all devices claimed\033[K' prepare begin
        assert_failure
        [[ $stderr == *"cannot record this name"* ]]
        no_controls "$stderr"
}


@test "status --json, list --json: a record's owner with bytes that are not UTF-8 still gives valid JSON" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run vc enable 0000:01:00.0
        assert_success
        # a record of an older version / corrupted: vc_vm_name_is_valid() accepts any byte >= 0x80
        sed -i $'/^group /a owner win\xff\xfe' "$STATE/group-1"
        vc status --json > "$BATS_TEST_TMPDIR/st.json"
        run utf8_file "$BATS_TEST_TMPDIR/st.json"
        assert_success
        vc list --json > "$BATS_TEST_TMPDIR/l.json"
        run utf8_file "$BATS_TEST_TMPDIR/l.json"
        assert_success
}

@test "list --json: a USB string that is not UTF-8 still gives valid JSON" {
        fake_root usb-desk
        printf 'Bad\xff\xfeName' > "$(usb_dev 3-2)/product"
        vc list --json > "$BATS_TEST_TMPDIR/l.json"
        run utf8_file "$BATS_TEST_TMPDIR/l.json"
        assert_success
}

@test "check-config --json: an error quoting a Latin-1 section name still gives valid JSON" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device caf\xe9]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run -3 --separate-stderr vc check-config --json
        printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/cc.json"
        run utf8_file "$BATS_TEST_TMPDIR/cc.json"
        assert_success
}

@test "export --format nova: an alias one entry's PF and VFs give that another entry has is refused" {
        fake_root sriov-64vf
        mkdir -p "$CONF"
        # [device nic]: the PF and one of its VFs (aliases nic-pf and nic-vf); [device nic-pf]: a VF
        printf '[device nic]\nmatch = 0000:02:00.0\nmatch = 0000:02:02.0\n[device nic-pf]\nmatch = 0000:02:02.1\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc export --format nova
        assert_failure
        assert_output ""
        [[ "$stderr" == *'Nova alias "nic-pf" would name the devices of both [device nic] and [device nic-pf]; rename one of them'* ]]
}
