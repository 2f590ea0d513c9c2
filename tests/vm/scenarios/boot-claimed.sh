# Debian route, after boot-prepare.sh and a reboot: the configured e1000e and the display +
# audio group went to vfio-pci in the initramfs and no host driver ever probed them; every
# other device has its host driver. With --append 'dyndbg="file drivers/base/dd.c +p"' the
# driver core logs every probe, so "never probed" is checked, not only "not bound".
conf=/etc/vfio-claim/conf.d/boot-lab.conf
nic=$(sed -n '/guest-nic/,/^$/s/^match = //p' $conf)
vga=$(sed -n '/display/,/^$/s/^match = //p' $conf)
aud=$(vc_find1 8086:293e)
vc_check "configuration from boot-prepare ($nic, $vga)" test -n "$nic" -a -n "$vga"
for a in $nic $vga $aud; do
        vc_check "$a is on vfio-pci" test "$(vc_driver $a)" = vfio-pci
        vc_check "/dev/vfio/$(vc_group $a) exists" test -e "/dev/vfio/$(vc_group $a)"
done
for twin in $(vc_find 8086:10d3); do
        [ "$twin" = "$nic" ] || vc_check "the identical e1000e $twin is on e1000e" test "$(vc_driver $twin)" = e1000e
done
dmesg > /tmp/dmesg.txt
if grep -q 'really_probe: probing driver' /tmp/dmesg.txt; then
        for p in "e1000e $nic" "bochs-drm $vga" "snd_hda_intel $aud"; do
                set -- $p
                if grep -q "probing driver $1 with device $2" /tmp/dmesg.txt; then
                        grep "probing driver $1 with device $2" /tmp/dmesg.txt
                        vc_not_ok "$1 probed $2"
                else
                        vc_ok "$1 never probed $2"
                fi
        done
else
        vc_skip "no driver-core probe messages (boot with dyndbg=\"file drivers/base/dd.c +p\")"
fi
first=$(grep -n 'vfio-claim.*driver_override set to vfio-pci' /tmp/dmesg.txt | head -n1 | cut -d: -f1)
root=$(grep -n 'EXT4-fs (vda): mounted' /tmp/dmesg.txt | head -n1 | cut -d: -f1)
# Needs a boot through the initramfs that dracut -f rebuilt in boot-prepare (run-debian.sh boots
# it after the prepare's power-off); with the image's own initramfs this check fails, and rightly:
# the claim then happens after the root is mounted (the early unit), not in the initramfs.
vc_check "the overrides were set in the initramfs (kernel log line ${first:-none}, root mounted at line $root)" \
        test -n "$first" -a -n "$root" -a "${first:-0}" -lt "${root:-0}"
for a in $(ls /sys/bus/pci/devices); do
        case " $nic $vga $aud " in *" $a "*) continue ;; esac
        vc_is_bridge "$a" && continue
        cls=$(cat /sys/bus/pci/devices/$a/class)
        case $cls in 0x0600*|0x0604*) continue ;; esac # host bridge, PCI bridges
        [ -n "$(vc_driver $a)" ] || { vc_not_ok "$a ($cls) has no driver"; continue; }
        [ "$(vc_driver $a)" != vfio-pci ] || vc_not_ok "$a went to vfio-pci but is not configured"
done
vc_ok "every other device has its host driver"
vfio-claim status
vc_check "vfio-claim status lists the NIC's group" sh -c "vfio-claim status | grep -q '^IOMMU group $(vc_group $nic): claimed'"
vc_check "vfio-claim apply has nothing to do" sh -c "vfio-claim apply | grep -q '^nothing to do'"
order=$(udevadm test --action=add /sys/bus/pci/devices/$nic 2>&1 | sed -n "s/^run: //p" | tr '\n' ' ')
echo "udev RUN list: $order"
case $order in
*"'vfio-claim-udev'"*"'kmod load'"*) vc_ok "udev runs vfio-claim-udev before 80-drivers' kmod load" ;;
*) vc_not_ok "udev RUN order: $order" ;;
esac
# Giving it back: no host driver ever had it, so the kernel picks one (e1000e, loaded by udev's
# autoload for the claimed NIC at boot), and its network interface comes back.
vc_check "the record marks $nic host=probe (claimed before any host driver)" \
        grep -q "^device $nic driver=none module=none override=none host=probe$" "/run/vfio-claim/group-$(vc_group $nic)"
vfio-claim release "$nic"
vc_check "vfio-claim release gives $nic to e1000e, the kernel's pick" test "$(vc_driver $nic)" = e1000e
vc_check "driver_override of $nic is cleared" test "$(vc_override $nic)" = "(null)"
vc_wait 10 test -n "$(vc_netdev $nic)"
vc_check "$nic has a network interface again" test -n "$(vc_netdev $nic)"
