# vc-host: usb-kbd
# The console the admin is using keeps a keyboard (lib/critical.h, vfio-claim(8) SAFETY), on the
# real kernel: the host's QEMU plugs a USB keyboard (usb-kbd, 0627:0001) into the lab guest's
# xHCI; q35 also has a PS/2 keyboard on the i8042. Run from a virtual terminal (its controlling
# terminal tty5, as for an admin logged in there), a dry-run `vfio-claim enable` of the xHCI is
# not refused for the keyboard while the PS/2 keyboard is there; with the PS/2 keyboard unbound
# from atkbd, the USB keyboard is the console's last one and the enable exits 4 naming it, and
# doctor says the session stands on it. Run outside a terminal (as this scenario runs, and as a
# VM's start does), the same enable is not refused. The real kernel's capabilities of both
# input devices are printed: the tests' keyboard fixtures (tests/unit/test-critical.c) are those.

command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
command -v setsid >/dev/null || { vc_skip "no setsid in this guest"; exit 0; }

usb_keyboard() { # the sys/class/input entry of the USB keyboard
        for _i in /sys/class/input/input*; do
                readlink -f "$_i" | grep -q '/usb[0-9]*/' && grep -qi keyboard "$_i/name" 2>/dev/null &&
                        { echo "$_i"; return 0; }
        done
        return 1
}
at_keyboard() { # the i8042's keyboard entry
        for _i in /sys/class/input/input*; do
                readlink -f "$_i" | grep -q '/i8042/' && grep -qi keyboard "$_i/name" 2>/dev/null &&
                        { echo "$_i"; return 0; }
        done
        return 1
}
vc_wait 60 usb_keyboard || { vc_not_ok "no USB keyboard input device (run-debian.sh plugs usb-kbd for '# vc-host: usb-kbd')"; exit 1; }
kbd=$(usb_keyboard)
xhci=$(readlink -f "$kbd" | tr / '\n' | grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -n1)
name=$(cat "$kbd/name")
echo "the USB keyboard: $(readlink -f "$kbd"), \"$name\", under the xHCI $xhci (group $(vc_group "$xhci"))"
for _k in /sys/class/input/input*; do
        echo "fixture $(basename "$_k") \"$(cat "$_k/name")\" $(readlink -f "$_k"): ev=$(cat "$_k/capabilities/ev") key=$(cat "$_k/capabilities/key")"
done
atkbd=$(at_keyboard) || atkbd=
serio=
[ -n "$atkbd" ] && serio=$(readlink -f "$atkbd" | tr / '\n' | grep -E '^serio[0-9]+$' | tail -n1)

# on_vt OUT CMD...: CMD as a session of its own whose controlling terminal is tty5 (setsid -c makes
# its stdin's terminal the controlling one); output in OUT, exit status returned
on_vt() {
        _o=$1
        shift
        timeout -s KILL 60 setsid -w -c "$@" </dev/tty5 >"$_o" 2>&1
}
# proc(5): the controlling terminal's device number, tty5 (4:5) is 1029
tty_of() { on_vt /tmp/vc-tty sh -c 'cut -d" " -f7 /proc/$$/stat'; cat /tmp/vc-tty; }
[ "$(tty_of)" = 1029 ] && vc_ok "a command run through setsid -c from /dev/tty5 has tty5 as its controlling terminal" ||
        { vc_not_ok "setsid -c did not give tty5 (tty_nr 1029): $(tty_of)"; exit 1; }

keyboard_line="controller of the keyboard of the console this command runs on (tty5: $name)"
if [ -n "$atkbd" ]; then
        on_vt /tmp/vc-out vfio-claim --dry-run --yes enable "$xhci"; rc=$?
        echo "with the PS/2 keyboard, from tty5: vfio-claim --dry-run enable $xhci -> exit $rc: $(cat /tmp/vc-out)"
        grep -qF "keyboard of the console" /tmp/vc-out &&
                vc_not_ok "refused for the keyboard while the PS/2 keyboard stays" ||
                vc_ok "from tty5 with the PS/2 keyboard there: not refused for the USB keyboard (exit $rc)"
        echo "$serio" >/sys/bus/serio/drivers/atkbd/unbind
        vc_wait 30 sh -c '! ls -d /sys/bus/serio/drivers/atkbd/'"$serio"' >/dev/null 2>&1' >/dev/null
fi
at_keyboard >/dev/null && { vc_not_ok "the PS/2 keyboard is still there after atkbd's unbind"; exit 1; }

on_vt /tmp/vc-out vfio-claim --dry-run --yes enable "$xhci"; rc=$?
echo "the USB keyboard the last one, from tty5: exit $rc: $(cat /tmp/vc-out)"
[ $rc -eq 4 ] && grep -qF "$xhci: refused: $keyboard_line" /tmp/vc-out &&
        vc_ok "from tty5, the last keyboard's xHCI is refused with exit 4: $keyboard_line" ||
        vc_not_ok "from tty5: expected exit 4 and '$xhci: refused: $keyboard_line', got exit $rc"
on_vt /tmp/vc-out vfio-claim doctor "$xhci"; rc=$?
grep -qF "$xhci is what this session stands on: $keyboard_line" /tmp/vc-out &&
        vc_ok "doctor from tty5 says the session stands on the xHCI (exit $rc)" ||
        vc_not_ok "doctor from tty5 (exit $rc): $(cat /tmp/vc-out)"
out=$(timeout -s KILL 60 vfio-claim --dry-run --yes enable "$xhci" 2>&1); rc=$?
echo "outside a terminal: exit $rc: $out"
echo "$out" | grep -qF "keyboard of the console" &&
        vc_not_ok "refused for the keyboard outside a terminal" ||
        vc_ok "outside a terminal (a service, a VM's start) the keyboard is no reason (exit $rc)"

if [ -n "$serio" ]; then
        echo "$serio" >/sys/bus/serio/drivers/atkbd/bind
        vc_wait 30 at_keyboard >/dev/null && vc_ok "the PS/2 keyboard is back on atkbd" ||
                vc_not_ok "the PS/2 keyboard did not come back"
fi
