# vc-timeout: 1200
# Three groups cycled at once on the real kernel: three concurrent loops of
# `vfio-claim enable` / `vfio-claim disable` (display+audio, the e1000e, the
# bridge group with e1000 and rtl8139), with `vfio-claim status` and
# `vfio-claim list --json` readers running beside them. Every command exits 0
# (a writer may wait for the lock; that is fine), each loop finds its group
# claimed whole after its enable and the host's after its disable, every
# list --json is one valid document, and at the end every group is the
# host's, whole, with no record and no conf.d file left.
# VC_CONCURRENT_CYCLES (run.sh --env) sets the cycles per loop (default 10).
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
command -v jq >/dev/null || { vc_skip "no jq in the guest"; exit 0; }
vc_lab_groups && vc_clean_slate || exit 1
M=${VC_CONCURRENT_CYCLES:-10}
for a in $EP_DISP $EP_NIC $EP_BR; do vc_host_snapshot "$a"; done
for g in "$G_DISP:$EP_DISP" "$G_NIC:$EP_NIC" "$G_BR:$EP_BR"; do
        vc_host_whole "${g%%:*}" ${g#*:} || { vc_not_ok "group ${g%%:*} is not the host's before the loops:$VC_WHY"; exit 1; }
done
d=/run/vc/concurrent
rm -rf "$d"; mkdir -p "$d"

# writer TAG DEVICE GROUP ENDPOINTS...: M cycles; the first failure ends the
# loop and goes to $d/TAG.fail; $d/TAG.done holds the cycles completed.
writer() {
        _tag=$1 _dev=$2 _g=$3; shift 3
        _conf=$(vc_conf_of "$_dev")
        _i=0
        while [ $_i -lt "$M" ]; do
                _i=$((_i + 1))
                timeout -s KILL 180 vfio-claim enable --yes "$_dev" >"$d/$_tag.out" 2>&1; _rc=$?
                [ $_rc -eq 0 ] || { echo "cycle $_i: vfio-claim enable exited $_rc: $(tail -n 3 "$d/$_tag.out" | tr '\n' ' ')" >"$d/$_tag.fail"; break; }
                vc_vfio_whole "$_g" "$@" || { echo "cycle $_i: after enable:$VC_WHY" >"$d/$_tag.fail"; break; }
                [ -f "$_conf" ] || { echo "cycle $_i: after enable: no $_conf" >"$d/$_tag.fail"; break; }
                timeout -s KILL 180 vfio-claim disable "$_dev" >"$d/$_tag.out" 2>&1; _rc=$?
                [ $_rc -eq 0 ] || { echo "cycle $_i: vfio-claim disable exited $_rc: $(tail -n 3 "$d/$_tag.out" | tr '\n' ' ')" >"$d/$_tag.fail"; break; }
                vc_host_whole "$_g" "$@" || { echo "cycle $_i: after disable:$VC_WHY" >"$d/$_tag.fail"; break; }
                [ ! -e "$_conf" ] || { echo "cycle $_i: after disable: $_conf still there" >"$d/$_tag.fail"; break; }
                echo "$_i" >"$d/$_tag.done"
        done
}

# reader TAG COMMAND...: runs COMMAND until $d/stop appears; counts runs in
# $d/TAG.runs, keeps the first failure in $d/TAG.fail.
reader() {
        _tag=$1; shift
        _n=0
        while [ ! -e "$d/stop" ]; do
                _n=$((_n + 1))
                timeout -s KILL 60 "$@" >"$d/$_tag.json" 2>"$d/$_tag.err"; _rc=$?
                if [ $_rc -ne 0 ]; then
                        echo "run $_n: exited $_rc: $(head -n 3 "$d/$_tag.err" | tr '\n' ' ')" >"$d/$_tag.fail"
                        break
                fi
                if ! jq -e '.groups | type == "array"' "$d/$_tag.json" >/dev/null 2>&1; then
                        echo "run $_n: not a JSON document with a groups array: $(head -c 200 "$d/$_tag.json")" >"$d/$_tag.fail"
                        break
                fi
                echo "$_n" >"$d/$_tag.runs"
        done
}

vc_now; t0=$VC_NOW
reader status vfio-claim --json status & r1=$!
reader list vfio-claim list --json & r2=$!
writer disp "$VGA" "$G_DISP" $EP_DISP & w1=$!
writer nic "$E1E" "$G_NIC" $EP_NIC & w2=$!
writer br "$E1K" "$G_BR" $EP_BR & w3=$!
wait $w1 $w2 $w3
touch "$d/stop"
wait $r1 $r2
vc_cs_since "$t0"
echo "three loops of $M cycles in $((VC_CS / 100)) s"

for w in "disp:display+audio group $G_DISP" "nic:e1000e group $G_NIC" "br:bridge group $G_BR"; do
        tag=${w%%:*} what=${w#*:}
        if [ -e "$d/$tag.fail" ]; then
                cat "$d/$tag.out"
                vc_not_ok "$what, cycled beside two other loops: $(cat "$d/$tag.fail")"
        else
                vc_ok "$what: $(cat "$d/$tag.done" 2>/dev/null || echo 0) enable/disable cycles beside two other loops, every command exited 0, claimed whole and the host's again each time"
        fi
done
for r in "status:vfio-claim --json status" "list:vfio-claim list --json"; do
        tag=${r%%:*} what=${r#*:}
        if [ -e "$d/$tag.fail" ]; then
                vc_not_ok "$what beside the loops: $(cat "$d/$tag.fail")"
        else
                vc_ok "$what ran $(cat "$d/$tag.runs" 2>/dev/null || echo 0) times beside the loops: every run exited 0 with one JSON document"
        fi
done
bad=
for g in "$G_DISP:$EP_DISP" "$G_NIC:$EP_NIC" "$G_BR:$EP_BR"; do
        vc_host_whole "${g%%:*}" ${g#*:} || bad="$bad group ${g%%:*}:$VC_WHY"
done
left=$(ls -A /etc/vfio-claim/conf.d 2>/dev/null; ls -A /run/vfio-claim 2>/dev/null | grep -v '^lock$')
[ -z "$bad" ] && [ -z "$left" ] &&
        vc_ok "at the end every group is the host's, whole: drivers, overrides, reset_method as before, no /dev/vfio node, no record, no conf.d file" ||
        vc_not_ok "at the end:$bad${left:+ left behind: $(echo $left)}"
