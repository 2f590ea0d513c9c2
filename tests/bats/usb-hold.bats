#!/usr/bin/env bats
# USB devices kept off the host across replug and reboot: the generated udev rule hands the add
# event of a held device and every host driver bind of its interfaces to vfio-claim-udev, which
# unbinds them again (lib/usb.h says why there is nothing earlier to hook into on Linux 6.1); the
# boot pass (vfio-claim-udev --all) takes the devices of "boot = yes" entries.
# Replug in the fake kernel (usb_replug): the kernel probes the new device's interfaces (each is
# bound to its matching driver, as bus_probe_device() does at add) and gives it a new device
# number; udev then delivers the device's add event and one bind event per bound interface.

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
RULE_FILE=run/udev/rules.d/70-vfio-claim.rules
XHCI=/devices/pci0000:00/0000:00:14.0/usb3

usb_driver() {
        local l
        l=$(readlink "$ROOT/sys/bus/usb/devices/$1/driver" 2>/dev/null) || return 0
        echo "${l##*/}"
}

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# devpath PORT-OR-INTERFACE: the DEVPATH udev gives (the device's path under /sys)
devpath() {
        local p
        p=$(readlink -f "$ROOT/sys/bus/usb/devices/$1")
        echo "${p#"$ROOT"/sys}"
}

# product PORT: PRODUCT= of the kernel's uevent, %x/%x/%x of idVendor, idProduct, bcdDevice
product() {
        local d="$ROOT/sys/bus/usb/devices/$1"
        printf '%x/%x/%x' "0x$(cat "$d/idVendor")" "0x$(cat "$d/idProduct")" "0x$(cat "$d/bcdDevice")"
}

# helper ARGS...: vfio-claim-udev on the tree as the running system, its messages on stderr (the
# boot pass: helper --all)
helper() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" "$@"
}

# uevent ACTION NAME [VAR=VALUE...]: the helper run as udev runs it for a USB event
uevent() {
        local action=$1 name=$2 type=usb_device drv
        shift 2
        case $name in *:*) type=usb_interface ;; esac
        drv=$(usb_driver "$name")
        # shellcheck disable=SC2086
        fk env ACTION="$action" SUBSYSTEM=usb DEVTYPE=$type DEVPATH="$(devpath "$name")" \
                PRODUCT="$(product "${name%%:*}")" ${drv:+DRIVER=$drv} \
                FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr "$@" $VC_WRAPPER "$UDEV_HELPER"
}

# usb_replug PORT: unplugged and plugged back: the kernel binds each interface's driver, then
# udev runs the rule for the device's add event and for each interface's bind event.
usb_replug() {
        local port=$1 i d
        d="$ROOT/sys/bus/usb/devices/$port"
        echo $(($(cat "$d/devnum") + 10)) > "$d/devnum"
        for i in "$ROOT"/sys/bus/usb/devices/"$port":*; do
                fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" "${i##*/}" || return 1
        done
        rule_runs add "$port" && { uevent add "$port" || return 1; }
        for i in "$ROOT"/sys/bus/usb/devices/"$port":*; do
                if rule_runs bind "${i##*/}"; then uevent bind "${i##*/}" || return 1; fi
        done
        return 0
}

# rule_runs ACTION NAME: does the generated rule run the helper for this USB event? Read the way
# udev reads the forms the generator writes for USB (any other USB line fails the test).
rule_runs() {
        local action=$1 name=$2 type=usb_device prod drv line want
        case $name in *:*) type=usb_interface ;; esac
        prod=$(product "${name%%:*}")
        drv=$(usb_driver "$name")
        while IFS= read -r line; do
                case $line in
                'SUBSYSTEM=="usb", '*)
                        want=${line#*ENV\{PRODUCT\}==\"}
                        want=${want%%\"*}
                        case $line in
                        *', ACTION=="add", ENV{DEVTYPE}=="usb_device", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"')
                                [ "$action/$type" = add/usb_device ] || continue ;;
                        *', ACTION=="bind", ENV{DEVTYPE}=="usb_interface", ENV{DRIVER}!="usbfs", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"')
                                [ "$action/$type" = bind/usb_interface ] && [ "$drv" != usbfs ] || continue ;;
                        *', TAG+="systemd", ENV{SYSTEMD_WANTS}+="vfio-claim-usb-reattach@%k.service"')
                                continue ;; # a vm = entry's: starts a unit, not the helper
                        *) echo "unexpected rule line: $line" >&2; return 2 ;;
                        esac
                        # shellcheck disable=SC2053
                        [[ $prod == $want ]] && return 0 ;;
                esac
        done < "$ROOT/$RULE_FILE"
        return 1
}

@test "enabled USB device replugged: its interfaces are taken again at its udev events; disable gives them back" {
        fake_root usb-desk
        conf '[usb serial-a]
match = 0403:6001
serial = A10K1234'
        run --separate-stderr vc enable serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run cat "$ROOT/$RULE_FILE"
        assert_line '# USB device 3-1.2 is enabled: its add event, and every host driver bind of its interfaces'
        assert_line 'SUBSYSTEM=="usb", ENV{PRODUCT}=="403/6001/*", ACTION=="add", ENV{DEVTYPE}=="usb_device", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"'
        # an unrelated USB device's events run nothing
        run rule_runs add 3-2
        assert_failure 1
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers/usbhid/unbind" 3-2:1.0
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" 3-2:1.0
        run rule_runs bind 3-2:1.0
        assert_failure 1
        # replugged: ftdi_sio binds it, the udev path takes it again
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        # the twin adapter (same ids, other serial) runs the helper, which leaves it alone
        run usb_replug 3-1.3
        assert_success
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio"
        run --separate-stderr vc disable serial-a
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
        # given back: the rule runs nothing for it any more, and a stale rule's run takes nothing
        run rule_runs add 3-1.2
        assert_failure 1
        run uevent bind 3-1.2:1.0
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
}

@test "a module loaded after enable: the bind event of the interface it probed is undone, the record gains it" {
        fake_root usb-desk
        conf ''
        run --separate-stderr vc --force enable 3-2
        assert_success
        assert_equal "$(usb_driver 3-2:1.0)$(usb_driver 3-2:1.1)" ""
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" 3-2:1.1
        assert_equal "$(usb_driver 3-2:1.1)" usbhid
        run rule_runs bind 3-2:1.1
        assert_success
        run --separate-stderr uevent bind 3-2:1.1
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-2: USB device 046d:c31c kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-2:1.0)$(usb_driver 3-2:1.1)" ""
        run --separate-stderr vc disable 3-2
        assert_success
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
}

# udev_waits_for_lock: a vfio-claim-udev run has the lock file open (it waits for the lock)
udev_waits_for_lock() {
        local fd pid
        for fd in /proc/[0-9]*/fd/*; do
                [ "$(readlink "$fd" 2>/dev/null)" = "$STATE/lock" ] || continue
                pid=${fd#/proc/}
                pid=${pid%%/*}
                tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q vfio-claim-udev && return 0
        done
        return 1
}

# give_back_racing CMD...: CMD gives the keyboard (3-2) back, binding its interfaces one by one
# under the lock; its second bind is held up in the kernel (a slow probe: STUCK) while the helper
# run for the first bind's event waits for the lock; then the second bind's event runs. What each
# said goes to $output.
give_back_racing() {
        local pid epid
        fk_fail "$(($(fk_writes) + 2)) STUCK"
        "$@" > "$BATS_TEST_TMPDIR/give-back.out" 2>&1 &
        pid=$!
        wait_for '[ -n "$(ls -A "$ROOT/.fakekernel/stuck" 2>/dev/null)" ]'
        [ "$(usb_driver 3-2:1.0)" = usbhid ] || return 1
        uevent bind 3-2:1.0 > "$BATS_TEST_TMPDIR/event.out" 2>&1 &
        epid=$!
        wait_for udev_waits_for_lock
        fk_unstick
        wait "$pid" || return 1
        wait "$epid" || return 1
        uevent bind 3-2:1.1 >> "$BATS_TEST_TMPDIR/event.out" 2>&1 || return 1
        cat "$BATS_TEST_TMPDIR/give-back.out" "$BATS_TEST_TMPDIR/event.out"
}

KBD_CONF=$'[global]\ntimeout = 120\n\n[usb kbd]\nmatch = 046d:c31c'

# Giving a device back binds its interfaces and removes the record last, under the lock; each
# bind raises a bind event, whose helper run waits for the lock. Once the give-back lets go, that
# run finds no record: the device stays with the host.
@test "disable: the bind events of the give-back leave the device with the host" {
        fake_root usb-desk
        conf "$KBD_CONF"
        run --separate-stderr vc --force enable 3-2
        assert_success
        assert_equal "$(usb_driver 3-2:1.0)$(usb_driver 3-2:1.1)" ""
        run rule_runs bind 3-2:1.0
        assert_success
        run give_back_racing vc disable 3-2
        assert_success
        assert_output ""
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
        [ ! -e "$STATE/usb-3-2" ]
}

@test "the hook's release at VM stop: the bind events of the give-back leave the device with the host" {
        fake_root usb-desk
        conf "$KBD_CONF"
        DOM="$BATS_TEST_TMPDIR/lab.xml"
        echo "<domain type='kvm'><name>lab</name><devices><hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x046d'/><product id='0xc31c'/></source></hostdev></devices></domain>" > "$DOM"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-2:1.0)$(usb_driver 3-2:1.1)" ""
        run rule_runs bind 3-2:1.0
        assert_success
        run give_back_racing hook "$DOM" lab release end
        assert_success
        assert_output ""
        assert_equal "$(usb_driver 3-2:1.0) $(usb_driver 3-2:1.1)" "usbhid usbhid"
        [ ! -e "$STATE/usb-3-2" ]
}

# The hook writes the rule when it takes a USB device for a VM and when it gives it back, as
# enable and disable do: replugged while the VM runs, the device stays off its host driver.
@test "the hook's USB device stays off its host driver when replugged while the VM runs; given back, it is left alone" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nvm = lab'
        DOM="$BATS_TEST_TMPDIR/lab.xml"
        echo "<domain type='kvm'><name>lab</name><devices><hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x0403'/><product id='0x6001'/><address bus='3' device='5'/></source></hostdev></devices></domain>" > "$DOM"
        run --separate-stderr hook "$DOM" lab prepare begin
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        run cat "$ROOT/$RULE_FILE"
        assert_line '# USB device 3-1.2 is enabled: its add event, and every host driver bind of its interfaces'
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        grep -qx "owner lab" "$STATE/usb-3-1.2"
        run --separate-stderr hook "$DOM" lab release end
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.2" ]
        run rule_runs add 3-1.2
        assert_failure 1
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
}

# A record outlives the unplug of its device. The twin adapter (serial A10K5678) was enabled at
# 3-1.2 and unplugged; serial-a (A10K1234) is plugged in there now: a driver's bind of it is left
# alone; its add event and the boot pass take it when a boot = yes entry selects it, the stale
# record replaced.
@test "a record another device left at the port holds nothing; a boot = yes entry takes that device, the record replaced" {
        fake_root usb-desk
        conf ''
        mkdir -p "$STATE"
        printf 'id 0403:6001\nserial A10K5678\ninterface 3-1.2:1.0 ftdi_sio\n' > "$STATE/usb-3-1.2"
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        run rule_runs bind 3-1.2:1.0
        assert_success
        run --separate-stderr uevent bind 3-1.2:1.0
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nboot = yes'
        run --separate-stderr uevent add 3-1.2
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: the record of USB device 0403:6001, unplugged from this port since, is replaced by that of 0403:6001
vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio"
        # the boot pass, a stale record of other ids
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers/ftdi_sio/bind" 3-1.2:1.0
        printf 'id 1234:abcd\ninterface 3-1.2:1.0 ftdi_sio\n' > "$STATE/usb-3-1.2"
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: the record of USB device 1234:abcd, unplugged from this port since, is replaced by that of 0403:6001
vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        grep -qx "id 0403:6001" "$STATE/usb-3-1.2"
}

@test "boot pass: a boot = yes USB entry is taken and recorded, its twin stays; replug keeps it off" {
        fake_root usb-desk
        conf '[usb serial-a]
match = 0403:6001
serial = A10K1234
boot = yes'
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        assert_equal "$(cat "$STATE/usb-3-1.2")" "id 0403:6001
serial A10K1234
interface 3-1.2:1.0 ftdi_sio"
        run cat "$ROOT/$RULE_FILE"
        assert_line '# [usb serial-a] says boot = yes: its add event, and every host driver bind of its interfaces'
        assert_line '# No "boot = yes" entry: no PCI event runs anything.'
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        # plugged in after the boot pass, no record yet: its add event takes it (boot = yes)
        rm "$STATE/usb-3-1.2"
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" 3-1.2:1.0
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        [ -e "$STATE/usb-3-1.2" ]
        # vfio_claim=0 on the kernel command line: nothing is held
        rm "$STATE/usb-3-1.2"
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" 3-1.2:1.0
        echo "BOOT_IMAGE=/vmlinuz vfio_claim=0" > "$ROOT/proc/cmdline"
        run usb_replug 3-1.2
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" ftdi_sio
}

@test "boot pass: a USB device that cannot be read (unplugged while read) is left out, the others are held" {
        fake_root usb-desk
        conf $'[usb serial-a]\nmatch = 0403:6001\nserial = A10K1234\nboot = yes'
        rm "$ROOT/sys/bus/usb/devices/3-3/idProduct"
        mkdir "$ROOT/sys/bus/usb/devices/3-3/idProduct"
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
}

# The host boots from a SanDisk stick (3-3) whose model a boot = yes entry names for a VM: the
# stick holding / is left to the host, at the boot pass and at its add event, from the live scan
# (in the real root) and from the initramfs's list (in it, nothing is mounted yet; the stick may
# sit on another bus number there: its serial finds it); protect = no takes it anyway.
@test "boot holds leave the host the USB stick holding its root file system, live or from the initramfs's list" {
        fake_root usb-desk
        conf '[usb sticks]
match = 0781:5583
boot = yes'
        blk=$(readlink -f "$ROOT/sys/bus/usb/devices/3-3:1.0")/host0/target0:0:0/0:0:0:0/block/sda
        mkdir -p "$blk/sda1" "$ROOT/sys/dev/block" "$ROOT/proc/self"
        echo 1 > "$blk/sda1/partition"
        ln -sr "$blk/sda1" "$ROOT/sys/dev/block/8:1"
        echo "26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw" > "$ROOT/proc/self/mountinfo"
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-3: USB device 0781:5583 left to the host, which needs it: it holds the root filesystem /dev/sda1 (protect = no in [global] takes it anyway)"
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        [ ! -e "$STATE/usb-3-3" ]
        # the list the initramfs generators write names it, by its serial
        run --separate-stderr helper --host-critical
        assert_success
        assert_line "usb 3-3 0781:5583 4C530001230526115313 controller of the root filesystem /dev/sda1"
        # in the initramfs: nothing mounted, the list carried to /run
        mkdir -p "$STATE"
        echo "$output" > "$STATE/host-critical"
        : > "$ROOT/proc/self/mountinfo"
        run --separate-stderr uevent add 3-3
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-3: USB device 0781:5583 left to the host, which needs it: it holds the root filesystem /dev/sda1 when the initramfs was built (protect = no in [global] takes it anyway)"
        assert_equal "$(usb_driver 3-3:1.0)" usb-storage
        # another stick of the model (another serial) is no root disk
        echo "usb 3-3 0781:5583 4C530009999999999999 controller of the root filesystem /dev/sda1" > "$STATE/host-critical"
        run --separate-stderr uevent add 3-3
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" ""
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers/usb-storage/bind" 3-3:1.0
        rm "$STATE/usb-3-3"
        echo "usb 3-3 0781:5583 4C530001230526115313 controller of the root filesystem /dev/sda1" > "$STATE/host-critical"
        printf '[global]\nprotect = no\n[usb sticks]\nmatch = 0781:5583\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr uevent add 3-3
        assert_success
        assert_equal "$(usb_driver 3-3:1.0)" ""
}

# The initramfs carries the configuration it was built with: a [usb] boot entry dropped since is
# held there. The real root's boot pass gives that device back (its record says the initramfs
# held it), and leaves alone what the real root's entries ask for and what an admin enabled.
@test "the real root's boot pass gives back a USB device the initramfs held for a dropped boot entry" {
        fake_root usb-desk
        conf '[usb serial-a]
match = 0403:6001
serial = A10K1234
boot = yes

[usb serial-b]
match = 0403:6001
serial = A10K5678
boot = yes'
        mkdir -p "$ROOT/etc"
        : > "$ROOT/etc/initrd-release"
        run --separate-stderr helper --all
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)$(usb_driver 3-1.3:1.0)" ""
        grep -qx "by boot pass in the initramfs" "$STATE/usb-3-1.2"
        # the real root: serial-b dropped since the image was built; 3-3 enabled by hand
        rm "$ROOT/etc/initrd-release"
        conf '[usb serial-a]
match = 0403:6001
serial = A10K1234
boot = yes'
        run vc enable 3-3
        assert_success
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.3: the initramfs held USB device 0403:6001, but no boot = yes entry of the configuration asks for it now: given back to the host; the initramfs has an older copy of the configuration, rebuild it (dracut -f, or update-initramfs -u)"
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.3" ]
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-3:1.0)" ""
        [ -e "$STATE/usb-3-3" ]
}

# ... and checks that the record is of the device plugged in at its port now: one the initramfs
# held and that was replaced since (another device at the port, its interface unbound here by
# hand) gets nothing of the record's bound to it (its driver does not match), and the record goes.
@test "the real root's boot pass: a record the initramfs left for another device than the one at the port goes alone" {
        fake_root usb-desk
        conf '# no boot entries'
        mkdir -p "$STATE"
        printf 'id 0403:6001\nby boot pass in the initramfs\ninterface 3-3:1.0 ftdi_sio\n' > "$STATE/usb-3-3"
        fk_sh "printf 3-3:1.0 > '$ROOT/sys/bus/usb/drivers/usb-storage/unbind'"
        n=$(fk_writes)
        run --separate-stderr helper --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-3: the record there names another USB device than 0781:5583, plugged in now: removed, the device left to the host"
        [ ! -e "$STATE/usb-3-3" ]
        assert_equal "$(fk_writes)" "$n"
        assert_equal "$(usb_driver 3-3:1.0)" ""
}

@test "a held interface that a VM's QEMU claimed through usbfs is left to it" {
        fake_root usb-desk
        conf ''
        run --separate-stderr vc enable 3-1.2
        assert_success
        # QEMU claims the interface: the usbfs driver (relative links, as sysfs makes them)
        mkdir -p "$ROOT/sys/bus/usb/drivers/usbfs"
        i=$(readlink -f "$ROOT/sys/bus/usb/devices/3-1.2:1.0")
        ln -sr "$ROOT/sys/bus/usb/drivers/usbfs" "$i/driver"
        run rule_runs bind 3-1.2:1.0
        assert_failure 1
        n=$(fk_writes)
        run uevent bind 3-1.2:1.0
        assert_success
        assert_equal "$(usb_driver 3-1.2:1.0)" usbfs
        assert_equal "$(fk_writes)" "$n"
}

# A driver probing or resetting a USB device holds the device's lock, and Linux shows the device's
# serial, manufacturer and product under it (fk_usb_lock plays that driver). The boot pass holds
# the state lock, for which udev's PCI events and the libvirt hook wait: it reads no USB device's
# strings but the serial an entry of the device's ids names, and that within the timeout. (Run
# under timeout(1): before, the pass waited for the keyboard's lock for as long as it was held.)
@test "boot pass: a USB device whose driver holds its lock stalls nothing; a serial not read in time leaves its device as it is" {
        fake_root usb-desk
        conf '[global]
timeout = 60

[usb serial-a]
match = 0403:6001
serial = A10K1234
boot = yes'
        fk_usb_lock 3-2
        run --separate-stderr fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr timeout 300 $VC_WRAPPER "$UDEV_HELPER" --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-2:1.0)" usbhid
        fk_usb_unlock
        # the twin's serial is needed (same ids): not read within the 1 s timeout, the twin is
        # left as it is, and the pass goes on
        rm "$STATE/usb-3-1.2"
        fk "$FK_OP" write "$ROOT/sys/bus/usb/drivers_probe" 3-1.2:1.0
        sed -i 's/^timeout = 60$/timeout = 5/' "$CONF/vfio-claim.conf" # a bound a serial read makes under load
        fk_usb_lock 3-1.3
        run --separate-stderr fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr timeout 300 $VC_WRAPPER "$UDEV_HELPER" --all
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.2: USB device 0403:6001 kept off the host: 1 interface unbound
vfio-claim-udev: 3-1.3: cannot read the serial number of USB device 0403:6001 within 5 s, which an entry of its ids names: a driver holds the device (probing or resetting it); left as it is"
        assert_equal "$(usb_driver 3-1.2:1.0)" ""
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        [ ! -e "$STATE/usb-3-1.3" ]
        # its add event, the lock still held: the same, within the timeout
        run --separate-stderr uevent add 3-1.3
        assert_success
        assert_equal "$stderr" "vfio-claim-udev: 3-1.3: cannot read the serial number of USB device 0403:6001 within 5 s, which an entry of its ids names: a driver holds the device (probing or resetting it); left as it is"
        assert_equal "$(usb_driver 3-1.3:1.0)" ftdi_sio
        fk_usb_unlock
}
