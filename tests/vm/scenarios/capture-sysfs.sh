# Evidence for fixtures: the guest kernel's raw PCI and IOMMU sysfs, sent to
# the host as sysfs-dump.txt in the run's log dir. Copy it to
# tests/vm/fixtures/ when the topology or kernel changes.
out=/tmp/sysfs-dump.txt
{
        echo "# uname -r: $(uname -r)"
        echo "# cmdline: $(cat /proc/cmdline)"
        echo "## ls -l /sys/class/iommu"
        ls -l /sys/class/iommu
        echo "## ls -l /sys/bus/pci/devices"
        ls -l /sys/bus/pci/devices
        echo "## ls -l /sys/kernel/iommu_groups/*/devices"
        for g in $(ls /sys/kernel/iommu_groups | sort -n); do
                echo "### group $g (type: $(cat /sys/kernel/iommu_groups/$g/type 2>/dev/null))"
                ls -l /sys/kernel/iommu_groups/$g/devices
        done
        for d in /sys/bus/pci/devices/*; do
                a=$(basename "$d")
                echo "## device $a"
                echo "ls: $(ls "$d" | tr '\n' ' ')"
                for f in vendor device subsystem_vendor subsystem_device class revision \
                        driver_override modalias reset_method boot_vga enable irq numa_node \
                        d3cold_allowed current_link_speed current_link_width max_link_speed \
                        max_link_width secondary_bus_number subordinate_bus_number; do
                        [ -e "$d/$f" ] || continue
                        v=$(cat "$d/$f" 2>&1 | tr '\n' ' ' | sed 's/ $//')
                        echo "$f=$v"
                done
                for l in driver iommu_group physfn firmware_node; do
                        [ -L "$d/$l" ] && echo "$l -> $(readlink "$d/$l")"
                done
                echo "resource:"; sed 's/^/  /' "$d/resource"
        done
} >"$out" 2>&1
n=$(grep -c '^## device ' "$out")
[ "$n" -gt 0 ] && vc_ok "captured sysfs of $n PCI devices ($(wc -c <"$out") bytes)" ||
        vc_not_ok "no PCI device captured"
vc_send sysfs-dump.txt "$out"
