# Debian route, after boot-prepare.sh and a reboot with rd.vfio_claim=0 (or vfio_claim=0): the
# rescue switch. Every configured device has its host driver, no override, no record.
conf=/etc/vfio-claim/conf.d/boot-lab.conf
nic=$(sed -n '/guest-nic/,/^$/s/^match = //p' $conf)
vga=$(sed -n '/display/,/^$/s/^match = //p' $conf)
aud=$(vc_find1 8086:293e)
if ! grep -qE '(^| )(rd\.)?vfio_claim=0( |$)' /proc/cmdline; then
        vc_skip "boot with rd.vfio_claim=0 or vfio_claim=0"
        return 0
fi
vc_check "$nic is on e1000e" test "$(vc_driver $nic)" = e1000e
vc_check "$vga is on bochs-drm" test "$(vc_driver $vga)" = bochs-drm
vc_check "$aud is on snd_hda_intel" test "$(vc_driver $aud)" = snd_hda_intel
for a in $nic $vga $aud; do
        vc_check "$a has no driver_override" test "$(vc_override $a)" = "(null)"
done
vc_check "no state record" sh -c '! ls /run/vfio-claim/group-* 2>/dev/null | grep -q .'
