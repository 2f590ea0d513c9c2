# Debian route only: the guest is a real installation. systemd reached
# multi-user, udev and libvirtd run, the project's files are installed where
# `make install` put them, the kernel has its IOMMU.
# The scenario runner is itself part of multi-user.target, so the system is
# "starting" until it ends: up means no job left but the runner's.
st=$(systemctl is-system-running 2>&1)
jobs=$(systemctl list-jobs --no-legend --no-pager 2>/dev/null | grep -v 'vc-lab-run.service' | grep .)
failed=$(systemctl --failed --no-legend --no-pager --plain | grep .)
if [ -z "$jobs" ] && [ -z "$failed" ]; then vc_ok "systemd is up ($st, no failed unit)"
else echo "jobs: $jobs"; echo "failed: $failed"; vc_not_ok "systemd is not up cleanly ($st)"; fi
for u in systemd-udevd libvirtd; do
        systemctl is-active -q "$u" && vc_ok "$u is active" || vc_not_ok "$u is not active: $(systemctl is-active "$u")"
done
command -v vfio-claim >/dev/null && vc_ok "vfio-claim installed at $(command -v vfio-claim)" ||
        vc_not_ok "vfio-claim not installed"
[ -n "$(ls /sys/kernel/iommu_groups)" ] && vc_ok "$(ls /sys/kernel/iommu_groups | wc -l) IOMMU groups" ||
        vc_not_ok "no IOMMU groups"
virsh -c qemu:///system list --all >/tmp/virsh.out 2>&1 && vc_ok "virsh talks to libvirtd" ||
        { cat /tmp/virsh.out; vc_not_ok "virsh cannot talk to libvirtd"; }
ip route | grep -q '^default' && vc_ok "default route: $(ip route | grep '^default')" || vc_not_ok "no default route"
