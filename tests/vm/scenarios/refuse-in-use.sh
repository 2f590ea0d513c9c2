# vc-host: usb-stick
# Storage in use is refused as the root disk is (lib/critical.h, vfio-claim(8) SAFETY), on the
# real kernel: the host's QEMU plugs a usb-storage stick (46f4:0001) into the lab guest's xHCI.
# With a file system of the stick mounted, `vfio-claim enable` of the xHCI's group, and of the
# stick itself (a USB device), is refused with exit 4 naming the mount point and writes nothing;
# a VM's start that would take it (a [usb] entry with vm =) fails in the libvirt hook, naming it;
# with a device-mapper mapping built on the stick (as an LVM volume group's), the same, naming
# the mapping; with a process reading the stick's disk, both refuse naming the process; with none
# of these, that refusal is gone. With swap on the stick, the initramfs's list names it and the
# boot pass of a [usb] boot = yes entry leaves it to the host, from the live scan and from the
# list. Every claim is a --dry-run or refused: the stick is left on the xHCI for usb-passthrough.

command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
SYS_USB=/sys/bus/usb/devices

stick_disk() { # the stick's block device name (sda), or nothing
        for _b in "$SYS_USB/$(vc_usb_stick_port)":1.0/host*/target*/*/block/*; do
                [ -e "$_b" ] && { basename "$_b"; return 0; }
        done
        return 1
}
vc_wait 60 stick_disk || { vc_not_ok "no block device on the USB stick 46f4:0001 (run-debian.sh plugs it for '# vc-host: usb-stick')"; exit 1; }
port=$(vc_usb_stick_port) disk=$(stick_disk)
# the xHCI: the PCI device the stick hangs under
xhci=$(readlink -f "$SYS_USB/$port" | tr / '\n' | grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -n1)
[ -n "$xhci" ] || { vc_not_ok "no PCI device above the stick: $(readlink -f "$SYS_USB/$port")"; exit 1; }
echo "the stick: port $port, /dev/$disk, under the xHCI $xhci (driver $(vc_driver "$xhci"), group $(vc_group "$xhci"))"

# enable_refused WHAT PATTERN: a dry-run enable of the xHCI exits 4 with a line matching PATTERN
# (stick_refused: the same for the stick itself, a USB device by its port path, lib/usb.h)
enable_refused() { refused_as "$xhci" "the xHCI" "$@"; }
stick_refused() { refused_as "$port" "the stick $port" "$@"; }
refused_as() { # DEVICE NAME WHAT PATTERN
        _out=$(timeout -s KILL 60 vfio-claim --dry-run enable --yes "$1" 2>&1); _rc=$?
        echo "vfio-claim --dry-run enable $1 -> exit $_rc: $_out"
        [ $_rc -eq 4 ] && echo "$_out" | grep -q -- "$4" &&
                vc_ok "$3: enable of $2 refused with exit 4: $(echo "$_out" | grep -o -- "$4.*" | head -n1)" ||
                vc_not_ok "$3: enable of $2: expected exit 4 and '$4', got exit $_rc"
}

out=$(timeout -s KILL 60 vfio-claim --dry-run enable --yes "$xhci" 2>&1)
if echo "$out" | grep -q "mounted at\|in use by"; then
        vc_not_ok "before: the unused stick already counts as in use: $out"
else
        vc_ok "before: nothing of the stick in use, no such refusal"
fi

mkdir -p /mnt/vc-stick
timeout -s KILL 60 mke2fs -q -F -t ext4 "/dev/$disk" >/dev/null 2>&1 &&
        timeout -s KILL 30 mount "/dev/$disk" /mnt/vc-stick ||
        { vc_not_ok "cannot make and mount a file system on /dev/$disk"; exit 1; }
echo data >/mnt/vc-stick/file
enable_refused "mounted" "controller of /dev/$disk, mounted at /mnt/vc-stick"
stick_refused "mounted" "it holds /dev/$disk, mounted at /mnt/vc-stick"
out=$(vfio-claim list 2>&1)
echo "$out" | grep -q "controller of /dev/$disk, mounted at /mnt/vc-stick" &&
        vc_ok "list names the mount as the reason" || vc_not_ok "list does not name the mount: $out"
# a VM's start through stock libvirt: the hook refuses a configured stick that is mounted
if command -v virsh >/dev/null && [ -x /etc/libvirt/hooks/qemu.d/vfio-claim ]; then
        mkdir -p /etc/vfio-claim/conf.d
        printf '[usb inuse]\nmatch = 46f4:0001\nvm = vc-inuse\n' >/etc/vfio-claim/conf.d/inuse.conf
        vc_vm_xml vc-inuse "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><address bus='$(cat "$SYS_USB/$port/busnum")' device='$(cat "$SYS_USB/$port/devnum")'/></source></hostdev>"
        vc_wait 120 virsh -q list || vc_not_ok "libvirt does not answer"
        vc_check_for 120 "define vc-inuse with the stick" virsh -q define /tmp/vc-inuse.xml
        out=$(timeout -s KILL 240 virsh start vc-inuse 2>&1); rc=$?
        echo "virsh start vc-inuse -> exit $rc: $out"
        [ $rc -ne 0 ] && echo "$out" | grep -q "refused: the host needs it: it holds /dev/$disk, mounted at /mnt/vc-stick" &&
                vc_ok "mounted: virsh start of a VM with the stick fails in the hook, naming the mount" ||
                vc_not_ok "mounted: virsh start vc-inuse: exit $rc, no refusal naming the mount"
        [ "$(vc_usb_driver "$port:1.0")" = usb-storage ] && [ ! -e "/run/vfio-claim/usb-$port" ] &&
                vc_ok "mounted: after the refused start the stick is on usb-storage, no record" ||
                vc_not_ok "mounted: after the refused start: driver '$(vc_usb_driver "$port:1.0")', record: $(ls /run/vfio-claim)"
        virsh -q destroy vc-inuse >/dev/null 2>&1
        virsh -q undefine vc-inuse >/dev/null 2>&1
        rm -f /etc/vfio-claim/conf.d/inuse.conf
else
        vc_skip "no libvirt or no hook in this guest"
fi
[ "$(vc_driver "$xhci")" = xhci_hcd ] && [ "$(cat /mnt/vc-stick/file 2>/dev/null)" = data ] &&
        vc_ok "mounted: the xHCI stays on xhci_hcd, the file system readable" ||
        vc_not_ok "mounted: xHCI on '$(vc_driver "$xhci")', file '$(cat /mnt/vc-stick/file 2>&1)'"
timeout -s KILL 30 umount /mnt/vc-stick || vc_not_ok "umount /mnt/vc-stick"

if command -v dmsetup >/dev/null; then
        sectors=$(cat "/sys/class/block/$disk/size")
        if timeout -s KILL 30 dmsetup create vc-stick-lin --table "0 $sectors linear /dev/$disk 0"; then
                enable_refused "a mapping on the stick" "controller of /dev/$disk, in use by dm-[0-9]* (vc-stick-lin)"
                timeout -s KILL 30 dmsetup remove vc-stick-lin || vc_not_ok "dmsetup remove vc-stick-lin"
        else
                vc_not_ok "dmsetup create vc-stick-lin on /dev/$disk"
        fi
else
        vc_skip "no dmsetup in this guest"
fi

# a process reading the disk (a VM's QEMU using it raw keeps no holder in sysfs either)
sleep 600 <"/dev/$disk" &
reader=$!
vc_wait 10 sh -c "readlink /proc/$reader/fd/0 | grep -qx /dev/$disk"
enable_refused "a process holds /dev/$disk open" "/dev/$disk is open by sleep (pid $reader)"
stick_refused "a process holds /dev/$disk open" "/dev/$disk is open by sleep (pid $reader)"
kill "$reader"; wait "$reader" 2>/dev/null

out=$(timeout -s KILL 60 vfio-claim --dry-run enable --yes "$xhci" 2>&1)
echo "after: vfio-claim --dry-run enable $xhci -> $out"
if echo "$out" | grep -q "mounted at\|in use by\|is open by"; then
        vc_not_ok "after: the stick still counts as in use: $out"
else
        vc_ok "after: unmounted, unmapped and closed, the refusal is gone"
fi
# [usb] boot claims (vfio-claim-udev --all, the boot pass) leave the host a stick it needs. Swap on
# the stick is what the host runs on: the list the initramfs generators write names the stick by
# its port, ids and serial; with swap on, the live scan refuses it; with swap not on yet and the
# list carried to /run, as in the initramfs, the list does.
helper=/lib/udev/vfio-claim-udev
if [ -x "$helper" ] && timeout -s KILL 30 mkswap -q "/dev/$disk" >/dev/null 2>&1 &&
        timeout -s KILL 30 swapon "/dev/$disk"; then
        list=$(timeout -s KILL 60 "$helper" --host-critical 2>&1)
        echo "$helper --host-critical, swap on /dev/$disk: $list"
        echo "$list" | grep -qx "usb $port 46f4:0001 vclab0001 controller of swap /dev/$disk" &&
                vc_ok "the initramfs's list names the stick holding swap: usb $port 46f4:0001 vclab0001" ||
                vc_not_ok "no line 'usb $port 46f4:0001 vclab0001 controller of swap /dev/$disk' in the list"
        mkdir -p /etc/vfio-claim/conf.d
        printf '[usb bootstick]\nmatch = 46f4:0001\nboot = yes\n' >/etc/vfio-claim/conf.d/bootstick.conf
        boot_pass_leaves() { # WHAT SUFFIX: the boot pass leaves the stick on usb-storage, saying why
                _out=$(VFIO_CLAIM_LOG=stderr timeout -s KILL 60 "$helper" --all 2>&1); _rc=$?
                echo "$helper --all ($1) -> exit $_rc: $_out"
                echo "$_out" | grep -qF "$port: USB device 46f4:0001 left to the host, which needs it: it holds swap /dev/$disk$2 " &&
                        [ "$(vc_usb_driver "$port:1.0")" = usb-storage ] && [ ! -e "/run/vfio-claim/usb-$port" ] &&
                        vc_ok "$1: the boot pass leaves the stick on usb-storage, saying it holds swap /dev/$disk$2" ||
                        vc_not_ok "$1: the boot pass: driver '$(vc_usb_driver "$port:1.0")', $_out"
        }
        boot_pass_leaves "swap on" ""
        timeout -s KILL 30 swapoff "/dev/$disk" || vc_not_ok "swapoff /dev/$disk"
        carried=/run/vfio-claim/host-critical
        [ -e "$carried" ] && cp "$carried" /tmp/vc-carried
        echo "$list" >"$carried"
        boot_pass_leaves "swap not on, the list carried" " when the initramfs was built"
        rm -f "$carried" /etc/vfio-claim/conf.d/bootstick.conf
        [ -e /tmp/vc-carried ] && mv /tmp/vc-carried "$carried"
else
        vc_not_ok "cannot make and turn on swap on /dev/$disk (or no $helper)"
fi

# what usb-passthrough expects: the stick's interface on usb-storage, nothing of it in use
wipefs -q -a "/dev/$disk" >/dev/null 2>&1 || true
