# The busybox-route part of `make demo`: one group claimed, shown and given
# back, with short explanations. (The boot-time claim and the nested VM with
# virsh need the Debian route; see README.)
say() { echo; echo ">>> $*"; }
run() { echo "\$ $*"; "$@" 2>&1 | sed 's/^/    /'; }

has_verb() { vfio-claim --help 2>&1 | grep -qE "^[[:space:]]+$1([[:space:]]|\$)"; }
[ "$VC_CLAIM_WITH" = cli ] || { has_verb enable && has_verb release && VC_CLAIM_WITH=cli; }

say "This guest runs Debian's kernel $(uname -r) with an emulated Intel IOMMU."
say "The IOMMU puts devices that can reach each other's memory into one group;"
echo "    a VM can only get whole groups. These are the groups here:"
if has_verb list && vfio-claim list >/tmp/list.txt 2>&1 && [ -s /tmp/list.txt ]; then
        sed 's/^/    /' /tmp/list.txt
else
        for g in $(ls /sys/kernel/iommu_groups | sort -n); do
                echo "    group $g: $(for d in $(ls /sys/kernel/iommu_groups/$g/devices); do
                        printf '%s(%s) ' "$d" "$(vc_driver "$d")"; done)"
        done
fi
vga=$(vc_find1 1234:1111); hda=$(vc_find1 8086:293e); g=$(vc_group "$vga")
say "The display $vga and its audio function $hda share group $g, like a GPU and"
echo "    its HDMI audio. Now they are on their host drivers:"
run ls -l "$SYS_PCI/devices/$vga/driver" "$SYS_PCI/devices/$hda/driver"

if [ "$VC_CLAIM_WITH" = cli ]; then
        say "Claim the group with vfio-claim (it prints what happens to each member):"
        run vfio-claim enable "$vga"
else
        say "vfio-claim cannot claim yet in this build, so the same steps by hand, for"
        echo "    each endpoint: driver_override=vfio-pci, unbind, drivers_probe, verify:"
        run vc_claim_sysfs "$vga"
fi
say "Both functions are on vfio-pci and the group's device node exists:"
run ls -l "$SYS_PCI/devices/$vga/driver" "$SYS_PCI/devices/$hda/driver" "/dev/vfio/$g"
say "What QEMU would do with it: open the group, check it is viable, map DMA:"
run "$VC_LIB/vfio-group-status" "$g" "$vga"

say "Give the group back to the host drivers:"
if [ "$VC_CLAIM_WITH" = cli ]; then run vfio-claim release "$vga"; else run vc_release_sysfs "$vga"; fi
run ls -l "$SYS_PCI/devices/$vga/driver" "$SYS_PCI/devices/$hda/driver"
[ "$(vc_driver "$vga")" = bochs-drm ] && [ "$(vc_driver "$hda")" = snd_hda_intel ] &&
        vc_ok "display+audio claimed and given back" || vc_not_ok "display+audio not back on their drivers"
