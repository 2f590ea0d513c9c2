#!/bin/sh
# Runs in the booted Debian guest (vc-boot-report.service, after udev's coldplug settled):
# what the boot left behind, as "@@BOOT ..." lines on the serial console; then what giving the
# boot groups back does ("@@BOOT after ..."); then power off.
exec > /dev/ttyS0 2>&1
echo "@@BOOT begin $(uname -r)"
udevadm settle -t 120 || echo "@@BOOT note udevadm settle timed out"
for d in /sys/bus/pci/devices/*; do
        a=${d##*/}
        v=$(cat "$d/vendor") dv=$(cat "$d/device")
        drv=$(readlink "$d/driver" 2> /dev/null) || drv=none
        g=$(readlink "$d/iommu_group" 2> /dev/null) || g=none
        echo "@@BOOT dev $a ${v#0x}:${dv#0x} driver=${drv##*/} override=$(cat "$d/driver_override") group=${g##*/}"
done
# The order udev runs an add event's RUN list in (udevadm test runs none of it)
udevadm test --action=add /sys/bus/pci/devices/0000:05:00.0 2>&1 | sed -n "s/^run: /@@BOOT udevrun /p"
echo "@@BOOT vfio $(ls /dev/vfio 2> /dev/null | tr '\n' ' ')"
echo "@@BOOT cmdline $(cat /proc/cmdline)"
echo "@@BOOT early $(systemctl is-active vfio-claim-early.service)"
for f in /run/vfio-claim/group-*; do
        [ -f "$f" ] && sed "s/^/@@BOOT record ${f##*/} /" "$f"
done
vfio-claim status 2>&1 | sed 's/^/@@BOOT status /'
journalctl -b --no-pager -o short-monotonic -t vfio-claim -t vfio-claim-udev 2>&1 | sed 's/^/@@BOOT journal /'
dmesg | sed 's/^/@@BOOT dmesg /'
# Then give the boot groups back: no host driver ever had them, so the kernel picks one. e1000e
# and bochs are loaded (the twin NIC, the initramfs); snd_hda_intel, which udev loaded for the
# audio function, is unloaded first, so that its module must come from the modalias lookup.
modprobe -r snd_hda_intel 2>&1 | sed 's/^/@@BOOT note modprobe -r: /'
echo "@@BOOT before-release snd_hda_intel $(test -d /sys/module/snd_hda_intel && echo loaded || echo unloaded)"
for a in 0000:01:00.0 0000:00:05.0; do
        vfio-claim release "$a" 2>&1 | sed "s/^/@@BOOT release $a /"
done
udevadm settle -t 60 || true
for d in /sys/bus/pci/devices/*; do
        drv=$(readlink "$d/driver" 2> /dev/null) || drv=none
        echo "@@BOOT after ${d##*/} driver=${drv##*/} override=$(cat "$d/driver_override") net=$(ls "$d/net" 2> /dev/null | tr '\n' ',')"
done
for f in /run/vfio-claim/group-*; do
        [ -f "$f" ] && echo "@@BOOT after-record ${f##*/}"
done
echo "@@BOOT end"
sync
systemctl poweroff --force --force
