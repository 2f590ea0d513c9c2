# A virt-manager style domain with the libvirt hook (Debian route): managed='yes', only the VGA
# function of the display+audio slot listed, no `vfio-claim add`. libvirt alone fails here
# ("group is not viable": it binds only the function it is given); with the device configured,
# the hook claims the whole group at prepare and the domain starts. `virsh destroy` gives it
# back. A device reserved for another domain (`vm =`) is refused without starting anything, and
# so is the device when nothing configures it (the hook names the audio function left behind).

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
bus=$(echo "$vga" | cut -d: -f2); slot=$(echo "$vga" | cut -d: -f3 | cut -d. -f1)

expect_driver() { # ADDR DRIVER WHAT
        _got=$(vc_driver "$1")
        [ "$_got" = "$2" ] && vc_ok "$3: $1 on ${2:-no driver}" ||
                vc_not_ok "$3: $1 expected on '${2:-no driver}', found '${_got:-no driver}'"
}
vc_vm_xml vc-vm "<hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x0'/></source>
    </hostdev>"
vc_check "define vc-vm (virt-manager style)" virsh -q define /tmp/vc-vm.xml

mkdir -p /etc/vfio-claim/conf.d
# Reserved for another domain: refused at prepare, nothing moves.
printf '[device display]\nmatch = 1234:1111\nvm = someone-else\n' >/etc/vfio-claim/conf.d/display.conf
vc_check_for 300 "restart $daemon" systemctl restart "$daemon"
vc_wait 120 virsh -q list

# Not configured at all: the hook refuses at prepare, naming the audio function libvirt would
# leave on its host driver and the command that configures the group; nothing moves.
mv /etc/vfio-claim/conf.d/display.conf /etc/vfio-claim/conf.d/display.conf.off
out=$(timeout -s KILL 240 virsh start vc-vm 2>&1); rc=$?
echo "virsh start vc-vm (not configured) -> exit $rc: $out"
[ $rc -ne 0 ] && vc_ok "unconfigured device: virsh start refused" || vc_not_ok "unconfigured device: vc-vm started"
echo "$out" | grep -qF "also holds $hda (snd_hda_intel), which libvirt does not detach; run 'vfio-claim enable $vga'" &&
        vc_ok "virsh shows the members and the command" || vc_not_ok "virsh's error lacks the members or the command"
expect_driver "$hda" snd_hda_intel "after the unconfigured refusal"
mv /etc/vfio-claim/conf.d/display.conf.off /etc/vfio-claim/conf.d/display.conf

out=$(timeout -s KILL 240 virsh start vc-vm 2>&1); rc=$?
echo "virsh start vc-vm (reserved) -> exit $rc: $out"
[ $rc -ne 0 ] && vc_ok "reserved device: virsh start refused" || vc_not_ok "reserved device: vc-vm started"
echo "$out" | grep -qF "is reserved for VM \"someone-else\"" && vc_ok "virsh shows the reservation" ||
        vc_not_ok "virsh's error lacks the reservation"
expect_driver "$vga" bochs-drm "after the refusal"
expect_driver "$hda" snd_hda_intel "after the refusal"

# Configured for any domain: the whole group is claimed although only the VGA is listed.
# (The lab's "GPU" is the boot VGA, but the guest's console is ttyS0 only: it is not host-critical.)
printf '[device display]\nmatch = 1234:1111\n' >/etc/vfio-claim/conf.d/display.conf
out=$(timeout -s KILL 240 virsh start vc-vm 2>&1); rc=$?
echo "virsh start vc-vm -> exit $rc: $out"
[ $rc -eq 0 ] && vc_ok "virsh start vc-vm (managed='yes', VGA only)" || vc_not_ok "virsh start vc-vm: $out"
expect_driver "$vga" vfio-pci "vc-vm running"
expect_driver "$hda" vfio-pci "vc-vm running (audio, not in the XML)"
out=$(timeout -s KILL 120 virsh destroy vc-vm 2>&1) && vc_ok "virsh destroy vc-vm" || vc_not_ok "virsh destroy: $out"
vc_wait 10 test "$(vc_driver "$hda")" = snd_hda_intel
expect_driver "$vga" bochs-drm "vc-vm stopped"
expect_driver "$hda" snd_hda_intel "vc-vm stopped"
[ ! -e "/run/vfio-claim/group-$g" ] && vc_ok "record of group $g removed" || vc_not_ok "record of group $g left"

virsh -q undefine vc-vm >/dev/null 2>&1
rm -f /etc/vfio-claim/conf.d/display.conf
