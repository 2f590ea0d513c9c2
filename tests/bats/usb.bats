#!/usr/bin/env bats
# USB devices: the fake kernel's model of them (tests/fakekernel/fkusb.c), the [usb NAME]
# configuration, and the verbs that show and move them.

load helpers

usb_dev() {
        echo "$ROOT/sys/bus/usb/devices/$1"
}

# usb_driver IFACE: the bound interface driver, empty when none
usb_driver() {
        local l
        l=$(readlink "$ROOT/sys/bus/usb/devices/$1/driver" 2>/dev/null) || return 0
        echo "${l##*/}"
}

mktree_err() {
        printf '%s\n' "$1" > "$BATS_TEST_TMPDIR/bad.topo"
        run "$FK_MKTREE" "$BATS_TEST_TMPDIR/bad.topo" "$BATS_TEST_TMPDIR/badroot"
        assert_failure
}

# ---------------------------------------------------------------- the fake kernel

@test "fakekernel usb: devices and interfaces under the xHCI controller, as Linux 6.1 names and shows them" {
        fake_root usb-desk
        assert_equal "$(readlink "$(usb_dev 3-1.2)")" "../../../devices/pci0000:00/0000:00:14.0/usb3/3-1/3-1.2"
        assert_equal "$(readlink "$(usb_dev 3-1.2:1.0)")" "../../../devices/pci0000:00/0000:00:14.0/usb3/3-1/3-1.2/3-1.2:1.0"
        assert_equal "$(readlink "$(usb_dev usb3)")" "../../../devices/pci0000:00/0000:00:14.0/usb3"
        d=$(usb_dev 3-1.2)
        assert_equal "$(cat "$d/idVendor") $(cat "$d/idProduct")" "0403 6001"
        assert_equal "$(cat "$d/serial")" "A10K1234"
        assert_equal "$(cat "$d/product")" "FT232R USB UART"
        assert_equal "$(cat "$d/busnum") $(cat "$d/devnum") $(cat "$d/devpath")" "3 5 1.2"
        assert_equal "$(cat "$d/bNumInterfaces")" " 1"
        assert_equal "$(cat "$d/version")" " 2.00"
        assert_equal "$(cat "$(usb_dev 3-1.2:1.0)/bInterfaceClass")" "ff"
        assert_equal "$(cat "$(usb_dev 3-2:1.0)/modalias")" "usb:v046DpC31Cd6400dc00dsc00dp00ic03isc01ip01in00"
        assert_equal "$(cat "$(usb_dev 3-1.2:1.0)/authorized")" "1"
        # a device without a serial string has no serial attribute
        [ ! -e "$(usb_dev 3-2)/serial" ]
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(usb_driver 3-2:1.0)" usbhid
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        assert_equal "$(usb_driver 3-0:1.0)" hub
        assert_equal "$(usb_driver 3-1.2)" usb
        assert_equal "$(readlink "$ROOT/sys/bus/usb/drivers/ftdi_sio/3-1.2:1.0")" \
                "../../../../devices/pci0000:00/0000:00:14.0/usb3/3-1/3-1.2/3-1.2:1.0"
}

@test "fakekernel usb: unbind, bind and drivers_probe of an interface follow bind_store()/unbind_store()" {
        fake_root usb-desk
        run fk_sh "echo 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/unbind'"
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        [ ! -e "$ROOT/sys/bus/usb/drivers/ftdi_sio/3-1.2:1.0" ]
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        # not bound to it: ENODEV
        run fk_sh "echo 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/unbind'"
        assert_failure
        # a driver that does not match: ENODEV
        run fk_sh "echo 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/usbhid/bind'"
        assert_failure
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run fk_sh "echo 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers_probe'"
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        # already bound: EBUSY
        run fk_sh "echo 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/bind'"
        assert_failure
        run cut -f1,3 "$ROOT/.fakekernel/writes.log"
        assert_output "sys/bus/usb/drivers/ftdi_sio/unbind	ok
sys/bus/usb/drivers/ftdi_sio/unbind	ENODEV
sys/bus/usb/drivers/usbhid/bind	ENODEV
sys/bus/usb/drivers_probe	ok
sys/bus/usb/drivers/ftdi_sio/bind	EBUSY"
}

@test "fakekernel usb: fixture errors name the line" {
        mktree_err 'usbdev 3-1 id=0403:6001'
        assert_output --partial "bad.topo:1: usbdev 3-1: bus 3 is not declared before it"
        mktree_err 'usbbus 3 pci=0000:00:14.0'
        assert_output --partial "bad.topo:1: usbbus 3: controller 0000:00:14.0 is not declared before it"
        mktree_err 'dev 0000:00:14.0 class=0x0c0330 id=8086:7ae0
usbbus 3 pci=0000:00:14.0
usbdev 3-1.2 id=0403:6001'
        assert_output --partial "bad.topo:3: usbdev 3-1.2: the hub 3-1 is not declared before it"
        mktree_err 'dev 0000:00:14.0 class=0x0c0330 id=8086:7ae0
usbbus 3 pci=0000:00:14.0
usbdev 3-1 id=0403:6001
usbif 3-1:1.0 class=ff driver=ftdi_sio'
        assert_output --partial "bad.topo:4: usbif 3-1:1.0: driver ftdi_sio is not declared (usbdriver NAME)"
}

# ---------------------------------------------------------------- [usb NAME]

@test "check-config: [usb NAME] sections are validated with file and line, exit 3" {
        fake_root usb-desk
        mkdir -p "$CONF/conf.d"
        printf '[usb keyboard]\nmatch = 046d:c31c\n\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nport = 3-1.2\n' \
                > "$CONF/vfio-claim.conf"
        printf '[usb stick]\nmatch = 0781:558\nport = 3-1:1.0\nvm = a/b\n' > "$CONF/conf.d/stick.conf"
        run --separate-stderr vc check-config
        assert_equal "$status" 3
        assert_equal "$(printf '%s\n' "$stderr" | grep -v '^vfio-claim:')" \
'vfio-claim.conf:7: [usb serial-a] port: set together with serial (line 6); use one of them
conf.d/stick.conf:2: [usb stick] match: "0781:558" is not a USB vendor:product id (VVVV:PPPP, hex)
conf.d/stick.conf:3: [usb stick] port: "3-1:1.0" is not a USB port path (BUS-PORT[.PORT]..., e.g. 3-1.2)
conf.d/stick.conf:4: [usb stick] vm: "a/b" is not a libvirt domain name (not empty, at most 255 bytes, no "/", no control characters)'
        printf '[usb keyboard]\nmatch = 046d:c31c\n\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\nboot = yes\n' \
                > "$CONF/vfio-claim.conf"
        rm "$CONF/conf.d/stick.conf"
        run --separate-stderr vc check-config
        assert_success
        assert_output "${CONF#"$ROOT"}: valid, 0 devices configured (0 claimed at boot), 2 USB devices"
        run --separate-stderr vc --json check-config
        assert_success
        echo "$output" | jq -e '.usb[1] == {"name":"serial-a","file":"vfio-claim.conf","line":4,"match":"0403:6001","serial":"A10K1234","port":null,"boot":true,"vm":"lab"}'
}

# Two entries that can select one device: the first in reading order decides for it (its vm =
# and boot =), which the later one's author may not expect: check-config says so, and stays valid.
@test "check-config: a [usb] entry that can select a device an earlier one selects is a warning with both places" {
        fake_root usb-desk
        mkdir -p "$CONF"
        printf '[usb any-ftdi]\nmatch = 0403:6001\nvm = lab\n\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = other\nboot = yes\n\n[usb serial-b]\nmatch = 0403:6001\nserial = A10K5678\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc check-config
        assert_success
        assert_output "${CONF#"$ROOT"}: valid, 0 devices configured (0 claimed at boot), 3 USB devices"
        assert_equal "$stderr" "vfio-claim: vfio-claim.conf:5: [usb serial-a] can select the same USB device as [usb any-ftdi] (vfio-claim.conf:1), which comes first and decides for it: [usb serial-a]'s vm = and boot = do not apply to it; tell them apart with serial = or port =
vfio-claim: vfio-claim.conf:11: [usb serial-b] can select the same USB device as [usb any-ftdi] (vfio-claim.conf:1), which comes first and decides for it: [usb serial-b]'s vm = and boot = do not apply to it; tell them apart with serial = or port ="
        # different serials, or a serial and another port's entry of other ids: no overlap
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\n\n[usb serial-b]\nmatch = 0403:6001\nserial = A10K5678\n\n[usb stick]\nmatch = 0781:5583\nport = 3-3\n' \
                > "$CONF/vfio-claim.conf"
        run --separate-stderr vc check-config
        assert_success
        assert_equal "$stderr" ""
}

# ---------------------------------------------------------------- list, show

usb_conf() {
        mkdir -p "$CONF"
        printf '[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\n\n[usb stick]\nmatch = 0781:5583\nport = 3-3\n' \
                > "$CONF/vfio-claim.conf"
}

@test "list: USB devices with port, ids, serial, interface drivers, controller, its group and the config entry" {
        fake_root usb-desk
        usb_conf
        run --separate-stderr vc list
        assert_success
        assert_equal "$(printf '%s\n' "$output" | sed -n '/^USB devices/,$p')" \
'USB devices (pass one alone, or its controller'"'"'s whole IOMMU group):
PORT   ID         SERIAL                DRIVERS      CONTROLLER    GROUP  CONFIG    PRODUCT
3-1.2  0403:6001  A10K1234              ftdi_sio     0000:00:14.0  5      serial-a  FTDI FT232R USB UART
3-1.3  0403:6001  A10K5678              ftdi_sio     0000:00:14.0  5      -         FTDI FT232R USB UART
3-2    046d:c31c  -                     usbhid       0000:00:14.0  5      -         Logitech USB Keyboard
3-3    0781:5583  4C530001230526115313  usb-storage  0000:00:14.0  5      stick     SanDisk Ultra Fit'
        # an interface without a driver drops out of DRIVERS
        fk_sh "echo 3-1.3:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/unbind'"
        run --separate-stderr vc list
        assert_line --regexp '^3-1\.3  0403:6001  A10K5678  +-  +0000:00:14\.0  5  '
}

@test "list --json: a usb array; a host without USB has an empty one" {
        fake_root usb-desk
        usb_conf
        run --separate-stderr vc --json list
        assert_success
        echo "$output" | jq -e '.usb | length == 4'
        echo "$output" | jq -e '.usb[0] == {"port":"3-1.2","id":"0403:6001","serial":"A10K1234","manufacturer":"FTDI",
                "product":"FT232R USB UART","bus":3,"device":5,
                "interfaces":[{"name":"3-1.2:1.0","class":"ff","driver":"ftdi_sio"}],
                "controller":"0000:00:14.0","group":5,"config":"serial-a"}'
        echo "$output" | jq -e '.usb[2].serial == null and .usb[2].config == null and
                (.usb[2].interfaces | map(.driver)) == ["usbhid","usbhid"]'
        fake_root gpu-audio
        run --separate-stderr vc --json list
        assert_success
        echo "$output" | jq -e '.usb == []'
        run --separate-stderr vc list
        refute_output --partial "USB"
}

@test "show: a USB device by port path or by its [usb NAME]" {
        fake_root usb-desk
        usb_conf
        run --separate-stderr vc show serial-a
        assert_success
        assert_output 'USB device 3-1.2  0403:6001  FTDI FT232R USB UART
      serial:        A10K1234
      address:       bus 3 device 5
      interface:     3-1.2:1.0 class ff, driver ftdi_sio
      controller:    0000:00:14.0, IOMMU group 5 (passing the whole group takes every device on it)
      configured as: serial-a (vfio-claim.conf:1)'
        run --separate-stderr vc show 3-2
        assert_success
        assert_line '      interface:     3-2:1.1 class 03, driver usbhid'
        run --separate-stderr vc --json show 3-3
        assert_success
        echo "$output" | jq -e '.usb[0].port == "3-3" and .usb[0].config == "stick"'
        run --separate-stderr vc show 3-9
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 3-9: no USB device is plugged into this port (see 'vfio-claim list')"
        printf '[usb gone]\nmatch = 0403:6001\nserial = NOPE\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc show gone
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: gone: no USB device 0403:6001 with serial NOPE is plugged in (vfio-claim.conf:1)"
}

# A device unplugged while it is read fails its reads (ENODEV, from kernfs); here its idProduct
# is unreadable (a directory: EISDIR). It is left out; the others are listed and can be enabled.
@test "list and enable: a USB device that cannot be read is left out, the others are not" {
        fake_root usb-desk
        usb_conf
        rm "$(usb_dev 3-3)/idProduct"
        mkdir "$(usb_dev 3-3)/idProduct"
        run --separate-stderr vc list
        assert_success
        assert_equal "$stderr" ""
        assert_line --regexp '^3-1\.2  0403:6001  A10K1234 '
        refute_line --regexp '^3-3 '
        run --separate-stderr vc --json list
        assert_success
        echo "$output" | jq -e '.usb | map(.port) == ["3-1.2","3-1.3","3-2"]'
        run --separate-stderr vc enable serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
}

# ---------------------------------------------------------------- enable, disable

@test "enable/disable a [usb NAME]: its interfaces leave their host driver, recorded; disable gives them back" {
        fake_root usb-desk
        usb_conf
        run --separate-stderr vc enable serial-a
        assert_success
        assert_output "3-1.2:1.0: unbind"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        # the identical adapter with the other serial stays with the host
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio"
        # enabling again changes nothing
        run --separate-stderr vc enable serial-a
        assert_success
        assert_equal "$(fk_writes)" 1
        run --separate-stderr vc disable serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
        run cut -f1,2,3 "$ROOT/.fakekernel/writes.log"
        assert_output "sys/bus/usb/drivers/ftdi_sio/unbind	3-1.2:1.0	ok
sys/bus/usb/drivers/ftdi_sio/bind	3-1.2:1.0	ok"
}

@test "enable --boot of a USB device says which line holds it at boot; enable does not write it" {
        fake_root usb-desk
        usb_conf
        run --separate-stderr vc enable --boot serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$stderr" "vfio-claim: --boot: ${VC_SYSCONFDIR:-/etc}/vfio-claim/vfio-claim.conf:1: [usb serial-a] says boot = no: add boot = yes to that section to hold the device at every boot and plug-in, then rebuild the initramfs"
        run --separate-stderr vc enable --boot 3-1.3
        assert_success
        assert_equal "$stderr" "vfio-claim: --boot: 3-1.3 is held now, not at boot: a [usb NAME] entry with boot = yes holds a USB device at every boot and plug-in (vfio-claim.conf(5)); add one to ${VC_SYSCONFDIR:-/etc}/vfio-claim"
}

@test "enable by port path; --dry-run changes nothing" {
        fake_root usb-desk
        run --separate-stderr vc --dry-run enable 3-1.3
        assert_success
        assert_output "3-1.3:1.0: would be unbound from its driver"
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/usb-3-1.3" ]
        run --separate-stderr vc enable 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ""
        run --separate-stderr vc disable 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
}

@test "enable refuses the keyboard (exit 4, nothing changed); --force takes it" {
        fake_root usb-desk
        run --separate-stderr vc enable 3-2
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-2: refused: the host needs this USB device: it is a keyboard (interface 3-2:1.0) (--force takes it anyway)"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(usb_driver 3-2:1.0)" usbhid
        [ ! -e "$STATE/usb-3-2" ]
        run --separate-stderr vc --force enable 3-2
        assert_success
        assert_equal "$(usb_driver 3-2:1.0)$(usb_driver 3-2:1.1)" ""
}

@test "enable refuses the storage device the host boots from (exit 4, nothing changed)" {
        fake_root usb-desk
        # sda1 on the stick at 3-3 holds /, as Linux 6.1 shows a usb-storage disk
        blk=$(readlink -f "$(usb_dev 3-3:1.0)")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/proc/self"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1" # relative, as sysfs links are
        echo "26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr vc enable 3-3
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-3: refused: the host needs this USB device: it holds the root filesystem /dev/sda1 (--force takes it anyway)"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        # another device on the same controller is not the boot disk
        run --separate-stderr vc enable 3-1.2
        assert_success
}

# An admin on a serial console through the FTDI adapter at 3-1.2 (ttyUSB0, 188:0, proc/PID/stat's
# tty_nr 48128): taking the adapter, or the xHCI above it, cuts the line the command runs on.
@test "enable refuses the USB serial adapter of the terminal the CLI runs on, and its controller (exit 4)" {
        fake_root usb-desk
        tty=$(readlink -f "$(usb_dev 3-1.2:1.0)")/ttyUSB0/tty/ttyUSB0
        mkdir -p "$tty" "$ROOT/sys/dev/char"
        ln -sr "$tty" "$ROOT/sys/dev/char/188:0"
        session_on_tty 48128
        run --separate-stderr vc enable 3-1.2
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-1.2: refused: the host needs this USB device: it holds the terminal this command runs on (ttyUSB0) (--force takes it anyway)"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        run vc --yes enable 0000:00:14.0
        assert_failure 4
        assert_line --partial "0000:00:14.0: refused: controller of the terminal this command runs on (ttyUSB0)"
        assert_equal "$(fk_writes)" 0
        # its twin is no terminal
        run --separate-stderr vc enable 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ""
}

# stick_partition: sda1 on the stick at 3-3, as Linux 6.1 shows a usb-storage disk, with its
# sys/class/block and sys/dev/block (8:1) links
stick_partition() {
        blk=$(readlink -f "$(usb_dev 3-3:1.0)")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/sys/class/block" "$ROOT/proc/self"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1"
        ln -sr "$blk/sda1" "$ROOT/sys/class/block/sda1"
}

@test "enable refuses a stick in use: a file system of it mounted anywhere, a mapping on it, a process reading it; let go, it moves" {
        fake_root usb-desk
        stick_partition
        echo "40 1 8:1 / /media/stick rw,relatime shared:9 - vfat /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr vc enable 3-3
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-3: refused: the host needs this USB device: it holds /dev/sda1, mounted at /media/stick (--force takes it anyway)"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage

        # unmounted, but opened as a LUKS volume
        : > "$ROOT/proc/self/mountinfo"
        mkdir -p "$ROOT/sys/devices/virtual/block/dm-0/dm" "$blk/sda1/holders"
        echo luks-backup > "$ROOT/sys/devices/virtual/block/dm-0/dm/name"
        ln -sr "$ROOT/sys/devices/virtual/block/dm-0" "$blk/sda1/holders/dm-0"
        run --separate-stderr vc enable 3-3
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-3: refused: the host needs this USB device: it holds /dev/sda1, in use by dm-0 (luks-backup) (--force takes it anyway)"
        assert_equal "$(fk_writes)" 0

        # closed, but a copy reads it: the process is named
        rm "$blk/sda1/holders/dm-0"
        holder 4300 dd /dev/null /dev/sda1
        run --separate-stderr vc enable 3-3
        assert_failure 4
        assert_equal "$stderr" "vfio-claim: 3-3: /dev/sda1 is open by dd (pid 4300); stop them first (--force takes it anyway)"
        assert_equal "$(fk_writes)" 0

        # let go: the stick moves
        rm -r "$ROOT/proc/4300"
        run --separate-stderr vc enable 3-3
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" ""
}

@test "enable: a failed unbind puts back the interfaces already taken, removes the record, exit 1" {
        fake_root usb-desk
        fk_fail '2 EIO' # the second interface's unbind
        run --separate-stderr vc --force enable 3-2
        assert_failure 1
        assert_equal "$(printf '%s\n' "$stderr" | grep -v 'taken anyway')" \
                "vfio-claim: 3-2: failed to unbind 3-2:1.1 from its driver: Input/output error (nothing changed)"
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
        [ ! -e "$STATE/usb-3-2" ]
        run cut -f1,2,3 "$ROOT/.fakekernel/writes.log"
        assert_output "sys/bus/usb/drivers/usbhid/unbind	3-2:1.0	ok
sys/bus/usb/drivers/usbhid/unbind	3-2:1.1	EIO
sys/bus/usb/drivers/usbhid/bind	3-2:1.0	ok"
}

# An interface's unbind runs the driver's disconnect, which can wait: the fake kernel's HANG is
# that. The command must end after the write bound, put back what it took, and say that the
# kernel may still carry the unbind out.
@test "enable: an unbind that does not finish ends after the bound and says so, exit 1" {
        fake_root usb-desk
        fk_fail 'glob:sys/bus/usb/drivers/usbhid/unbind HANG'
        run_via_file bounded --force --timeout 3 enable 3-2
        assert_failure 1
        assert_line "vfio-claim: 3-2: unbind of 3-2:1.0 from its driver did not finish within 3 s; the other interfaces were put back, that one may still leave its driver"
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
        [ ! -e "$STATE/usb-3-2" ]
}

# A driver probing or resetting a USB device holds the device's lock, under which Linux shows its
# serial, manufacturer and product (fk_usb_lock plays that driver). enable and disable hold the
# state lock: they read no device's strings but the serial an entry names, within the timeout.
@test "enable/disable of USB devices under the lock: another device's held lock stalls nothing; a serial not read in time changes nothing, exit 1" {
        fake_root usb-desk
        usb_conf
        fk_usb_lock 3-2
        run_via_file bounded --timeout 1 enable 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ""
        run_via_file bounded --timeout 1 disable 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        fk_usb_unlock
        # serial-a's twin (same ids, 3-1.3) cannot be told apart without its serial
        n=$(fk_writes)
        fk_usb_lock 3-1.3
        run_via_file bounded --timeout 5 enable serial-a
        assert_failure 1
        assert_output "vfio-claim: 3-1.3: cannot read the serial number of USB device 0403:6001 within 5 s: a driver holds the device (probing or resetting it); nothing was changed"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(fk_writes)" "$n"
        fk_usb_unlock
}

# usb_unplug PORT: the kernel removes the device and its interfaces
usb_unplug() {
        local i
        for i in "$ROOT/sys/bus/usb/devices/$1" "$ROOT/sys/bus/usb/devices/$1":*; do
                mv "$i" "$BATS_TEST_TMPDIR/unplugged-${i##*/}"
        done
}

# disable NAME of a device unplugged since enable: the record says which device it is
@test "disable NAME of an unplugged device matches its record; one that cannot tell, or none, says so" {
        fake_root usb-desk
        usb_conf
        printf '\n[usb serial-b]\nmatch = 0403:6001\nserial = A10K5678\n' >> "$CONF/vfio-claim.conf"
        run --separate-stderr vc enable serial-a
        assert_success
        usb_unplug 3-1.2
        n=$(fk_writes)
        run --separate-stderr vc disable serial-a
        assert_success
        assert_equal "$stderr" ""
        [ ! -e "$STATE/usb-3-1.2" ]
        assert_equal "$(fk_writes)" "$n"
        run --separate-stderr vc disable serial-a
        assert_success
        assert_equal "$stderr" "vfio-claim: serial-a: no USB device this entry selects is enabled: nothing to do"
        # enabled by its port: the record has no serial number; unplugged, nothing tells
        run --separate-stderr vc enable 3-1.3
        assert_success
        usb_unplug 3-1.3
        run --separate-stderr vc disable serial-b
        assert_success
        assert_equal "$stderr" "vfio-claim: 3-1.3: its record has no serial number, and the USB device it names is not plugged in there: cannot tell whether it is serial-b's ('vfio-claim disable 3-1.3' gives it back)
vfio-claim: serial-b: no USB device this entry selects is enabled: nothing to do"
        [ -e "$STATE/usb-3-1.3" ]
        run --separate-stderr vc disable 3-1.3
        assert_success
        assert_equal "$stderr" ""
        [ ! -e "$STATE/usb-3-1.3" ]
        run --separate-stderr vc disable 3-1.3
        assert_success
        assert_equal "$stderr" "vfio-claim: 3-1.3: no USB device is enabled at this port: nothing to do"
}

# A record outlives the unplug of its device: another device plugged into the port later is not
# the one recorded (other ids, or the serial the record names differs). enable takes it as a
# device without a record, and says that it replaces the stale one.
@test "enable: a record another device left at the port is replaced, said; one whose serial cannot be read changes nothing" {
        fake_root usb-desk
        usb_conf
        mkdir -p "$STATE"
        printf 'id 1234:abcd\ninterface 3-3:1.0 usb-storage\n' > "$STATE/usb-3-3"
        run --separate-stderr vc enable 3-3
        assert_success
        assert_output "3-3:1.0: unbind"
        assert_equal "$stderr" "vfio-claim: 3-3: the record of USB device 1234:abcd, unplugged from this port since, is replaced by that of 0781:5583"
        assert_equal "$(usb_driver 3-3:1.0)" ""
        assert_equal "$(cat "$STATE/usb-3-3")" "id 0781:5583
interface 3-3:1.0 usb-storage"
        run --separate-stderr vc disable 3-3
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        [ ! -e "$STATE/usb-3-3" ]
        # the twin adapter (same ids, serial A10K5678) was enabled at 3-1.2; serial-a is there now
        printf 'id 0403:6001\nserial A10K5678\ninterface 3-1.2:1.0 ftdi_sio\n' > "$STATE/usb-3-1.2"
        run --separate-stderr vc enable serial-a
        assert_success
        assert_equal "$stderr" "vfio-claim: 3-1.2: the record of USB device 0403:6001, unplugged from this port since, is replaced by that of 0403:6001"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio"
        run --separate-stderr vc disable serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        # the serial the record names cannot be read in time: nothing changes
        printf 'id 0403:6001\nserial A10K5678\ninterface 3-1.2:1.0 ftdi_sio\n' > "$STATE/usb-3-1.2"
        n=$(fk_writes)
        fk_usb_lock 3-1.2
        run_via_file bounded --timeout 1 enable 3-1.2
        assert_failure 1
        assert_output "vfio-claim: 3-1.2: cannot read the serial number of USB device 0403:6001 within 1 s, which the record of its port names: a driver holds the device (probing or resetting it); nothing was changed"
        fk_usb_unlock
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(fk_writes)" "$n"
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K5678
interface 3-1.2:1.0 ftdi_sio"
}

# enable of a device enabled already whose interface a host driver bound again since (the
# module loaded by hand, no udev rule of vfio-claim's to undo it): the interface is taken back.
# Before, enable printed "unbind", said "enabled already" and left it on the driver.
@test "enable of an enabled device takes back an interface a host driver bound again" {
        fake_root usb-desk
        usb_conf
        run vc enable 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        fk_sh "printf 3-1.2:1.0 > '$ROOT/sys/bus/usb/drivers/ftdi_sio/bind'"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        run --separate-stderr vc enable 3-1.2
        assert_success
        assert_output "3-1.2:1.0: unbind"
        assert_equal "$stderr" "vfio-claim: 3-1.2: enabled already; 1 interface a host driver had bound since taken back"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        grep -qx 'interface 3-1.2:1.0 ftdi_sio' "$STATE/usb-3-1.2"
        # nothing bound: nothing to take, nothing written
        n=$(fk_writes)
        run --separate-stderr vc -v enable 3-1.2
        assert_success
        assert_output "3-1.2:1.0: no driver: left alone"
        assert_equal "$stderr" "vfio-claim: 3-1.2: enabled already"
        assert_equal "$(fk_writes)" "$n"
        run vc disable 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
}

# ... and when one of those interfaces cannot be taken back, the ones taken before it go back to
# their driver: the command fails with nothing changed, as it says (the keyboard's two
# interfaces, both bound again by hand; the second unbind fails).
@test "enable of an enabled device: a take-back that fails half-way puts back what it took" {
        fake_root usb-desk
        mkdir -p "$CONF"
        printf '[usb kbd]\nmatch = 046d:c31c\n' > "$CONF/vfio-claim.conf"
        run vc enable --force 3-2
        assert_success
        fk_sh "printf 3-2:1.0 > '$ROOT/sys/bus/usb/drivers/usbhid/bind'"
        fk_sh "printf 3-2:1.1 > '$ROOT/sys/bus/usb/drivers/usbhid/bind'"
        n=$(fk_writes)
        fk_fail "$((n + 2)) EIO"
        run --separate-stderr vc enable --force 3-2
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 3-2: it is a keyboard (interface 3-2:1.0); taken anyway (--force)
vfio-claim: 3-2: failed to unbind 3-2:1.1 from its driver: Input/output error (nothing changed)"
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
        [ -e "$STATE/usb-3-2" ]
}

# enable NAME over two devices, the first enabled by an earlier command (a VM may use it): a
# failure on the second gives back only what this run took, not that one.
@test "enable NAME: a failure gives back only the devices this run enabled" {
        fake_root usb-desk
        mkdir -p "$CONF"
        printf '[usb ftdis]\nmatch = 0403:6001\n' > "$CONF/vfio-claim.conf"
        run vc enable 3-1.2
        assert_success
        fk_fail "glob:*ftdi_sio/unbind EIO"
        run --separate-stderr vc enable ftdis
        assert_failure 1
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        [ -e "$STATE/usb-3-1.2" ]
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.3" ]
}

# A damaged record without its id line cannot say whose it is: disable gives back what its
# interface lines say, and drops it (as before records were matched to the device at the port).
@test "disable: a record without its id line is given back as its lines say" {
        fake_root usb-desk
        mkdir -p "$CONF" "$STATE"
        printf '[usb stick]\nmatch = 0781:5583\nport = 3-3\n' > "$CONF/vfio-claim.conf"
        printf 'interface 3-3:1.0 usb-storage\n' > "$STATE/usb-3-3"
        fk_sh "printf 3-3:1.0 > '$ROOT/sys/bus/usb/drivers/usb-storage/unbind'"
        run vc disable 3-3
        assert_success
        [ ! -e "$STATE/usb-3-3" ]
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
}

# disable of a port whose record another device left: the serial adapter recorded there was
# unplugged, and the stick plugged in since is not vfio-claim's (its interface unbound by hand
# here). Nothing of the adapter's is bound to the stick (its driver does not match: the write
# failed with ENODEV, and the record could never be dropped); the record alone goes, and the
# command says so.
@test "disable: a record another device left at the port goes; nothing of it is bound to the device there now" {
        fake_root usb-desk
        usb_conf
        mkdir -p "$STATE"
        printf 'id 0403:6001\nserial A10K9999\ninterface 3-3:1.0 ftdi_sio\n' > "$STATE/usb-3-3"
        fk_sh "printf 3-3:1.0 > '$ROOT/sys/bus/usb/drivers/usb-storage/unbind'"
        n=$(fk_writes)
        run --separate-stderr vc disable 3-3
        assert_success
        assert_equal "$stderr" "vfio-claim: 3-3: its record names USB device 0403:6001, unplugged from this port since; the device plugged in there now is not vfio-claim's and was left as it is; the record is removed"
        [ ! -e "$STATE/usb-3-3" ]
        assert_equal "$(fk_writes)" "$n"
        assert_equal "$(usb_driver 3-3:1.0)" ""
}

@test "a [device NAME] that looks like a port path stays a PCI device" {
        fake_root usb-desk
        mkdir -p "$CONF"
        printf '[device 3-2]\nmatch = 0000:00:17.0\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr vc show 3-2
        assert_success
        assert_line --partial "IOMMU group 2"
        refute_output --partial "USB device"
}
