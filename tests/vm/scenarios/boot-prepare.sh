#!/bin/sh
# Debian route, --prepare script for the boot scenarios (issue 5): a boot = yes configuration
# for the first e1000e (by address, with the id guard) and for the display + audio group (by
# the VGA's address only), the early unit, and a dracut initramfs that also carries e1000e and
# bochs (--force-drivers), so host drivers load before the root is mounted. Then reboot once.
#   tests/vm/run-debian.sh --prepare tests/vm/scenarios/boot-prepare.sh \
#       --append 'dyndbg="file drivers/base/dd.c +p"' boot-claimed
#   tests/vm/run-debian.sh --prepare tests/vm/scenarios/boot-prepare.sh \
#       --append rd.vfio_claim=0 boot-host
set -u
find1() { # VENDOR:DEVICE -> first address
        for d in /sys/bus/pci/devices/*; do
                [ "$(cat "$d/vendor"):$(cat "$d/device")" = "0x${1%:*}:0x${1#*:}" ] && { echo "${d##*/}"; return; }
        done
}
nic=$(find1 8086:10d3)
vga=$(find1 1234:1111)
mkdir -p /etc/vfio-claim/conf.d
cat > /etc/vfio-claim/conf.d/boot-lab.conf <<CONF
[device guest-nic]
match = $nic
id = 8086:10d3
boot = yes

[device display]
match = $vga
boot = yes
CONF
echo "@@VC diag boot-prepare: guest-nic $nic, display $vga"
systemctl enable vfio-claim-early.service 2>&1
dracut -f --force-drivers "e1000e bochs" --kver "$(uname -r)" > /var/log/boot-prepare-dracut.log 2>&1 ||
        echo "@@VC bail boot-prepare: dracut -f failed: $(tail -n 3 /var/log/boot-prepare-dracut.log)"
touch /run/vc-lab/reboot
