# Claim and release whole IOMMU groups on a real kernel, then prove that the
# host drivers are back and working: the display+audio group (bochs-drm +
# snd_hda_intel) and the bridge group (e1000 + 8139cp behind a PCIe-to-PCI
# bridge, which stays untouched).
#
# The claim itself goes through vc_claim/vc_release (guest/lib.sh): by hand
# through sysfs by default, or through `vfio-claim enable/release` with
# run.sh --claim-with cli. Nothing else here changes between the two.

vga=$(vc_find1 1234:1111); hda=$(vc_find1 8086:293e)
br=$(vc_find1 1b36:000e); e1k=$(vc_find1 8086:100e); rtl=$(vc_find1 10ec:8139)
[ -n "$vga" ] && [ -n "$hda" ] && [ -n "$br" ] && [ -n "$e1k" ] && [ -n "$rtl" ] ||
        { vc_not_ok "topology incomplete: vga=$vga hda=$hda bridge=$br e1000=$e1k rtl8139=$rtl"; exit 1; }
vgs=$VC_LIB/vfio-group-status
echo "claiming with: $VC_CLAIM_WITH"

expect_driver() { # ADDR DRIVER WHAT
        _got=$(vc_driver "$1")
        [ "$_got" = "$2" ] && vc_ok "$3: $1 on ${2:-no driver}" ||
                vc_not_ok "$3: $1 expected on '${2:-no driver}', found '${_got:-no driver}'"
}
expect_override_clear() { # ADDR WHAT
        _ov=$(vc_override "$1")
        [ "$_ov" = "(null)" ] && vc_ok "$2: $1 driver_override cleared" ||
                vc_not_ok "$2: $1 driver_override left at '$_ov'"
}
expect_claimed() { # ADDR WHAT: whole group on vfio-pci, /dev/vfio/N, usable through VFIO
        _g=$(vc_group "$1")
        for _m in $(vc_group_endpoints "$1"); do expect_driver "$_m" vfio-pci "$2"; done
        [ -c "/dev/vfio/$_g" ] && vc_ok "$2: /dev/vfio/$_g exists" || vc_not_ok "$2: no /dev/vfio/$_g"
        if [ -x "$vgs" ]; then
                _st=$("$vgs" "$_g" "$1") && vc_ok "$2: group $_g viable, DMA map and device fd work ($_st)" ||
                        vc_not_ok "$2: group $_g not usable through VFIO: $_st"
        fi
}
ping_ok() { # ADDR SUBNET WHAT
        _out=$(vc_ping_via "$1" "$2" 2>&1) && vc_ok "$3: $1 ($(vc_netdev "$1")) passes traffic to $2.2" ||
                { echo "$_out"; vc_not_ok "$3: $1 ($(vc_netdev "$1")) does not pass traffic to $2.2"; }
}

# --- before: the host drivers work (else the checks after release prove nothing)
expect_driver "$vga" bochs-drm "before"
expect_driver "$hda" snd_hda_intel "before"
expect_driver "$e1k" e1000 "before"
expect_driver "$rtl" 8139cp "before"
ping_ok "$e1k" 10.0.12 "before"
ping_ok "$rtl" 10.0.13 "before"

# --- display + audio -----------------------------------------------------------
if vc_claim "$vga"; then vc_ok "claim display+audio group $(vc_group "$vga")"
else vc_not_ok "claim display+audio group $(vc_group "$vga")"; fi
expect_claimed "$vga" "display+audio claimed"
if vc_release "$vga"; then vc_ok "release display+audio group"
else vc_not_ok "release display+audio group"; fi
expect_driver "$vga" bochs-drm "display+audio released"
expect_driver "$hda" snd_hda_intel "display+audio released"
expect_override_clear "$vga" "display+audio released"
expect_override_clear "$hda" "display+audio released"
[ ! -e "/dev/vfio/$(vc_group "$vga")" ] && vc_ok "display+audio released: /dev/vfio/$(vc_group "$vga") gone" ||
        vc_not_ok "display+audio released: /dev/vfio/$(vc_group "$vga") still there"
# The drivers did their work again: a DRM card and a sound card on these devices.
has_card() { ls -d "$SYS_PCI/devices/$1/$2"/card* >/dev/null 2>&1; }
vc_wait 10 has_card "$vga" drm && vc_ok "display+audio released: bochs-drm registered a DRM card" ||
        vc_not_ok "display+audio released: no DRM card on $vga"
vc_wait 10 has_card "$hda" sound && vc_ok "display+audio released: snd_hda_intel registered a sound card" ||
        vc_not_ok "display+audio released: no sound card on $hda"

# --- bridge group ------------------------------------------------------------------
if vc_claim "$e1k"; then vc_ok "claim bridge group $(vc_group "$e1k")"
else vc_not_ok "claim bridge group $(vc_group "$e1k")"; fi
expect_claimed "$e1k" "bridge group claimed"
expect_driver "$br" "" "bridge group claimed: the bridge stays untouched"
expect_override_clear "$br" "bridge group claimed: the bridge stays untouched"
if vc_release "$e1k"; then vc_ok "release bridge group"
else vc_not_ok "release bridge group"; fi
expect_driver "$e1k" e1000 "bridge group released"
expect_driver "$rtl" 8139cp "bridge group released"
expect_override_clear "$e1k" "bridge group released"
expect_override_clear "$rtl" "bridge group released"
ping_ok "$e1k" 10.0.12 "bridge group released"
ping_ok "$rtl" 10.0.13 "bridge group released"
