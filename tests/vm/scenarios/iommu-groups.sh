# The guest kernel has an active IOMMU and the topology's groups.
[ -d /sys/class/iommu ] && [ -n "$(ls /sys/class/iommu)" ] &&
        vc_ok "IOMMU registered: $(ls /sys/class/iommu | tr '\n' ' ')" ||
        vc_not_ok "no IOMMU in /sys/class/iommu"
n=$(ls /sys/kernel/iommu_groups | wc -l)
[ "$n" -gt 0 ] && vc_ok "$n IOMMU groups" || vc_not_ok "no IOMMU groups"
for g in $(ls /sys/kernel/iommu_groups | sort -n); do
        for d in $(ls /sys/kernel/iommu_groups/$g/devices); do
                echo "group $g: $d $(cat $SYS_PCI/devices/$d/vendor):$(cat $SYS_PCI/devices/$d/device) class $(cat $SYS_PCI/devices/$d/class) driver $(vc_driver $d)"
        done
done
# The display+audio slot is one group; the bridge shares its group with both NICs.
vga=$(vc_find1 1234:1111); hda=$(vc_find1 8086:293e)
[ -n "$vga" ] && [ -n "$hda" ] && [ "$(vc_group "$vga")" = "$(vc_group "$hda")" ] &&
        vc_ok "display $vga and audio $hda share group $(vc_group "$vga")" ||
        vc_not_ok "display ($vga) and audio ($hda) not in one group"
br=$(vc_find1 1b36:000e); e1k=$(vc_find1 8086:100e); rtl=$(vc_find1 10ec:8139)
[ -n "$br" ] && [ "$(vc_group "$br")" = "$(vc_group "$e1k")" ] && [ "$(vc_group "$br")" = "$(vc_group "$rtl")" ] &&
        vc_ok "bridge $br, e1000 $e1k and rtl8139 $rtl share group $(vc_group "$br")" ||
        vc_not_ok "bridge ($br), e1000 ($e1k), rtl8139 ($rtl) not in one group"
grep -q ' / ext4' /proc/mounts && vc_ok "root filesystem on $(awk '$2=="/"{print $1}' /proc/mounts)" ||
        vc_not_ok "/ is not the ext4 root disk"
ip route | grep -q '^default' && vc_ok "default route: $(ip route | grep '^default')" ||
        vc_not_ok "no default route"
