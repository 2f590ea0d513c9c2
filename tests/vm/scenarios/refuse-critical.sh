# The engine refuses host-critical groups with exit 4 and writes nothing:
# the virtio-blk controller behind / and the virtio NIC of the default route
# (lib/critical.h). Runs once `vfio-claim enable` exists; skips until then.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
# The verb exists when --help lists it and the binary does not reject it.
vfio-claim --help 2>&1 | grep -qE '^[[:space:]]+enable([[:space:]]|$)' ||
        { vc_skip "vfio-claim --help lists no enable verb yet"; exit 0; }
case $(vfio-claim --dry-run enable 0000:00:00.0 2>&1) in
*"unknown verb"*) vc_skip "vfio-claim has no enable verb yet"; exit 0 ;;
esac

disk=$(vc_find1 1af4:1001)     # virtio-blk (transitional id) holding /
nic=$(vc_find1 1af4:1041)      # virtio-net, the default route
grep -q '^/dev/vda / ' /proc/mounts || { vc_not_ok "/ is not on /dev/vda: $(grep ' / ' /proc/mounts)"; exit 1; }
ip route | grep -q "^default .* dev $(ls "$SYS_PCI/devices/$nic"/virtio*/net 2>/dev/null | head -n1)" ||
        echo "note: default route: $(ip route | grep '^default')"

refused() { # ADDR WHAT
        _before=$(vc_driver "$1"); _ov=$(vc_override "$1")
        _out=$(timeout -s KILL 30 vfio-claim enable "$1" 2>&1); _rc=$?
        echo "vfio-claim enable $1 -> exit $_rc: $_out"
        [ $_rc -eq 4 ] && vc_ok "$2 ($1) refused with exit 4" || vc_not_ok "$2 ($1): expected exit 4, got $_rc"
        [ "$(vc_driver "$1")" = "$_before" ] && [ "$(vc_override "$1")" = "$_ov" ] &&
                vc_ok "$2 ($1) untouched: still on $_before, driver_override $_ov" ||
                vc_not_ok "$2 ($1) changed: driver $(vc_driver "$1"), driver_override $(vc_override "$1")"
        _out=$(timeout -s KILL 30 vfio-claim --dry-run enable "$1" 2>&1); _rc=$?
        [ $_rc -eq 4 ] && vc_ok "$2 ($1) refused with exit 4 in --dry-run too" ||
                vc_not_ok "$2 ($1) --dry-run: expected exit 4, got $_rc"
}
refused "$disk" "root disk controller"
refused "$nic" "default-route NIC"
# --force overrides protect; that is not tried on the disk holding / (the
# guest would lose its root) but the root of the check is that the refusal
# names the reason:
out=$(vfio-claim enable "$disk" 2>&1)
echo "$out" | grep -qi 'root\|/' && vc_ok "the refusal names the reason: $(echo "$out" | head -n1)" ||
        vc_not_ok "the refusal does not say why: $out"
