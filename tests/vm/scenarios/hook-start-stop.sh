# The libvirt hook with a real libvirtd (Debian route): `vfio-claim add` puts the display+audio
# group into a defined nested domain, stock `virsh start` claims the group and the nested QEMU
# holds /dev/vfio/N, a second domain asking for the same device is refused with the hook's
# message in virsh's error, the running domain survives `systemctl restart libvirtd`
# (reconnect), and `virsh destroy` gives the group back to bochs-drm and snd_hda_intel. A domain
# asking for the default-route NIC is refused (protect) and nothing moves. QEMU's own "info pci"
# shows the display and audio functions as functions 0 and 1 of one guest slot (issue 12 item 7).
# Needs libvirtd, virsh and the hook in the guest; skips (and says why) without them.
# Nested TCG: a `virsh start` takes 80-110 s.

for _c in virsh vfio-claim systemctl; do
        command -v "$_c" >/dev/null || { vc_skip "no $_c in this guest (needs the Debian route)"; exit 0; }
done
[ -x /etc/libvirt/hooks/qemu.d/vfio-claim ] ||
        { vc_skip "the hook /etc/libvirt/hooks/qemu.d/vfio-claim is not installed"; exit 0; }
daemon=libvirtd
systemctl is-active -q virtqemud 2>/dev/null && daemon=virtqemud

vga=$(vc_find1 1234:1111); hda=$(vc_find1 8086:293e)
[ -n "$vga" ] && [ -n "$hda" ] || { vc_not_ok "topology incomplete: vga=$vga hda=$hda"; exit 1; }
g=$(vc_group "$vga")

expect_driver() { # ADDR DRIVER WHAT
        _got=$(vc_driver "$1")
        [ "$_got" = "$2" ] && vc_ok "$3: $1 on ${2:-no driver}" ||
                vc_not_ok "$3: $1 expected on '${2:-no driver}', found '${_got:-no driver}'"
}
record_owner() { sed -n 's/^owner //p' "/run/vfio-claim/group-$1" 2>/dev/null; }
qemu_holds() { # DOMAIN GROUP: the domain's QEMU has /dev/vfio/GROUP open
        _pid=$(cat "/run/libvirt/qemu/$1.pid" 2>/dev/null) || return 1
        ls -l "/proc/$_pid/fd" 2>/dev/null | grep -q " /dev/vfio/$2\$"
}
define() { vc_define_vm "$@"; } # NAME [DEVICES-XML]

mkdir -p /etc/vfio-claim/conf.d
printf '[device display]\nmatch = 1234:1111\n' >/etc/vfio-claim/conf.d/display.conf
vc_check "configuration valid" vfio-claim check-config
# libvirtd notices a new hook only when it starts.
# A restart under nested TCG on a loaded host took more than the 10 s step bound (killed while
# the daemon came up): a generous bound of its own.
vc_check_for 300 "restart $daemon" systemctl restart "$daemon"
vc_wait 120 virsh -q list || vc_not_ok "$daemon does not answer after the restart"

expect_driver "$vga" bochs-drm "before"
expect_driver "$hda" snd_hda_intel "before"

# --- vfio-claim add on a defined, stopped domain
define vc-a && vc_ok "defined vc-a" || vc_not_ok "cannot define vc-a"
out=$(timeout -s KILL 60 vfio-claim add vc-a "$vga" 2>&1); rc=$?
echo "vfio-claim add vc-a $vga -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "vfio-claim add vc-a $vga" || vc_not_ok "vfio-claim add vc-a $vga: exit $rc"
xml=$(virsh dumpxml --inactive vc-a)
for a in "$vga" "$hda"; do
        b=$(echo "$a" | cut -d: -f2); s=$(echo "$a" | cut -d: -f3 | cut -d. -f1); f=${a##*.}
        echo "$xml" | grep -q "<address domain='0x0000' bus='0x$b' slot='0x$s' function='0x$f'/>" &&
                vc_ok "vc-a's definition passes $a through" || vc_not_ok "vc-a's definition lacks $a"
done
[ "$(echo "$xml" | grep -c "<hostdev mode='subsystem' type='pci' managed='no'>")" -eq 2 ] &&
        vc_ok "two managed='no' hostdevs, the bridge-free group" || vc_not_ok "expected 2 hostdevs: $xml"
out=$(timeout -s KILL 60 vfio-claim add vc-a "$vga" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(virsh dumpxml --inactive vc-a | grep -c '<hostdev ')" -eq 2 ] &&
        vc_ok "add again: nothing duplicated ($out)" || vc_not_ok "add again: exit $rc, $out"

# --- protect = yes (the default): the NIC of the default route is refused to a VM. (The VGA is
# not host-critical here: the guest's kernel console is ttyS0 only, no virtual terminal.)
net=$(vc_find1 1af4:1041); ng=$(vc_group "$net")
printf '[device uplink]\nmatch = 1af4:1041\n' >/etc/vfio-claim/conf.d/uplink.conf
nb=$(echo "$net" | cut -d: -f2); ns=$(echo "$net" | cut -d: -f3 | cut -d. -f1)
define vc-net "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x$nb' slot='0x$ns' function='0x0'/></source></hostdev>"
out=$(timeout -s KILL 240 virsh start vc-net 2>&1); rc=$?
echo "virsh start vc-net (protect = yes) -> exit $rc: $out"
[ $rc -ne 0 ] && vc_ok "protect: virsh start vc-net refused" || vc_not_ok "protect: vc-net started with the host's uplink"
echo "$out" | grep -qF "$net: refused: NIC of the default route" &&
        vc_ok "protect: virsh shows the hook's reason" || vc_not_ok "protect: virsh's error lacks the hook's reason"
expect_driver "$net" virtio-pci "protect: nothing moved"
[ ! -e "/run/vfio-claim/group-$ng" ] && vc_ok "protect: no record left" || vc_not_ok "protect: a record was left"
virsh -q undefine vc-net >/dev/null 2>&1
rm -f /etc/vfio-claim/conf.d/uplink.conf

# --- stock virsh start: the hook claims the group, QEMU holds it
out=$(timeout -s KILL 240 virsh start vc-a 2>&1); rc=$?
echo "virsh start vc-a -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "virsh start vc-a" || vc_not_ok "virsh start vc-a: exit $rc: $out"
expect_driver "$vga" vfio-pci "vc-a running"
expect_driver "$hda" vfio-pci "vc-a running"
[ "$(record_owner "$g")" = vc-a ] && vc_ok "group $g recorded as owned by vc-a" ||
        vc_not_ok "group $g owner: '$(record_owner "$g")'"
qemu_holds vc-a "$g" && vc_ok "vc-a's QEMU holds /dev/vfio/$g" || vc_not_ok "vc-a's QEMU does not hold /dev/vfio/$g"

# --- one guest slot for one card, as QEMU itself sees it: HMP "info pci" prints each device as
# "Bus B, device D, function F:" followed by its class/IDs line and, for a device with a qdev id,
# 'id "hostdevN"' (libvirt's alias). Both vfio-pci devices must be functions 0 and 1 of one slot.
pci=$(timeout -s KILL 120 virsh qemu-monitor-command --hmp vc-a 'info pci' 2>&1); rc=$?
echo "virsh qemu-monitor-command --hmp vc-a 'info pci' -> exit $rc:"; echo "$pci"
slots=$(echo "$pci" | tr -d '\r' | awk '
        /Bus +[0-9]+, device +[0-9]+, function +[0-9]+:/ {
                loc = $0; sub(/^ *Bus +/, "", loc); sub(/:.*/, "", loc); gsub(/ *(device|function) */, "", loc) }
        /id "hostdev[0-9]+"/ { print loc }' | sort)
echo "hostdev guest locations (bus,device,function): $(echo $slots)"
[ "$(echo "$slots" | wc -l)" -eq 2 ] && [ "$(echo "$slots" | cut -d, -f1,2 | sort -u | wc -l)" -eq 1 ] &&
        [ "$(echo "$slots" | cut -d, -f3 | tr '\n' ' ')" = "0 1 " ] &&
        vc_ok "QEMU's info pci: the two vfio-pci devices are functions 0 and 1 of one guest slot ($(echo $slots))" ||
        vc_not_ok "QEMU's info pci: hostdevs at '$(echo $slots)', not functions 0 and 1 of one slot"
echo "$pci" | grep -q 'PCI device 1234:1111' && echo "$pci" | grep -q 'PCI device 8086:293e' &&
        vc_ok "QEMU's info pci shows the display (1234:1111) and audio (8086:293e) functions" ||
        vc_not_ok "QEMU's info pci lacks 1234:1111 or 8086:293e"

# --- add/remove refuse a running domain
timeout -s KILL 60 vfio-claim add vc-a "$vga" >/dev/null 2>&1; rc=$?
[ $rc -eq 4 ] && vc_ok "vfio-claim add on running vc-a: exit 4" || vc_not_ok "vfio-claim add on running vc-a: exit $rc"

# --- a second domain asking for the same device is refused, with the hook's words
define vc-b "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x$(echo "$vga" | cut -d: -f2)' slot='0x$(echo "$vga" | cut -d: -f3 | cut -d. -f1)' function='0x0'/></source></hostdev>"
out=$(timeout -s KILL 240 virsh start vc-b 2>&1); rc=$?
echo "virsh start vc-b -> exit $rc: $out"
[ $rc -ne 0 ] && vc_ok "virsh start vc-b refused" || vc_not_ok "vc-b started although vc-a holds group $g"
echo "$out" | grep -qF "vfio-claim: $vga (IOMMU group $g) is in use by VM \"vc-a\"" &&
        vc_ok "virsh shows the hook's reason" || vc_not_ok "virsh's error lacks the hook's reason"
expect_driver "$vga" vfio-pci "after the refused start"
qemu_holds vc-a "$g" && vc_ok "vc-a still holds /dev/vfio/$g" || vc_not_ok "vc-a lost /dev/vfio/$g"

# --- reconnect: restarting the daemon must not kill the running domain
vc_check_for 300 "restart $daemon with vc-a running" systemctl restart "$daemon"
vc_wait 120 virsh -q list
[ "$(virsh domstate vc-a 2>&1)" = running ] && vc_ok "vc-a survives the restart (reconnect)" ||
        vc_not_ok "vc-a after the restart: $(virsh domstate vc-a 2>&1)"
qemu_holds vc-a "$g" && vc_ok "vc-a still holds /dev/vfio/$g after reconnect" ||
        vc_not_ok "/dev/vfio/$g not held after reconnect"

# --- virsh destroy: the group goes back and the host drivers work again
out=$(timeout -s KILL 120 virsh destroy vc-a 2>&1); rc=$?
[ $rc -eq 0 ] && vc_ok "virsh destroy vc-a" || vc_not_ok "virsh destroy vc-a: $out"
vc_wait 10 test "$(vc_driver "$hda")" = snd_hda_intel
expect_driver "$vga" bochs-drm "vc-a stopped"
expect_driver "$hda" snd_hda_intel "vc-a stopped"
for a in "$vga" "$hda"; do
        [ "$(vc_override "$a")" = "(null)" ] && vc_ok "vc-a stopped: $a driver_override cleared" ||
                vc_not_ok "vc-a stopped: $a driver_override '$(vc_override "$a")'"
done
[ ! -e "/run/vfio-claim/group-$g" ] && vc_ok "vc-a stopped: record of group $g removed" ||
        vc_not_ok "vc-a stopped: record left: $(cat "/run/vfio-claim/group-$g")"
vc_wait 10 ls -d "$SYS_PCI/devices/$vga"/drm/card* && vc_ok "bochs-drm registered its card again" ||
        vc_not_ok "no DRM card for $vga after the release"
vc_wait 10 ls -d "$SYS_PCI/devices/$hda"/sound/card* && vc_ok "snd_hda_intel registered its card again" ||
        vc_not_ok "no sound card for $hda after the release"

# --- remove takes the whole group out again
out=$(timeout -s KILL 60 vfio-claim remove vc-a "$hda" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(virsh dumpxml --inactive vc-a | grep -c '<hostdev ')" -eq 0 ] &&
        vc_ok "vfio-claim remove vc-a $hda: no hostdev left" || vc_not_ok "remove: exit $rc, $out"

virsh -q undefine vc-a >/dev/null 2>&1; virsh -q undefine vc-b >/dev/null 2>&1
rm -f /etc/vfio-claim/conf.d/display.conf
