# vc-timeout: 2400
# 100 `vfio-claim enable` / `vfio-claim disable` cycles of the display+audio
# group (bochs-drm + snd_hda_intel) and of the e1000e's group, on the real
# kernel. After every enable the group is claimed whole (every endpoint on
# vfio-pci, /dev/vfio/N, a "claimed" record, the conf.d file); after every
# disable it is the host's again exactly as before (driver links,
# driver_override, reset_method, the NIC's network interface, no /dev/vfio/N,
# no record, no conf.d file). At the end the drivers still work: the DRM and
# sound cards are registered and the e1000e passes traffic.
# VC_CYCLES (run.sh --env VC_CYCLES=N) changes the count.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
vc_lab_groups && vc_clean_slate || exit 1
N=${VC_CYCLES:-100}
for a in $EP_DISP $EP_NIC; do vc_host_snapshot "$a"; done
# What one program start costs here (loader and libraries, no sysfs work): most of a
# cycle under TCG is the two starts of vfio-claim.
vc_now; t=$VC_NOW
for i in 1 2 3 4 5; do vfio-claim --version >/dev/null; done
vc_cs_since "$t"; echo "program start: $((VC_CS / 5)) cs per run of vfio-claim --version"

# cycles WHAT DEVICE GROUP ENDPOINTS...
cycles() {
        _what=$1 _dev=$2 _g=$3; shift 3
        _conf=$(vc_conf_of "$_dev") _netmsg=
        for _a; do grep -q '^net=1' "/run/vc/host/$_a" && _netmsg=", network interface back"; done
        if ! vc_host_whole "$_g" "$@"; then
                vc_not_ok "$_what group $_g is not the host's before the cycles:$VC_WHY"
                return 1
        fi
        _i=0 _fail='' _te=0 _td=0
        vc_now; _t0=$VC_NOW
        while [ $_i -lt "$N" ] && [ -z "$_fail" ]; do
                _i=$((_i + 1))
                vc_now; _ts=$VC_NOW
                timeout -s KILL 120 vfio-claim enable "$_dev" >/tmp/cycle.out 2>&1; _rc=$?
                vc_cs_since "$_ts"; _te=$((_te + VC_CS))
                if [ $_rc -ne 0 ]; then _fail="vfio-claim enable $_dev exited $_rc"; break; fi
                vc_vfio_whole "$_g" "$@" || { _fail="after enable:$VC_WHY"; break; }
                [ -f "$_conf" ] || { _fail="after enable: no $_conf"; break; }
                vc_now; _ts=$VC_NOW
                timeout -s KILL 120 vfio-claim disable "$_dev" >/tmp/cycle.out 2>&1; _rc=$?
                vc_cs_since "$_ts"; _td=$((_td + VC_CS))
                if [ $_rc -ne 0 ]; then _fail="vfio-claim disable $_dev exited $_rc"; break; fi
                vc_host_whole "$_g" "$@" || { _fail="after disable:$VC_WHY"; break; }
                [ ! -e "$_conf" ] || { _fail="after disable: $_conf still there"; break; }
        done
        vc_cs_since "$_t0"
        if [ -n "$_fail" ]; then
                cat /tmp/cycle.out
                echo "group $_g now:$(vc_group_picture "$_g" "$@")"
                vc_not_ok "$_what group $_g, cycle $_i of $N: $_fail"
                # Leave the group to the host for what follows.
                vfio-claim release "$_dev" >/dev/null 2>&1; rm -f "$_conf"
                return 1
        fi
        echo "$_what: $N cycles in $((VC_CS / 100)) s; enable $((_te / N)) cs, disable $((_td / N)) cs on average"
        vc_ok "$_what group $_g: $N enable/disable cycles, every vfio-claim exited 0 ($((VC_CS / N)) cs per cycle)"
        vc_ok "$_what group $_g: claimed whole after each of $N enables (every endpoint on vfio-pci, /dev/vfio/$_g, record 'claimed', $_conf)"
        vc_ok "$_what group $_g: the host's again after each of $N disables (driver links, driver_override, reset_method as before$_netmsg, /dev/vfio/$_g gone, no record, $_conf removed)"
}

if cycles display+audio "$VGA" "$G_DISP" $EP_DISP; then
        has_card() { ls -d "$SYS_PCI/devices/$1/$2"/card* >/dev/null 2>&1; }
        hda=$(vc_find1 8086:293e)
        vc_wait 10 has_card "$VGA" drm && vc_wait 10 has_card "$hda" sound &&
                vc_ok "display+audio after $N cycles: bochs-drm has its DRM card, snd_hda_intel its sound card" ||
                vc_not_ok "display+audio after $N cycles: DRM card or sound card missing"
fi
if cycles e1000e "$E1E" "$G_NIC" $EP_NIC; then
        out=$(vc_ping_via "$E1E" 10.0.11 2>&1) &&
                vc_ok "e1000e after $N cycles: $E1E ($(vc_netdev "$E1E")) passes traffic to 10.0.11.2" ||
                { echo "$out"; vc_not_ok "e1000e after $N cycles: $E1E does not pass traffic to 10.0.11.2"; }
fi
