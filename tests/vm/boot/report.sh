#!/bin/sh
# Runs in the booted Debian guest (vc-boot-report.service, after udev's coldplug settled):
# what the boot left behind, as "@@BOOT ..." lines on the serial console, then power off.
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
echo "@@BOOT end"
sync
systemctl poweroff --force --force
