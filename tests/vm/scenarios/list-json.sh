# `vfio-claim list --json` agrees with /sys/kernel/iommu_groups for every
# group: same groups, same members, same drivers. Skips (with the reason)
# while the binary does not support it yet.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
out=$(timeout -s KILL "$VC_STEP_TIMEOUT" vfio-claim list --json 2>/tmp/list.err); rc=$?
if [ $rc -ne 0 ] || [ -z "$out" ]; then
        vc_skip "vfio-claim list --json does not work yet (exit $rc: $(head -n1 /tmp/list.err))"
        exit 0
fi
echo "$out" >/tmp/list.json
jq -e . /tmp/list.json >/dev/null 2>&1 || { vc_not_ok "list --json is not one JSON document"; exit 1; }
vc_ok "list --json is one JSON document"

# Accept the device list at top level, under .groups[].devices, or under
# .devices; each device must name its address ("address") and group ("group"
# / "iommu_group"), or sit in a group object with "group"/"id"/"number".
jq -r '
  def dev_lines(g): .[]? | "\(.address // .addr // "?") \(g // .iommu_group // .group // "?") \(.driver // "")";
  if type == "array" then dev_lines(null)
  elif .groups then .groups[] | (.group // .id // .number // .iommu_group) as $g | (.devices // .members) | dev_lines($g)
  else .devices | dev_lines(null) end
' /tmp/list.json 2>/tmp/jq.err | sort >/tmp/list.txt
[ -s /tmp/list.txt ] || { vc_not_ok "cannot find devices in list --json ($(head -n1 /tmp/jq.err)); output: $(head -c 300 /tmp/list.json)"; exit 1; }

for g in $(ls /sys/kernel/iommu_groups); do
        for a in $(ls /sys/kernel/iommu_groups/$g/devices); do
                echo "$a $g $(vc_driver "$a")"
        done
done | sort >/tmp/sysfs.txt
if diff -u /tmp/sysfs.txt /tmp/list.txt >/tmp/list.diff; then
        vc_ok "list --json matches sysfs: $(wc -l </tmp/sysfs.txt) devices in $(ls /sys/kernel/iommu_groups | wc -l) groups (address, group, driver)"
else
        cat /tmp/list.diff
        vc_not_ok "list --json disagrees with /sys/kernel/iommu_groups (diff above: - sysfs, + list)"
fi

# The host-critical marks (lib/critical.h): the root disk's controller and
# the default-route NIC. Checked when the document carries "critical" keys.
if jq -e '[.. | objects | select(has("critical"))] | length > 0' /tmp/list.json >/dev/null; then
        for id in 1af4:1001 1af4:1041; do
                a=$(vc_find1 $id)
                c=$(jq -r --arg a "$a" '[.. | objects | select(.address? == $a)][0] | "\(.critical) \(.critical_reason // "")"' /tmp/list.json)
                case $c in
                true*) vc_ok "list --json marks $a ($id) critical: ${c#true }" ;;
                *) vc_not_ok "list --json does not mark $a ($id) critical (got: $c)" ;;
                esac
        done
else
        vc_skip "list --json has no critical marks yet"
fi
