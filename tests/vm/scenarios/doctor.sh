# vfio-claim doctor on a real kernel: the IOMMU findings must match what the
# kernel shows. With QEMU's intel-iommu (intremap=on) and intel_iommu=on the
# IOMMU and interrupt remapping are ok; a guest booted without the intel-iommu
# device must get the "no IOMMU" failure and exit 1.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
out=$(timeout -s KILL "$VC_STEP_TIMEOUT" vfio-claim doctor 2>/tmp/doctor.err); rc=$?
echo "$out"
if ! echo "$out" | grep -q '^[0-9]* ok, [0-9]* warn, [0-9]* fail$'; then
        vc_not_ok "doctor printed no summary (exit $rc: $(head -n1 /tmp/doctor.err))"
        exit 0
fi
finding() { echo "$out" | grep -E "^$1 +$2" | head -n1; }

if [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
        units=$(ls /sys/class/iommu | tr '\n' ' ' | sed 's/ $//; s/ /, /g')
        groups=$(ls /sys/kernel/iommu_groups | wc -l)
        [ -n "$(finding ok "IOMMU enabled: Intel VT-d \\($units\\), $groups IOMMU groups; kernel command line: intel_iommu=on iommu=pt")" ] &&
                vc_ok "IOMMU enabled, Intel VT-d ($units), $groups groups, intel_iommu=on iommu=pt" ||
                vc_not_ok "no matching iommu finding for $units / $groups groups"
        if grep -q 'IR-PCI-MSI' /proc/interrupts; then
                [ -n "$(finding ok 'interrupt remapping is active')" ] &&
                        vc_ok "interrupt remapping active (the kernel shows IR-PCI-MSI)" ||
                        vc_not_ok "interrupt remapping not reported active although /proc/interrupts has IR-PCI-MSI"
        else
                [ -n "$(finding fail 'interrupt remapping is off')" ] &&
                        vc_ok "interrupt remapping off, as /proc/interrupts shows" ||
                        vc_not_ok "interrupt remapping off in /proc/interrupts but not reported"
        fi
        ecap=$(cat /sys/class/iommu/dmar0/intel-iommu/ecap 2>/dev/null)
        [ -n "$ecap" ] && [ $(( (0x$ecap >> 3) & 1 )) -eq 1 ] && vc_ok "dmar0 ecap $ecap has the IR bit (bit 3)" ||
                vc_not_ok "dmar0 ecap '$ecap' lacks the IR bit although QEMU has intremap=on"
        [ -n "$(finding ok 'no pcie_acs_override')" ] && vc_ok "no ACS override" || vc_not_ok "ACS override finding wrong"
        [ -n "$(finding ok 'allow_unsafe_interrupts is not set')" ] && vc_ok "allow_unsafe_interrupts not set" ||
                vc_not_ok "allow_unsafe_interrupts finding wrong"
        echo "$out" | grep -q '^fail  vfio modules' && vc_not_ok "vfio modules reported missing" ||
                vc_ok "vfio modules present ($(finding '[a-z]*' 'vfio modules' | sed 's/^[a-z]* *//'))"
else
        [ "$rc" -eq 1 ] && vc_ok "doctor exits 1 without an IOMMU" || vc_not_ok "doctor exit $rc without an IOMMU, expected 1"
        [ -n "$(finding fail 'no IOMMU: ')" ] && vc_ok "$(finding fail 'no IOMMU: ' | sed 's/^fail *//')" ||
                vc_not_ok "no 'no IOMMU' failure although /sys/class/iommu is empty"
fi
# doctor only reads: nothing may have moved
for d in /sys/bus/pci/devices/*; do
        o=$(cat "$d/driver_override")
        [ "$o" = "(null)" ] || { vc_not_ok "doctor left a driver_override on $(basename "$d"): $o"; exit 0; }
done
vc_ok "doctor changed no driver_override"
