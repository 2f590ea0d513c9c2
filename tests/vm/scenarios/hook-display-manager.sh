# A display manager on a single-GPU host, on the real kernel with a real systemd (issue 13
# items 7, 8 and 9): a systemd unit stands in for the display manager and holds the lab's VGA
# (bochs-drm) open through its /dev/dri/cardN. Booted with console=tty0 (the CI's run of this
# scenario: `--append "console=tty0 console=ttyS0"`, so tty0 is among the kernel's consoles and
# fbcon on bochs-drm's framebuffer drives it), the hook refuses the start without
# "console = handoff", naming the console, before anything moves. With "console = handoff" but no
# "stop =" it refuses naming the holder. With "console = handoff" and "stop = vc-dm.service" the
# hook stops the unit through systemd's D-Bus API, unbinds the VT consoles from the framebuffer
# and the group goes to the nested VM; `virsh destroy` gives it back: bochs-drm and
# snd_hda_intel, the consoles bound as before, the unit running again.
# Booted with the console on ttyS0 alone, the console refusal is skipped (nothing drives tty0).
# Not shown here: a firmware framebuffer (the guest boots without one).
# Nested TCG: a `virsh start` takes 80-110 s.

for _c in virsh vfio-claim systemctl; do
        command -v "$_c" >/dev/null || { vc_skip "no $_c in this guest (needs the Debian route)"; exit 0; }
done
[ -x /etc/libvirt/hooks/qemu.d/vfio-claim ] ||
        { vc_skip "the hook /etc/libvirt/hooks/qemu.d/vfio-claim is not installed"; exit 0; }

vga=$(vc_find1 1234:1111); hda=$(vc_find1 8086:293e)
[ -n "$vga" ] && [ -n "$hda" ] || { vc_not_ok "topology incomplete: vga=$vga hda=$hda"; exit 1; }
g=$(vc_group "$vga")
bus=$(echo "$vga" | cut -d: -f2); slot=$(echo "$vga" | cut -d: -f3 | cut -d. -f1)
card=$(ls "/sys/bus/pci/devices/$vga/drm" 2>/dev/null | grep '^card' | head -n1)
[ -n "$card" ] || { vc_not_ok "$vga (bochs-drm) has no DRM card node"; exit 1; }

expect_driver() { # ADDR DRIVER WHAT
        _got=$(vc_driver "$1")
        [ "$_got" = "$2" ] && vc_ok "$3: $1 on ${2:-no driver}" ||
                vc_not_ok "$3: $1 expected on '${2:-no driver}', found '${_got:-no driver}'"
}
vt_binds() { for _v in /sys/class/vtconsole/vtcon*; do printf '%s=%s ' "${_v##*/}" "$(cat "$_v/bind")"; done; }
# Is a VT console other than the dummy bound? (fbcon on bochs-drm's framebuffer: on Linux 6.1 its
# vtconsole entry goes away with the framebuffer and comes back bound with it.)
fbcon_bound() {
        for _v in /sys/class/vtconsole/vtcon*; do
                grep -q 'dummy device' "$_v/name" 2>/dev/null || [ "$(cat "$_v/bind" 2>/dev/null)" != 1 ] || return 0
        done
        return 1
}
dm_holds() { # the unit's process has the card open
        _pid=$(systemctl show -P MainPID vc-dm.service)
        [ "${_pid:-0}" != 0 ] && ls -l "/proc/$_pid/fd" 2>/dev/null | grep -q " /dev/dri/$card\$"
}

cat >/run/systemd/system/vc-dm.service <<EOU
[Unit]
Description=vfio-claim lab: a stand-in for a display manager, holding /dev/dri/$card open
[Service]
ExecStart=/bin/sh -c 'exec 3</dev/dri/$card; exec sleep infinity'
EOU
systemctl daemon-reload
vc_check "start vc-dm.service" systemctl start vc-dm.service
vc_wait 30 dm_holds && vc_ok "vc-dm.service holds /dev/dri/$card" || vc_not_ok "vc-dm.service does not hold /dev/dri/$card"
vt_before=$(vt_binds)
fb_before=$(fbcon_bound && echo yes)
echo "VT consoles before: $vt_before ($(cat /sys/class/vtconsole/vtcon*/name | tr '\n' ' '))"

vc_vm_xml vc-dm "<hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x0'/></source>
    </hostdev>"
vc_wait 120 virsh -q list || vc_not_ok "libvirt does not answer"
vc_check_for 120 "define vc-dm" virsh -q define /tmp/vc-dm.xml
mkdir -p /etc/vfio-claim/conf.d

# refused START_WHAT MESSAGE_REGEX: `virsh start vc-dm` fails naming MESSAGE_REGEX and nothing
# moved (the drivers, the consoles, the unit, no record).
refused() {
        out=$(timeout -s KILL 240 virsh start vc-dm 2>&1); rc=$?
        echo "virsh start vc-dm ($1) -> exit $rc: $out"
        [ $rc -ne 0 ] && vc_ok "$1: virsh start refused" || vc_not_ok "$1: vc-dm started"
        echo "$out" | grep -qE "$2" && vc_ok "$1: virsh's error names the reason" ||
                vc_not_ok "$1: virsh's error does not match /$2/"
        expect_driver "$vga" bochs-drm "$1, after the refusal"
        expect_driver "$hda" snd_hda_intel "$1, after the refusal"
        systemctl is-active -q vc-dm.service && vc_ok "$1: vc-dm.service still runs" ||
                vc_not_ok "$1: vc-dm.service stopped"
        [ "$(vt_binds)" = "$vt_before" ] && vc_ok "$1: the VT consoles as before" ||
                vc_not_ok "$1: VT consoles now $(vt_binds), before $vt_before"
        [ ! -e "/run/vfio-claim/group-$g" ] && vc_ok "$1: no record" ||
                vc_not_ok "$1: record left: $(cat "/run/vfio-claim/group-$g")"
}

# The boot VGA drives the console the admin may be using: refused unless handed over.
echo "kernel consoles: $(cat /sys/class/tty/console/active)"
if grep -qw tty0 /sys/class/tty/console/active && [ -n "$fb_before" ]; then
        printf '[device display]\nmatch = 1234:1111\n' >/etc/vfio-claim/conf.d/display.conf
        refused "console on the VGA, no console = handoff" "$vga.*boot VGA driving the active console"
else
        vc_skip "tty0 is not among the kernel's consoles or no framebuffer console is bound (boot with console=tty0)"
fi

# Handed over but held open: the holder refuses the start (exit 4 of the hook), before anything
# moves.
printf '[device display]\nmatch = 1234:1111\nconsole = handoff\n' >/etc/vfio-claim/conf.d/display.conf
refused "held open" "/dev/dri/$card is open by sleep \(pid [0-9]+\); stop them first"

# Handed over: the unit stops, the consoles let go, the group goes to the VM.
printf '[device display]\nmatch = 1234:1111\nconsole = handoff\nstop = vc-dm.service\n' \
        >/etc/vfio-claim/conf.d/display.conf
vc_check "configuration valid" vfio-claim check-config
out=$(timeout -s KILL 240 virsh start vc-dm 2>&1); rc=$?
echo "virsh start vc-dm (stop = vc-dm.service) -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "virsh start vc-dm with stop = and console = handoff" || vc_not_ok "virsh start vc-dm: $out"
expect_driver "$vga" vfio-pci "vc-dm running"
expect_driver "$hda" vfio-pci "vc-dm running (audio)"
systemctl is-active -q vc-dm.service && vc_not_ok "vc-dm.service still runs while the VM has the GPU" ||
        vc_ok "vc-dm.service stopped while the VM has the GPU"
grep -qx 'stopped vc-dm.service' "/run/vfio-claim/group-$g" && vc_ok "the record lists the stopped unit" ||
        vc_not_ok "the record does not list vc-dm.service: $(cat "/run/vfio-claim/group-$g" 2>&1)"
echo "VT consoles with the VM running: $(vt_binds)"
if [ -n "$fb_before" ]; then
        fbcon_bound && vc_not_ok "a framebuffer console is still bound: $(vt_binds)" ||
                vc_ok "the framebuffer console let go"
else
        vc_skip "no framebuffer console was bound before ($vt_before)"
fi

out=$(timeout -s KILL 120 virsh destroy vc-dm 2>&1) && vc_ok "virsh destroy vc-dm" || vc_not_ok "virsh destroy: $out"
vc_wait 30 systemctl is-active -q vc-dm.service
expect_driver "$vga" bochs-drm "vc-dm stopped"
expect_driver "$hda" snd_hda_intel "vc-dm stopped"
[ "$(vt_binds)" = "$vt_before" ] && vc_ok "the VT consoles are bound as before: $vt_before" ||
        vc_not_ok "VT consoles after: $(vt_binds), before: $vt_before"
systemctl is-active -q vc-dm.service && vc_ok "vc-dm.service runs again" || vc_not_ok "vc-dm.service did not start again"
vc_wait 30 dm_holds && vc_ok "vc-dm.service holds /dev/dri/$card again" ||
        vc_not_ok "vc-dm.service does not hold /dev/dri/$card"
[ ! -e "/run/vfio-claim/group-$g" ] && vc_ok "no record left" || vc_not_ok "record left: $(cat "/run/vfio-claim/group-$g")"

virsh -q undefine vc-dm >/dev/null 2>&1
systemctl stop vc-dm.service
rm -f /run/systemd/system/vc-dm.service /etc/vfio-claim/conf.d/display.conf
systemctl daemon-reload
