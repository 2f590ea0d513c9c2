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
# A device of another model, in no configured group: the generated rule runs nothing for it
udevadm test --action=add /sys/bus/pci/devices/0000:03:01.0 2>&1 | sed -n "s/^run: /@@BOOT udevrun-other /p"
[ -f /run/udev/rules.d/70-vfio-claim.rules ] && sed 's/^/@@BOOT rule /' /run/udev/rules.d/70-vfio-claim.rules
echo "@@BOOT vfio $(ls /dev/vfio 2> /dev/null | tr '\n' ' ')"
echo "@@BOOT cmdline $(cat /proc/cmdline)"
echo "@@BOOT early $(systemctl is-active vfio-claim-early.service)"
for f in /run/vfio-claim/group-*; do
        [ -f "$f" ] && sed "s/^/@@BOOT record ${f##*/} /" "$f"
done
[ -f /run/vfio-claim/host-critical ] && sed 's/^/@@BOOT hostcrit /' /run/vfio-claim/host-critical
vfio-claim status 2>&1 | sed 's/^/@@BOOT status /'
journalctl -b --no-pager -o short-monotonic -t vfio-claim -t vfio-claim-udev 2>&1 | sed 's/^/@@BOOT journal /'
dmesg | sed 's/^/@@BOOT dmesg /'
# udevd's start and end of each vfio-claim-udev run (only with udev.log_level=debug: run.sh --measure)
journalctl -b --no-pager -o short-monotonic 2>/dev/null | grep -E "(Starting|Process) '[^']*vfio-claim-udev" | sed 's/^/@@BOOT udevlog /'
# Then give the boot groups back; no host driver ever had them, so the kernel picks one. First
# the libvirt hook, as libvirtd runs it, for a VM with both groups: the display has
# "release = host", the NIC only "boot = yes" (kept). Then "vfio-claim release" for the NIC.
# e1000e and bochs are loaded (the twin NIC, the initramfs); snd_hda_intel, which udev loaded
# for the audio function, is unloaded first, so its module must come from the modalias lookup.
modprobe -r snd_hda_intel 2>&1 | sed 's/^/@@BOOT note modprobe -r: /'
echo "@@BOOT before-release snd_hda_intel $(test -d /sys/module/snd_hda_intel && echo loaded || echo unloaded)"
cat > /tmp/lab-vm.xml <<'EOF'
<domain type='kvm'>
  <name>lab-vm</name>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source>
    </hostdev>
  </devices>
</domain>
EOF
hook=/etc/libvirt/hooks/qemu.d/vfio-claim
"$hook" lab-vm prepare begin - < /tmp/lab-vm.xml > /tmp/hook.out 2>&1
echo "@@BOOT hook prepare rc=$?"
sed 's/^/@@BOOT hook-out /' /tmp/hook.out
grep -H '^owner' /run/vfio-claim/group-* 2> /dev/null | sed 's/^/@@BOOT hook-owner /'
"$hook" lab-vm release end - < /tmp/lab-vm.xml > /tmp/hook.out 2>&1
echo "@@BOOT hook release rc=$?"
sed 's/^/@@BOOT hook-out /' /tmp/hook.out
for a in 0000:01:00.0 0000:00:05.0 0000:00:05.1; do
        d=/sys/bus/pci/devices/$a
        drv=$(readlink "$d/driver" 2> /dev/null) || drv=none
        echo "@@BOOT after-hook $a driver=${drv##*/} override=$(cat "$d/driver_override")"
done
journalctl -b --no-pager -o cat -t vfio-claim-hook 2>&1 | sed 's/^/@@BOOT hook-journal /'
vfio-claim release 0000:01:00.0 2>&1 | sed "s/^/@@BOOT release 0000:01:00.0 /"
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
