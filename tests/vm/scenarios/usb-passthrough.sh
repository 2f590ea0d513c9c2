# vc-host: usb-stick
# A USB device to a nested VM and back (Debian route, issue 13 item 6): the host's QEMU plugs a
# usb-storage stick (46f4:0001) into the lab guest's xHCI. A [usb stick] entry with vm =,
# `vfio-claim enable stick` takes its interface off usb-storage, `vfio-claim add` writes the
# <hostdev type='usb'>, stock `virsh start` gives it to the nested QEMU (its own "info usb"
# lists it and it holds the device node). The host pulls the stick out and plugs it back while
# the VM runs: the generated udev rule starts vfio-claim-usb-reattach@PORT.service, which
# detaches what the VM had at the old address and attaches the stick again. After `virsh destroy`, `vfio-claim disable stick` gives it back
# to usb-storage. Nested TCG: a `virsh start` takes 80-110 s under load.

for _c in virsh vfio-claim systemctl journalctl; do
        command -v "$_c" >/dev/null || { vc_skip "no $_c in this guest (needs the Debian route)"; exit 0; }
done
[ -x /etc/libvirt/hooks/qemu.d/vfio-claim ] ||
        { vc_skip "the hook /etc/libvirt/hooks/qemu.d/vfio-claim is not installed"; exit 0; }
SYS_USB=/sys/bus/usb/devices
vm=vc-usb

stick_port() { vc_usb_stick_port; }
usb_driver() { vc_usb_driver "$1"; }
dev_node() { printf '/dev/bus/usb/%03d/%03d' "$(cat "$SYS_USB/$1/busnum")" "$(cat "$SYS_USB/$1/devnum")"; }
qemu_holds_node() { # NODE: the VM's QEMU has NODE open
        _pid=$(cat "/run/libvirt/qemu/$vm.pid" 2>/dev/null) || return 1
        ls -l "/proc/$_pid/fd" 2>/dev/null | grep -q " $1\$"
}
info_usb() { timeout -s KILL 120 virsh qemu-monitor-command --hmp "$vm" 'info usb' 2>&1 | tr -d '\r'; }
stick_in_vm() { info_usb | grep -q 'Product QEMU USB HARDDRIVE'; }
live_lists() { # BUS DEVICE: the VM's live XML has a USB hostdev at that address
        virsh dumpxml "$vm" | tr -d '\n' | grep -q "<hostdev mode='subsystem' type='usb'[^>]*>[^h]*<vendor id='0x46f4'/>[^h]*<product id='0x0001'/>[^h]*<address bus='$1' device='$2'/>"
}

vc_wait 60 stick_port || { vc_not_ok "no USB stick 46f4:0001 in $SYS_USB (run-debian.sh plugs it for '# vc-host: usb-stick')"; exit 1; }
port=$(stick_port); intf=$port:1.0
echo "the stick: port $port, $(dev_node "$port"), product '$(cat "$SYS_USB/$port/product")'"
vc_wait 30 test "$(usb_driver "$intf")" = usb-storage
[ "$(usb_driver "$intf")" = usb-storage ] && vc_ok "before: interface $intf on usb-storage" ||
        { vc_not_ok "before: interface $intf on '$(usb_driver "$intf")', not usb-storage"; exit 1; }

mkdir -p /etc/vfio-claim/conf.d
printf '[usb stick]\nmatch = 46f4:0001\nvm = %s\n' "$vm" >/etc/vfio-claim/conf.d/usb-stick.conf
vc_check "configuration with [usb stick] valid" vfio-claim check-config
vc_define_vm "$vm" && vc_ok "defined $vm" || vc_not_ok "cannot define $vm"

# --- enable: off the host driver, recorded
out=$(timeout -s KILL 60 vfio-claim enable stick 2>&1); rc=$?
echo "vfio-claim enable stick -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "vfio-claim enable stick" || vc_not_ok "vfio-claim enable stick: exit $rc"
[ -z "$(usb_driver "$intf")" ] && vc_ok "enabled: interface $intf has no driver" ||
        vc_not_ok "enabled: interface $intf on '$(usb_driver "$intf")'"
[ -e "/run/vfio-claim/usb-$port" ] && vc_ok "enabled: record /run/vfio-claim/usb-$port" ||
        vc_not_ok "enabled: no record /run/vfio-claim/usb-$port ($(ls /run/vfio-claim 2>&1 | tr '\n' ' '))"
grep -q "46f4/1/" /run/udev/rules.d/70-vfio-claim.rules 2>/dev/null &&
        vc_ok "the generated udev rule names the stick" ||
        vc_not_ok "the generated udev rule lacks 46f4/1: $(cat /run/udev/rules.d/70-vfio-claim.rules 2>&1)"

# --- add: the stopped VM's definition gets the hostdev
out=$(timeout -s KILL 60 vfio-claim add "$vm" stick 2>&1); rc=$?
echo "vfio-claim add $vm stick -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "vfio-claim add $vm stick" || vc_not_ok "vfio-claim add $vm stick: exit $rc"
xml=$(virsh dumpxml --inactive "$vm")
echo "$xml" | sed -n "/<hostdev/,/<\/hostdev>/p"
echo "$xml" | tr -d '\n' | grep -q "<hostdev mode='subsystem' type='usb' managed='no'>[^h]*<vendor id='0x46f4'/>[^h]*<product id='0x0001'/>" &&
        vc_ok "$vm's definition has <hostdev type='usb'> for 46f4:0001" || vc_not_ok "$vm's definition lacks the USB hostdev"

# --- stock virsh start: the nested QEMU has the stick
node=$(dev_node "$port")
out=$(timeout -s KILL 300 virsh start "$vm" 2>&1); rc=$?
echo "virsh start $vm -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "virsh start $vm" || vc_not_ok "virsh start $vm: exit $rc: $out"
u=$(info_usb); echo "info usb in $vm's QEMU:"; echo "$u"
echo "$u" | grep -q 'Product QEMU USB HARDDRIVE' && vc_ok "$vm's QEMU lists the stick on its USB bus (info usb)" ||
        vc_not_ok "$vm's QEMU does not list the stick (info usb)"
qemu_holds_node "$node" && vc_ok "$vm's QEMU holds $node" || vc_not_ok "$vm's QEMU does not hold $node"
echo "interface $intf driver while $vm runs: '$(usb_driver "$intf")'"

# --- unplugged and plugged back by the host while the VM runs
old_bus=$(cat "$SYS_USB/$port/busnum"); old_dev=$(cat "$SYS_USB/$port/devnum")
vc_host_usb unplug
vc_wait 120 sh -c "! test -e $SYS_USB/$port" && vc_ok "host unplugged the stick: $port gone" ||
        vc_not_ok "$port still there 120 s after the unplug request"
echo "info usb after the unplug:"; info_usb
vc_host_usb plug
vc_wait 120 stick_port && vc_ok "host plugged the stick back: at $(stick_port)" ||
        vc_not_ok "no stick 120 s after the plug request"
port2=$(stick_port)
[ "$port2" = "$port" ] && vc_ok "same port $port" || vc_not_ok "port $port2, not $port"
bus=$(cat "$SYS_USB/$port2/busnum"); dev=$(cat "$SYS_USB/$port2/devnum"); node=$(dev_node "$port2")
echo "replugged: bus $bus device $dev (was $old_bus $old_dev)"
vc_wait 300 live_lists "$bus" "$dev" && vc_ok "$vm's live XML lists the stick at bus $bus device $dev again" ||
        { vc_not_ok "$vm's live XML lacks the stick at bus $bus device $dev"; virsh dumpxml "$vm" | sed -n "/<hostdev/,/<\/hostdev>/p"; }
u=$(info_usb); echo "info usb after the replug:"; echo "$u"
# Once: libvirt keeps the hostdev of the device that was pulled out and its QEMU goes on showing
# it to the guest, so usb-reattach detaches it before attaching the new one.
[ "$(echo "$u" | grep -c 'Product QEMU USB HARDDRIVE')" -eq 1 ] && vc_ok "$vm's QEMU lists the stick again, once (info usb)" ||
        vc_not_ok "$vm's QEMU lists the stick $(echo "$u" | grep -c 'Product QEMU USB HARDDRIVE') times after the replug"
n=$(virsh dumpxml "$vm" | grep -c "<hostdev mode='subsystem' type='usb'")
[ "$n" -eq 1 ] && vc_ok "$vm's live XML has one USB hostdev, the old one detached" ||
        vc_not_ok "$vm's live XML has $n USB hostdevs"
vc_wait 30 qemu_holds_node "$node" && vc_ok "$vm's QEMU holds $node" || vc_not_ok "$vm's QEMU does not hold $node"
j=$(journalctl --no-pager -o cat -u "vfio-claim-usb-reattach@$port.service" 2>&1)
echo "journal of vfio-claim-usb-reattach@$port.service:"; echo "$j"
echo "$j" | grep -q "attached again" && vc_ok "vfio-claim-usb-reattach@$port.service attached it" ||
        vc_not_ok "vfio-claim-usb-reattach@$port.service did not say it attached the stick"
[ "$(usb_driver "$intf")" != usb-storage ] && vc_ok "replugged: interface $intf not on usb-storage ('$(usb_driver "$intf")')" ||
        vc_not_ok "replugged: interface $intf on usb-storage while $vm has it"

# --- destroy, disable: back to usb-storage, no record
out=$(timeout -s KILL 120 virsh destroy "$vm" 2>&1); rc=$?
[ $rc -eq 0 ] && vc_ok "virsh destroy $vm" || vc_not_ok "virsh destroy $vm: $out"
out=$(timeout -s KILL 60 vfio-claim disable stick 2>&1); rc=$?
echo "vfio-claim disable stick -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "vfio-claim disable stick" || vc_not_ok "vfio-claim disable stick: exit $rc"
vc_wait 30 test "$(usb_driver "$intf")" = usb-storage
[ "$(usb_driver "$intf")" = usb-storage ] && vc_ok "disabled: interface $intf on usb-storage again" ||
        vc_not_ok "disabled: interface $intf on '$(usb_driver "$intf")'"
[ ! -e "/run/vfio-claim/usb-$port" ] && vc_ok "disabled: no record left" ||
        vc_not_ok "disabled: record left: $(cat "/run/vfio-claim/usb-$port")"
vc_wait 30 sh -c "ls $SYS_USB/$intf/host*/target*/*/block" && vc_ok "the kernel has its disk again ($(ls "$SYS_USB/$intf"/host*/target*/*/block 2>/dev/null))" ||
        vc_not_ok "no block device under $intf after disable"

virsh -q undefine "$vm" >/dev/null 2>&1
rm -f /etc/vfio-claim/conf.d/usb-stick.conf
