# Facts about the real kernel that the fake kernel (tests/fakekernel) must
# imitate. Each is checked against what Linux 6.1 showed when this scenario
# was written, so a kernel that behaves differently fails here and the fake
# kernel's rules can be revisited. The facts also go back to the host as
# kernel-facts.txt in the run's log dir.
: >/tmp/facts
fact() { # KEY EXPECTED VALUE: record, and compare when EXPECTED is not "-"
        echo "$1: $3" >>/tmp/facts
        if [ "$2" = - ] || [ "$2" = "$3" ]; then vc_ok "$1: $3"
        else vc_not_ok "$1: expected '$2', got '$3'"; fi
}
try_write() { # FILE VALUE -> "rc=N" and the kernel's message, if any
        _e=$(vc_write "$1" "$2" 2>&1); _r=$?
        _e=$(echo "$_e" | sed -n 's/.*write error: //p' | head -n1)
        echo "rc=$_r${_e:+ ($_e)}"
}
P=$SYS_PCI/devices

nic=$(vc_find1 8086:10d3)     # e1000e, alone in its group
vga=$(vc_find1 1234:1111)
hda=$(vc_find1 8086:293e)
br=$(vc_find1 1b36:000e)      # pcie-pci-bridge
[ -n "$nic" ] && [ -n "$vga" ] && [ -n "$hda" ] && [ -n "$br" ] ||
        { vc_not_ok "topology incomplete: e1000e=$nic vga=$vga hda=$hda bridge=$br"; exit 1; }

fact "driver_override-unset-reads" "(null)" "$(vc_override "$nic")"

# --- drivers_probe when the override names a driver that is not loaded -----
if lsmod | grep -q '^vfio_pci '; then
        vc_skip "vfio_pci already loaded; the unloaded-driver facts need a fresh boot"
else
        orig=$(vc_driver "$nic")
        vc_write "$P/$nic/driver_override" vfio-pci
        vc_write "$P/$nic/driver/unbind" "$nic"
        fact "drivers_probe-override-unloaded-driver-result" "rc=0" "$(try_write $SYS_PCI/drivers_probe "$nic")"
        fact "drivers_probe-override-unloaded-driver-bound-to" "(none)" "$(vc_driver "$nic" | grep . || echo '(none)')"
        fact "drivers_probe-loads-the-module" "no" "$(lsmod | grep -q '^vfio_pci ' && echo yes || echo no)"
        vc_write "$P/$nic/driver_override" "
"
        fact "driver_override-after-writing-newline" "(null)" "$(vc_override "$nic")"
        vc_write "$SYS_PCI/drivers_probe" "$nic"
        fact "cleared-override-probe-rebinds" "$orig" "$(vc_driver "$nic")"
fi
fact "drivers_probe-on-bound-device" "rc=0" "$(try_write $SYS_PCI/drivers_probe "$nic")"
fact "unbind-from-wrong-driver" "rc=1 (No such device)" "$(try_write $SYS_PCI/drivers/e1000/unbind "$nic")"
vc_write "$P/$nic/driver_override" e1000
fact "driver_override-set-while-bound-keeps-driver" "e1000e" "$(vc_driver "$nic")"
vc_write "$P/$nic/driver_override" "
"

# --- one function of a two-device group on vfio-pci -------------------------
vc_load_vfio
g=$(vc_group "$vga")
vc_write "$P/$vga/driver_override" vfio-pci
vc_write "$P/$vga/driver/unbind" "$vga"
vc_write "$SYS_PCI/drivers_probe" "$vga"
fact "vga-alone-driver" "vfio-pci" "$(vc_driver "$vga")"
fact "dev-vfio-N-with-one-of-two-bound" "present" "$([ -c /dev/vfio/$g ] && echo present || echo absent)"
fact "vfio-dev-dir-under-device" "present" "$([ -d "$P/$vga/vfio-dev" ] && echo present || echo absent)"
fact "audio-meanwhile-on" "snd_hda_intel" "$(vc_driver "$hda")"
vgs=$VC_LIB/vfio-group-status
if [ -x "$vgs" ]; then
        fact "group-status-with-audio-on-host-driver" "viable=0" "$("$vgs" "$g")"
fi
vc_write "$P/$hda/driver_override" vfio-pci
vc_write "$P/$hda/driver/unbind" "$hda"
vc_write "$SYS_PCI/drivers_probe" "$hda"
fact "dev-vfio-N-with-both-bound" "present" "$([ -c /dev/vfio/$g ] && echo present || echo absent)"
if [ -x "$vgs" ]; then
        fact "group-status-with-both-on-vfio-pci" "viable=1 container=ok iommu=ok dma=ok device=ok" "$("$vgs" "$g" "$vga")"
fi
for a in "$vga" "$hda"; do
        vc_write "$P/$a/driver/unbind" "$a"
        vc_write "$P/$a/driver_override" "
"
        vc_write "$SYS_PCI/drivers_probe" "$a"
done
fact "dev-vfio-N-after-release" "absent" "$([ -c /dev/vfio/$g ] && echo present || echo absent)"
fact "vga-back-on" "bochs-drm" "$(vc_driver "$vga")"
fact "audio-back-on" "snd_hda_intel" "$(vc_driver "$hda")"

# --- vfio-pci and a PCI bridge --------------------------------------------
fact "bridge-driver" "(none)" "$(vc_driver "$br" | grep . || echo '(none)')"
vc_write "$P/$br/driver_override" vfio-pci
fact "bridge-drivers_probe-with-vfio-override" "rc=0" "$(try_write $SYS_PCI/drivers_probe "$br")"
fact "bridge-explicit-bind-to-vfio-pci" "rc=1 (Invalid argument)" "$(try_write $SYS_PCI/drivers/vfio-pci/bind "$br")"
fact "bridge-driver-after" "(none)" "$(vc_driver "$br" | grep . || echo '(none)')"
vc_write "$P/$br/driver_override" "
"
fact "bridge-vfio-pci-probe-error" "-22" "$(dmesg | sed -n "s/.*vfio-pci: probe of $br failed with error //p" | tail -n1)"

# --- reset methods ------------------------------------------------------------
for d in "$P"/*; do
        a=$(basename "$d")
        rm_=$(cat "$d/reset_method" 2>/dev/null || echo "(no reset_method attribute)")
        echo "reset_method $a $(cat "$d/vendor"):$(cat "$d/device"): $rm_" >>/tmp/facts
        echo "reset_method $a $(cat "$d/vendor"):$(cat "$d/device"): $rm_"
done
vc_send kernel-facts.txt /tmp/facts
