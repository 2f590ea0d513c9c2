# The Debian-route story of `make demo` (a scenario run by tests/vm/demo.sh through
# run-debian.sh, in the guest, under busybox sh with the lab's helpers). It runs twice:
#   first boot:  the host as it is, the e1000e's group, doctor; write a boot = yes config,
#                enable the early unit, reboot (the scenario reboots the guest itself; the
#                overlay keeps the changes and vc-lab-run runs this scenario again);
#   second boot: the e1000e claimed at boot and never probed by e1000e (dyndbg on
#                drivers/base/dd.c, passed by demo.sh), a nested domain defined with stock
#                virsh, `vfio-claim add`, `virsh start`, the nested QEMU holding /dev/vfio/N,
#                `virsh destroy`, the hook giving the device back to e1000e, passing traffic.
# Every line it prints is shown to the newcomer; every step asserts with vc_ok/vc_not_ok.

say() { echo; echo ">>> $*"; }
more() { echo "    $*"; }
# run 'COMMAND LINE': show it, run it, show its output indented; returns its status.
run() {
        echo "\$ $1"
        eval "$1" >/tmp/demo-out 2>&1
        _rc=$?
        sed 's/^/    /' /tmp/demo-out
        [ $_rc -eq 0 ] || echo "    (exit status $_rc)"
        return $_rc
}
ok_if() { # DESC COMMAND...: assert quietly
        _d=$1; shift
        if "$@" >/dev/null 2>&1; then vc_ok "$_d"; else vc_not_ok "$_d"; return 1; fi
}
owner_of() { sed -n 's/^owner //p' "/run/vfio-claim/group-$1" 2>/dev/null; }
# Debian's minbase has no ping; busybox (in the image) has one.
command -v ping >/dev/null || ping() { busybox ping "$@"; }
# ping_gw ADDR: address the NIC on its own network and ping QEMU's gateway there. The first
# pings right after the link comes up are sometimes lost: up to 3 more tries, said openly.
ping_gw() {
        vc_ping_via "$1" 10.0.11 && return 0
        _i=$(vc_netdev "$1" | head -n1)
        for _n in 1 2 3; do
                echo "(no answer yet, the link has just come up; try $_n of 3 more)"
                sleep 2
                ping -c 2 -W 3 -I "$_i" 10.0.11.2 && return 0
        done
        return 1
}

stage=/var/lib/vc-lab/demo-stage
conf=/etc/vfio-claim/conf.d/demo.conf
nic=$(vc_find1 8086:10d3)
[ -n "$nic" ] || { vc_not_ok "no e1000e (8086:10d3) in this guest"; exit 1; }
g=$(vc_group "$nic")
for c in vfio-claim virsh systemctl journalctl; do
        command -v $c >/dev/null || { vc_not_ok "no $c in this guest"; exit 1; }
done

if [ ! -e $stage ]; then
# ------------------------------------------------------------------ first boot
say "This is a throw-away Debian 12 guest (kernel $(uname -r)) under QEMU, with an emulated"
more "Intel IOMMU, systemd, udev and libvirtd. vfio-claim is installed in it by its own"
more "'make install'. Nothing here touches your machine."

say "The IOMMU sorts PCI devices into groups: devices that may reach each other's memory share"
more "a group, and a VM can only be given whole groups. 'vfio-claim list' shows them, with each"
more "device's driver, and marks what this host cannot spare (root disk, default-route NIC):"
run 'vfio-claim list'
ok_if "vfio-claim list shows the e1000e $nic" grep -q "$nic" /tmp/demo-out

say "We give away the e1000e NIC at $nic: it is alone in IOMMU group $g and the host does not"
more "need it. 'vfio-claim show' details its group:"
run "vfio-claim show $nic"
ok_if "vfio-claim show $nic names group $g" grep -q "$g" /tmp/demo-out

say "'vfio-claim doctor' says what stands between this host and passing it through:"
run "vfio-claim doctor $nic"

say "Right now the host's e1000e driver runs it, and it passes traffic on its network:"
run "ls -l /sys/bus/pci/devices/$nic/driver"
ok_if "$nic is on e1000e before the claim" test "$(vc_driver "$nic")" = e1000e
if=$(vc_netdev "$nic" | head -n1)
run "ping_gw $nic" && vc_ok "$if pings its gateway before the claim" ||
        vc_not_ok "$if does not pass traffic before the claim"

say "Now the configuration: the e1000e goes to vfio-pci at every boot, before any host driver"
more "can touch it (udev rule + early systemd unit). We write it to $conf:"
mkdir -p /etc/vfio-claim/conf.d
cat >$conf <<EOF
[device guest-nic]
match = $nic
boot = yes
release = host
EOF
run "cat $conf"
run 'vfio-claim check-config' && vc_ok "vfio-claim check-config accepts $conf" ||
        vc_not_ok "vfio-claim check-config rejects $conf"
more "(The early unit sets every boot override before udev's coldplug; enable it once:)"
run 'systemctl enable vfio-claim-early.service' && vc_ok "vfio-claim-early.service enabled" ||
        vc_not_ok "cannot enable vfio-claim-early.service"

say "Reboot. (Another minute or so under software emulation.)"
touch $stage
sync
vc_ok "first boot done, rebooting"
systemctl --no-block reboot
# systemd stops this service (and this script) on the way down; the next boot runs it again.
sleep 600
exit 0
fi

# ------------------------------------------------------------------ second boot
say "The guest has rebooted with demo.conf in place. 'vfio-claim status' lists what it holds:"
run 'vfio-claim status'
ok_if "vfio-claim status lists group $g as claimed" grep -q "^IOMMU group $g: claimed" /tmp/demo-out

say "The e1000e's driver is now vfio-pci, and its group's device node /dev/vfio/$g exists:"
run "ls -l /sys/bus/pci/devices/$nic/driver /dev/vfio/$g"
ok_if "$nic is on vfio-pci after boot" test "$(vc_driver "$nic")" = vfio-pci
ok_if "/dev/vfio/$g exists" test -c "/dev/vfio/$g"

say "Who did it: the journal of this boot, with the systemd unit that logged each line"
more "(vfio-claim-early.service runs the helper for every configured device before udev's"
more "coldplug; the udev rule runs it again when the device appears, before 80-drivers.rules):"
run "journalctl -b -o with-unit --no-pager -t vfio-claim-udev | grep -v '^--'"
ok_if "the journal has vfio-claim-udev's override for $nic" \
        grep -q "$nic: driver_override set to vfio-pci" /tmp/demo-out

say "Was it ever probed by e1000e? This boot runs with dyndbg=\"file drivers/base/dd.c +p\","
more "so the kernel logs every driver probe. Probes of the other NICs are there, none of $nic:"
dmesg >/tmp/dmesg.txt
run "grep -E 'probing driver (e1000e|e1000|8139cp|virtio_net|vfio-pci) with device' /tmp/dmesg.txt | sed 's/.*really_probe: //'"
if ! grep -q 'really_probe: probing driver' /tmp/dmesg.txt; then
        vc_skip "no driver-core probe messages in dmesg (boot without dyndbg): cannot prove 'never probed'"
elif grep -q "probing driver e1000e with device $nic" /tmp/dmesg.txt; then
        vc_not_ok "e1000e probed $nic during boot"
else
        vc_ok "e1000e never probed $nic during boot (dyndbg shows the other probes)"
fi
ok_if "vfio-pci probed $nic" grep -q "probing driver vfio-pci with device $nic" /tmp/dmesg.txt

# ------------------------------------------------------------------ the nested VM
say "Now a VM. This guest runs libvirtd; we define a small domain with stock 'virsh define'"
more "(no disk: its firmware will just find the NIC):"
cat >/tmp/demo-vm.xml <<EOX
<domain type='qemu'>
  <name>demo-vm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
run 'virsh define /tmp/demo-vm.xml' && vc_ok "virsh define demo-vm" || vc_not_ok "virsh define demo-vm"

say "'vfio-claim add' puts the whole group into the stopped domain's definition"
more "(one <hostdev managed='no'> per device of the group):"
run "vfio-claim add demo-vm $nic" && vc_ok "vfio-claim add demo-vm $nic" || vc_not_ok "vfio-claim add demo-vm $nic"
run "virsh dumpxml demo-vm | grep -A5 '<hostdev'"
ok_if "demo-vm's definition has a managed='no' hostdev" grep -q "<hostdev mode='subsystem' type='pci' managed='no'>" /tmp/demo-out

say "Start it with plain 'virsh start'. libvirt runs vfio-claim's qemu hook, which checks the"
more "group is ours and claimed. (A VM inside an emulated VM: from seconds up to 2 minutes.)"
t0=$(date +%s)
run 'timeout -s KILL 480 virsh start demo-vm' && vc_ok "virsh start demo-vm ($(($(date +%s) - t0)) s)" ||
        vc_not_ok "virsh start demo-vm failed"

pid=$(cat /run/libvirt/qemu/demo-vm.pid 2>/dev/null)
say "The VM's QEMU (pid ${pid:-?}) holds the group's device node open:"
run "ls -l /proc/${pid:-0}/fd | grep /dev/vfio"
ok_if "demo-vm's QEMU holds /dev/vfio/$g" grep -q " /dev/vfio/$g\$" /tmp/demo-out
run 'virsh list'
say "and vfio-claim records the VM as the group's owner:"
run 'vfio-claim status'
ok_if "group $g is owned by demo-vm" test "$(owner_of "$g")" = demo-vm

# ------------------------------------------------------------------ stop, give back
say "Stop the VM ('virsh destroy' pulls the plug). libvirt runs the hook's release step:"
run 'virsh destroy demo-vm' && vc_ok "virsh destroy demo-vm" || vc_not_ok "virsh destroy demo-vm"
vc_wait 20 sh -c "test \"\$(sed -n 's/^owner //p' /run/vfio-claim/group-$g 2>/dev/null)\" != demo-vm"
vc_wait 10 test "$(vc_driver "$nic")" = e1000e
more "The hook gave the group back (release = host in demo.conf wins over boot's keep). No host"
more "driver ever had this device, so the hook let the kernel pick one, as at boot without"
more "vfio-claim: it cleared driver_override and asked the kernel to probe it. The journal:"
run "journalctl -b -o cat --no-pager -t vfio-claim-hook -t vfio-claim-hook-worker | grep -i 'demo-vm'"
if [ "$(vc_driver "$nic")" = e1000e ]; then
        vc_ok "the hook gave $nic back to e1000e when demo-vm stopped"
else
        vc_not_ok "after virsh destroy: $nic on '$(vc_driver "$nic")', override '$(vc_override "$nic")', owner '$(owner_of "$g")'"
fi
vc_wait 10 test -n "$(vc_netdev "$nic")"
say "The e1000e is back on its host driver, with a network interface that passes traffic:"
run "ls -l /sys/bus/pci/devices/$nic/driver"
ok_if "$nic is on e1000e again" test "$(vc_driver "$nic")" = e1000e
if=$(vc_netdev "$nic" | head -n1)
run "ping_gw $nic" && vc_ok "$if pings its gateway again" ||
        vc_not_ok "$if does not pass traffic after the release"
run "ip -br link show $if"
ok_if "$if is up" sh -c "ip -br link show $if | grep -q UP"
run 'vfio-claim status'
ok_if "no VM owns group $g any more" test -z "$(owner_of "$g")"
more "(And now dmesg does show e1000e probing it, so the boot-time check above could see it:)"
run "dmesg | grep 'probing driver e1000e with device $nic' | sed 's/.*really_probe: //'"
ok_if "dmesg now logs e1000e probing $nic (the boot-time check could see a probe)" grep -q e1000e /tmp/demo-out
virsh -q undefine demo-vm >/dev/null 2>&1

say "Summary: $nic (e1000e, alone in IOMMU group $g)"
more "- was claimed at boot by vfio-claim's udev helper, before e1000e could probe it;"
more "- went to demo-vm through stock 'virsh define' + 'vfio-claim add' + 'virsh start', the"
more "  qemu hook recording demo-vm as its owner; demo-vm's QEMU held /dev/vfio/$g;"
more "- went back to e1000e when demo-vm stopped: the hook cleared driver_override and the"
more "  kernel bound e1000e (release = host; boot = yes alone would have kept it on vfio-pci);"
more "- and passed traffic on the host again. Nothing outside this throw-away guest changed."
