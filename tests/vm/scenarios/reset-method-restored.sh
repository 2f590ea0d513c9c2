# A claim must give the host back the reset_method it found (issue 11, item 8), on the real
# kernel. The e1000 behind the PCIe-to-PCI bridge reads "bus" (it was alone on its bus when the
# kernel enumerated it); with a [device] entry and no "reset =" (auto), the claim writes
# "default", and Linux then probes the methods again: the rtl8139 now shares the bus, so the
# bus reset is gone and reset_method reads "". After release (and after disable) it must read
# what it read before. Not in scenarios/DEFAULT while the engine does not restore it.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
e1k=$(vc_find1 8086:100e)
[ -n "$e1k" ] || { vc_not_ok "no e1000 (8086:100e)"; exit 1; }
p=$SYS_PCI/devices/$e1k
[ -r "$p/reset_method" ] || { vc_skip "$e1k has no reset_method attribute"; exit 0; }
before=$(cat "$p/reset_method")
echo "$e1k reset_method before: '$before'"
mkdir -p /etc/vfio-claim/conf.d
printf '[device lab-e1000]\nmatch = %s\n' "$e1k" >/etc/vfio-claim/conf.d/lab-e1000.conf
vc_check "enable $e1k (configured, reset = auto)" vfio-claim enable "$e1k"
echo "$e1k reset_method while claimed: '$(cat "$p/reset_method")'"
vc_check "release $e1k" vfio-claim release "$e1k"
after=$(cat "$p/reset_method")
[ "$after" = "$before" ] && vc_ok "after release, reset_method of $e1k reads '$before' as before" ||
        vc_not_ok "after release, reset_method of $e1k reads '$after', was '$before'"
# Can the lost method be written back? (Linux probes each named method before accepting it.)
if [ "$after" != "$before" ] && [ -n "$before" ]; then
        vc_write "$p/reset_method" "$before" && echo "writing '$before' back works: '$(cat "$p/reset_method")'" ||
                echo "writing '$before' back fails: the claim's 'default' cannot be undone by writing the old value"
fi
vc_check "disable $e1k" vfio-claim disable "$e1k"
rm -f /etc/vfio-claim/conf.d/lab-e1000.conf
