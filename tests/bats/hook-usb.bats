#!/usr/bin/env bats
# The libvirt hook and <hostdev type='usb'>: at prepare, a configured USB device the domain names
# loses its host drivers (recorded, the VM as owner); at release it goes back, per configuration.
# Fake kernel: the USB desk (FTDI adapters at 3-1.2 (bus 3 device 5) and 3-1.3, a stick at 3-3).

bats_require_minimum_version 1.5.0
load helpers

conf() {
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
        export CONF
}

usb_driver() {
        local l
        l=$(readlink "$ROOT/sys/bus/usb/devices/$1/driver" 2>/dev/null) || return 0
        echo "${l##*/}"
}

# domain NAME SOURCE-XML: a domain XML file with one USB host device
domain() {
        DOM="$BATS_TEST_TMPDIR/$1.xml"
        echo "<domain type='kvm'><name>$1</name><devices><hostdev mode='subsystem' type='usb' managed='no'><source startupPolicy='optional'>$2</source></hostdev></devices></domain>" > "$DOM"
}

FTDI_A="<vendor id='0x0403'/><product id='0x6001'/><address bus='3' device='5'/>"

@test "prepare takes a configured USB device the domain names off its host driver, for the VM; release gives it back" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        domain lab "$FTDI_A"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$output" ""
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio
owner lab"
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
}

@test "prepare: a USB device reserved for another VM is refused, nothing changed; an unconfigured one is left to libvirt" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        domain other "$FTDI_A"
        run --separate-stderr hook "$DOM" other prepare begin
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: USB device 3-1.2 ([usb serial-a]) is reserved for VM \"lab\" by vfio-claim.conf:1; remove it from VM \"other\" or change vm = in the configuration"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(fk_writes)" 0
        domain other "<vendor id='0x0781'/><product id='0x5583'/>"
        run --separate-stderr hook "$DOM" other prepare begin
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        assert_equal "$(fk_writes)" 0
}

@test "release: a USB device enabled before the VM started stays enabled; boot = yes keeps it off" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        run --separate-stderr vc --config "$CONF" enable serial-a
        assert_success
        domain lab "$FTDI_A"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        [ -e "$STATE/usb-3-1.2" ]
        run --separate-stderr vc --config "$CONF" disable serial-a
        assert_success
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nboot = yes'
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        # kept, and no longer lab's (as a kept PCI group): the next VM finds it enabled
        [ -e "$STATE/usb-3-1.2" ]
        run ! grep -q "^owner " "$STATE/usb-3-1.2"
}

# A VM given the FTDI adapter and the GPU's group (tests/fixtures/usb-desk-gpu.topo).
domain_gpu() {
        DOM="$BATS_TEST_TMPDIR/$1.xml"
        echo "<domain type='kvm'><name>$1</name><devices><hostdev mode='subsystem' type='usb' managed='no'><source startupPolicy='optional'>$2</source></hostdev><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev></devices></domain>" > "$DOM"
}

GPU_FAILS="vfio-claim: IOMMU group 1: 0000:01:00.0: failed to unbind from nouveau: Input/output error; VM \"lab\" was not started (see 'vfio-claim show group:1' and the system log)"

@test "prepare: when the PCI claim fails, the USB device this prepare took goes back to its host driver" {
        fake_root usb-desk-gpu
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab\n[device gpu]\nmatch = 01:00.0'
        fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind EIO'
        domain_gpu lab "$FTDI_A"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "$GPU_FAILS"
        # It was taken (the USB part runs first), then given back; the GPU never moved.
        grep -q 'ftdi_sio/unbind' "$ROOT/.fakekernel/writes.log"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        [ ! -e "$STATE/group-1" ]
        # libvirt runs "release end" after a failed start: nothing left to give back.
        writes=$(fk_writes)
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$output$stderr" ""
        assert_equal "$(fk_writes)" "$writes"
}

@test "prepare: when a later USB device fails, the one taken before it goes back to its host driver" {
        fake_root usb-desk-gpu
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\n[usb serial-b]\nmatch = 0403:6001\nserial = A10K5678'
        # Write 1 takes 3-1.2 from ftdi_sio, write 2 (3-1.3) fails.
        fk_fail '2 EIO'
        DOM="$BATS_TEST_TMPDIR/lab.xml"
        echo "<domain type='kvm'><name>lab</name><devices><hostdev mode='subsystem' type='usb'><source>$FTDI_A</source></hostdev><hostdev mode='subsystem' type='usb'><source><vendor id='0x0403'/><product id='0x6001'/><address bus='3' device='6'/></source></hostdev></devices></domain>" > "$DOM"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: USB device 3-1.3 ([usb serial-b]): cannot take 3-1.3:1.0 from its host driver: Input/output error; VM \"lab\" was not started"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
        [ ! -e "$STATE/usb-3-1.3" ]
}

@test "prepare: a USB device enabled before stays enabled when the PCI claim fails" {
        fake_root usb-desk-gpu
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\n[device gpu]\nmatch = 01:00.0'
        run --separate-stderr vc --config "$CONF" enable serial-a
        assert_success
        record=$(cat "$STATE/usb-3-1.2")
        fk_fail 'glob:sys/bus/pci/drivers/nouveau/unbind EIO'
        domain_gpu lab "$FTDI_A"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure 1
        assert_equal "$stderr" "$GPU_FAILS"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(cat "$STATE/usb-3-1.2")" "$record"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

# The stick at 3-3 (bus 3 device 3) with its sda1 mounted: the VM's start is refused, as
# `vfio-claim enable` refuses it, and nothing changes; protect = no lets it go.
@test "prepare: a configured USB stick with a mounted file system is refused, protect = no takes it; one a process holds open is refused" {
        fake_root usb-desk
        blk=$(readlink -f "$ROOT/sys/bus/usb/devices/3-3:1.0")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/proc/self"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1"
        echo "40 1 8:1 / /media/stick rw,relatime shared:9 - vfat /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        conf $'[usb stick]\nmatch = 0781:5583\nvm = lab'
        domain lab "<vendor id='0x0781'/><product id='0x5583'/><address bus='3' device='3'/>"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure
        assert_equal "$stderr" 'vfio-claim: USB device 3-3 ([usb stick]): refused: the host needs it: it holds /dev/sda1, mounted at /media/stick; VM "lab" was not started (protect = no in the configuration allows it)'
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        [ ! -e "$STATE/usb-3-3" ]
        assert_equal "$(fk_writes)" 0

        # unmounted, but another VM's QEMU uses the disk raw: protect = no does not let that go
        : > "$ROOT/proc/self/mountinfo"
        mkdir -p "$ROOT/sys/class/block"
        ln -sr "$blk" "$ROOT/sys/class/block/sda"
        holder 4242 qemu-system-x86 /dev/sda
        conf $'[global]\nprotect = no\n[usb stick]\nmatch = 0781:5583\nvm = lab'
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure
        assert_equal "$stderr" 'vfio-claim: USB device 3-3 ([usb stick]): /dev/sda is open by qemu-system-x86 (pid 4242); stop them first; VM "lab" was not started'
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        assert_equal "$(fk_writes)" 0

        rm -r "$ROOT/proc/4242"
        echo "40 1 8:1 / /media/stick rw,relatime shared:9 - vfat /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" ""
}

# Another device was enabled at port 3-3 and unplugged: its record stays. The stick plugged in
# there since, with a file system mounted, is no device enabled before the VM started: the checks
# apply to it, and once it may go, its record replaces the stale one and the release gives it back.
@test "prepare: a record another device left at the port is not the stick's: the stick is checked, taken, given back" {
        fake_root usb-desk
        blk=$(readlink -f "$ROOT/sys/bus/usb/devices/3-3:1.0")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/proc/self" "$STATE"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1"
        echo "40 1 8:1 / /media/stick rw,relatime shared:9 - vfat /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        printf 'id 1234:abcd\ninterface 3-3:1.0 usb-storage\n' > "$STATE/usb-3-3"
        conf $'[usb stick]\nmatch = 0781:5583\nvm = lab'
        domain lab "<vendor id='0x0781'/><product id='0x5583'/><address bus='3' device='3'/>"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure 1
        assert_equal "$stderr" 'vfio-claim: USB device 3-3 ([usb stick]): refused: the host needs it: it holds /dev/sda1, mounted at /media/stick; VM "lab" was not started (protect = no in the configuration allows it)'
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        assert_equal "$(fk_writes)" 0
        assert_equal "$(cat "$STATE/usb-3-3")" "id 1234:abcd
interface 3-3:1.0 usb-storage"
        : > "$ROOT/proc/self/mountinfo"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" ""
        assert_equal "$(cat "$STATE/usb-3-3")" "id 0781:5583
interface 3-3:1.0 usb-storage
owner lab"
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        [ ! -e "$STATE/usb-3-3" ]
}

@test "prepare: a USB device that cannot be read (unplugged while read) fails no other VM's start" {
        fake_root usb-desk
        rm "$ROOT/sys/bus/usb/devices/3-3/idProduct"
        mkdir "$ROOT/sys/bus/usb/devices/3-3/idProduct"
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        domain lab "$FTDI_A"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        grep -qx "owner lab" "$STATE/usb-3-1.2"
}

@test "prepare: a VM name no record can keep is refused before a configured USB device is taken" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        domain "lab " "$FTDI_A"
        run --separate-stderr hook "$DOM" "lab " prepare begin
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: VM \"lab \": vfio-claim cannot record this name as the owner of its devices (at most 255 bytes, no control character, no '/', no white space first or last); rename the VM (virsh domrename). It was not started"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/usb-3-1.2" ]
}

# hook_bounded: hook, killed after 300 s (only a hang gets there)
hook_bounded() {
        local xml=$1 prog="$abs_top_builddir/vfio-claim-hook"
        shift
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        # shellcheck disable=SC2086
        FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" fk timeout 300 $VC_WRAPPER "$prog" "$@" - < "$xml"
}

# A driver probing or resetting a USB device holds the device's lock, under which Linux shows its
# serial, manufacturer and product (fk_usb_lock plays that driver). The hook holds the state lock
# at prepare and release: it reads no USB device's strings but the serial an entry of the
# domain's device's ids names, and that within the timeout. (Before, a prepare waited for the
# keyboard's lock for as long as it was held, and every VM start and boot claim behind it.)
@test "prepare: a USB device whose driver holds its lock stalls nothing; the VM's own device's serial not read in time refuses the start" {
        fake_root usb-desk
        conf $'[global]\ntimeout = 60\n\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        domain lab "$FTDI_A"
        fk_usb_lock 3-2
        run --separate-stderr hook_bounded "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run --separate-stderr hook_bounded "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        fk_usb_unlock
        n=$(fk_writes)
        conf $'[global]\ntimeout = 1\n\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        fk_usb_lock 3-1.2
        run --separate-stderr hook_bounded "$DOM" lab prepare begin
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: USB device 3-1.2 (0403:6001): cannot read its serial number within 1 s, which an entry of its ids names: a driver holds the device (probing or resetting it); VM \"lab\" was not started"
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        assert_equal "$(fk_writes)" "$n"
        [ ! -e "$STATE/usb-3-1.2" ]
        fk_usb_unlock
}

# A <hostdev type='usb'> by ids alone selects every identical device plugged in, and libvirt
# fails such a start ("Multiple USB devices for ..., use <address> to specify one"): the hook
# says so before it takes any of them from its host driver.
@test "prepare: a USB device listed by ids alone with two such devices plugged in is refused before either is taken" {
        fake_root usb-desk
        conf $'[global]\nrelease = keep\n[usb ftdi]\nmatch = 0403:6001'
        domain lab "<vendor id='0x0403'/><product id='0x6001'/>"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_failure
        assert_equal "$stderr" "vfio-claim: VM \"lab\" lists USB device 0403:6001 without an <address>, and more than one is plugged in (3-1.2, 3-1.3): libvirt cannot tell which to give it; add <address bus= device=/> to that <hostdev> (virsh edit lab); VM \"lab\" was not started"
        assert_equal "$(usb_driver 3-1.2:1.0) $(usb_driver 3-1.3:1.0)" "ftdi_sio ftdi_sio"
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/usb-3-1.2" ] && [ ! -e "$STATE/usb-3-1.3" ]
}

# release = keep keeps a USB device off its host drivers but frees it from the VM, as a kept PCI
# group: a VM that uses it next is not undone by the first VM's later stop, and while a VM holds
# it, another VM's start is refused.
@test "release = keep frees a USB device from its VM: another VM then uses it, and the first VM's next stop leaves it" {
        fake_root usb-desk
        conf $'[global]\nrelease = keep\n[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        domain alpha "$FTDI_A"
        local alpha=$DOM
        domain beta "$FTDI_A"
        local beta=$DOM
        run --separate-stderr hook "$alpha" alpha prepare begin
        assert_success
        # while alpha holds it, beta's start is refused
        run --separate-stderr hook "$beta" beta prepare begin
        assert_failure
        assert_equal "$stderr" "vfio-claim: USB device 3-1.2 ([usb serial-a]) is in use by VM \"alpha\"; stop that VM first (if it is not running: vfio-claim disable 3-1.2); VM \"beta\" was not started"
        run --separate-stderr hook "$alpha" alpha release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run ! grep -q "^owner " "$STATE/usb-3-1.2"
        # the admin drops release = keep; beta starts with the adapter and runs
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234'
        run --separate-stderr hook "$beta" beta prepare begin
        assert_success
        # alpha starts and fails (libvirt runs its release end): beta keeps the adapter
        run --separate-stderr hook "$alpha" alpha release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
}
