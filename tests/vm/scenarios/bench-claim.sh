# vc-timeout: 1800
# `make bench-vm` (issue 15 item 3; docs/PERFORMANCE.md): what claiming and giving back a group
# costs on the real kernel, for the display+audio group (bochs-drm + snd_hda_intel) and the
# e1000e's group (neither the default-route NIC nor the root disk), done three ways:
#   bare       tests/bench/bare-claim: driver_override, unbind, drivers_probe per device, nothing else
#   vfio-claim `vfio-claim enable DEV` / `vfio-claim disable DEV` (conf.d file written and removed)
#   vc-release `vfio-claim enable DEV` / `vfio-claim release DEV`, the conf.d file then removed
#              untimed (release gives back without disable's look at libvirt's domains)
#   driverctl  `driverctl set-override DEV vfio-pci` / `unset-override DEV`, each endpoint of the group
# VC_BENCH_RUNS round trips (claim then release; default 5), the methods taking turns round trip by
# round trip. Each command is run by tests/bench/cpu-bench (installed by install-project.sh into
# /usr/libexec/vc-lab-bench): wall time from fork to wait4, CPU = user + system of the command and
# its children (wait4's rusage). Between steps `udevadm settle` (not timed).
# Asserted: every command exited 0, after every claim every endpoint is on vfio-pci with
# /dev/vfio/N, after every release the group is the host's exactly as before (vc_host_whole). The
# timings are printed, never asserted. Then what one start of vfio-claim costs, one `strace -f -c`
# each of a claim and a release (VGA group) and a full `strace -f -tt` of `vfio-claim enable` and
# `disable`, then `release`, of the e1000e (sent back as bench-claim-strace.tar).
# Address space layout randomization: in this TCG guest (QEMU 7.2) a program whose code lands at
# new addresses has it translated again, at every start; with randomization that is every
# program's every start, and most of a short command's CPU (docs/PERFORMANCE.md, "Where the CPU
# goes in the TCG guest"). The round trips run as the guest is (kernel.randomize_va_space 2, as a
# reviewer's guest), or with VC_BENCH_ASLR=0 (make bench-vm BENCH_VM_ASLR=0) with it off, set
# back at the end; either way a section after the table runs the same short commands both ways.
B=/usr/libexec/vc-lab-bench
N=${VC_BENCH_RUNS:-5}
for t in vfio-claim driverctl udevadm; do
        command -v $t >/dev/null || { vc_skip "$t is not installed in the guest"; exit 0; }
done
[ -x $B/cpu-bench ] && [ -x $B/bare-claim ] || { vc_skip "no $B/cpu-bench or bare-claim in the guest"; exit 0; }
VCB=$(command -v vfio-claim) DC=$(command -v driverctl)
vc_lab_groups && vc_clean_slate || exit 1
# vfio-pci loaded once for all three (bare-claim does not load it; the others would).
vc_load_vfio || { vc_not_ok "cannot load vfio-pci"; exit 1; }
for a in $EP_DISP $EP_NIC; do vc_host_snapshot "$a"; done
ASLR_KNOB=/proc/sys/kernel/randomize_va_space
aslr_was=$(cat $ASLR_KNOB)
[ "${VC_BENCH_ASLR:-}" = 0 ] && echo 0 >$ASLR_KNOB
aslr_rounds=$(cat $ASLR_KNOB)
D=/tmp/bench-claim
rm -rf $D && mkdir -p $D

# meter CMD [ARGS] [-- CMD [ARGS]]...: run the commands once each (cpu-bench), print the sums
# "cpu_us wall_us"; non-zero when one failed (its stderr in $D/meter.err).
meter() {
        $B/cpu-bench 1 "$@" >$D/meter.out 2>$D/meter.err || return 1
        awk '{ c += $1; w += $3 } END { printf "%d %d\n", c, w }' $D/meter.out
}
# cmds METHOD claim|release DEVICE ENDPOINTS...: the command line(s) of one step.
cmds() {
        _m=$1 _p=$2 _d=$3; shift 3; _c=
        case $_m.$_p in
        bare.*) _c="$B/bare-claim $_p '' $*" ;;
        vfio-claim.claim) _c="$VCB enable $_d" ;;
        vfio-claim.release) _c="$VCB disable $_d" ;;
        vc-release.claim) _c="$VCB enable $_d" ;;
        vc-release.release) _c="$VCB release $_d" ;;
        driverctl.claim) for _a; do _c="$_c${_c:+ -- }$DC set-override $_a vfio-pci"; done ;;
        driverctl.release) for _a; do _c="$_c${_c:+ -- }$DC unset-override $_a"; done ;;
        esac
        echo "$_c"
}
# step KEY METHOD PHASE DEVICE GROUP ENDPOINTS...: one timed claim or release, then settle and
# check the end state; appends "cpu wall" to $D/KEY.METHOD.PHASE. Non-zero (reason in $VC_WHY).
step() {
        _k=$1 _m=$2 _p=$3 _d=$4 _g=$5; shift 5
        _eps=$*
        eval "set -- $(cmds "$_m" "$_p" "$_d" $_eps)"
        if ! _r=$(meter "$@"); then
                VC_WHY=" $_m $_p exited non-zero: $(cat $D/meter.err)"
                return 1
        fi
        echo "$_r" >>"$D/$_k.$_m.$_p"
        [ "$_m.$_p" = vc-release.release ] && rm -f "$(vc_conf_of "$_d")"
        udevadm settle -t 60
        if [ "$_p" = claim ]; then
                vc_wait 30 vc_on_vfio "$_g" $_eps || { vc_on_vfio "$_g" $_eps; VC_WHY=" after $_m claim:$VC_WHY"; return 1; }
        else
                vc_wait 30 vc_host_whole "$_g" $_eps ||
                        { vc_host_whole "$_g" $_eps; VC_WHY=" after $_m release:$VC_WHY"; return 1; }
        fi
}
# give_back KEY DEVICE: after a failure, every way of releasing, so the next method starts clean.
give_back() {
        for _a in $(eval echo "\$EP_$1"); do $DC --nosave unset-override "$_a" >/dev/null 2>&1; done
        $VCB disable "$2" >/dev/null 2>&1
        $B/bare-claim release '' $(eval echo "\$EP_$1") >/dev/null 2>&1
        rm -f /etc/driverctl.d/* "$(vc_conf_of "$2")"
        udevadm settle -t 60
}

METHODS="bare vfio-claim vc-release driverctl"
for k in DISP NIC; do
        case $k in DISP) dev=$VGA g=$G_DISP what=display+audio ;; NIC) dev=$E1E g=$G_NIC what=e1000e ;; esac
        vc_host_whole "$g" $(eval echo "\$EP_$k") || { vc_not_ok "$what group $g is not the host's before the bench:$VC_WHY"; continue; }
        failed=
        i=0
        while [ $i -lt "$N" ]; do
                i=$((i + 1))
                for m in $METHODS; do
                        case " $failed " in *" $m "*) continue ;; esac
                        if step $k $m claim "$dev" "$g" $(eval echo "\$EP_$k") &&
                                step $k $m release "$dev" "$g" $(eval echo "\$EP_$k"); then
                                continue
                        fi
                        echo "$what, $m, round trip $i:$VC_WHY"
                        echo "group $g now:$(vc_group_picture "$g" $(eval echo "\$EP_$k"))"
                        vc_not_ok "$what group $g, $m: round trip $i of $N failed:$VC_WHY"
                        failed="$failed $m"
                        give_back $k "$dev"
                done
        done
        for m in $METHODS; do
                case " $failed " in *" $m "*) continue ;; esac
                vc_ok "$what group $g, $m: $N round trips, every command exited 0, every endpoint on vfio-pci with /dev/vfio/$g after each claim, the group the host's as before after each release"
        done
done
left=$(ls -A /etc/driverctl.d /etc/vfio-claim/conf.d 2>/dev/null | grep -v ':$' | grep -v '^$')
[ -z "$left" ] && vc_ok "no driverctl override file and no conf.d file left" ||
        vc_not_ok "left behind: $(echo $left)"

# The table: medians over the round trips (ms), and the ratios to the bare writes'.
echo "bench-claim: $N round trips per method and group, medians; CPU = user+sys of the command and its children; ms; kernel.randomize_va_space=$aslr_rounds"
echo "| group | method (claim / release) | claim CPU | release CPU | round trip CPU | CPU × bare | claim wall | release wall | round trip wall | wall × bare |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for k in DISP NIC; do
        case $k in DISP) what=display+audio ;; NIC) what=e1000e ;; esac
        bc= bw=
        for m in $METHODS; do
                c=$D/$k.$m.claim r=$D/$k.$m.release
                [ -s "$c" ] && [ -s "$r" ] || continue
                cc=$(awk '{ print $1 }' "$c" | med) rc=$(awk '{ print $1 }' "$r" | med)
                cw=$(awk '{ print $2 }' "$c" | med) rw=$(awk '{ print $2 }' "$r" | med)
                tc=$(paste "$c" "$r" | awk '{ print $1 + $3 }' | med)
                tw=$(paste "$c" "$r" | awk '{ print $2 + $4 }' | med)
                [ "$m" = bare ] && bc=$tc bw=$tw
                case $m in
                bare) label="bare writes (bare-claim)" ;;
                vfio-claim) label="vfio-claim enable / disable" ;;
                vc-release) label="vfio-claim enable / release" ;;
                driverctl) label="driverctl set-override / unset-override" ;;
                esac
                awk -v w="$what" -v m="$label" -v cc="$cc" -v rc="$rc" -v tc="$tc" -v cw="$cw" -v rw="$rw" -v tw="$tw" \
                        -v bc="$bc" -v bw="$bw" 'BEGIN {
                        printf "| %s | %s | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %s |\n", w, m,
                                cc / 1000, rc / 1000, tc / 1000, (bc > 0 ? sprintf("%.1f×", tc / bc) : ""),
                                cw / 1000, rw / 1000, tw / 1000, (bw > 0 ? sprintf("%.1f×", tw / bw) : "") }'
        done
done
echo "raw (per round trip: claim cpu wall, release cpu wall, µs):"
for f in $D/*.claim; do
        echo "$(basename "$f" .claim): $(paste "$f" "${f%.claim}.release" | tr '\t\n' '  ')"
done

# Where vfio-claim's time goes: one start of the program (loader and libraries, no sysfs work)
# against /bin/true and bare-claim's usage error, and the loader's own statistics.
$B/cpu-bench "$N" -k /bin/true -- $B/bare-claim -- "$VCB" --version >$D/start.out 2>$D/start.err ||
        cat $D/start.err
echo "process start, $N runs each (µs): median CPU, min CPU, median wall"
{ read -r l1; read -r l2; read -r l3; } <$D/start.out
echo "  /bin/true: $l1"
echo "  bare-claim (its usage error): $l2"
echo "  vfio-claim --version: $l3"
echo "loader statistics of vfio-claim --version (LD_DEBUG=statistics):"
LD_DEBUG=statistics "$VCB" --version 2>&1 >/dev/null | sed -n 's/^ *[0-9]*: *//p' | sed 's/^/  /'
echo "shared objects vfio-claim loads: $(ldd "$VCB" | wc -l)"
# Where the rest of a claim goes: status (the configuration and the records), and enable and
# release with --dry-run (every read and check of the real command: the group, the consent, the
# host-critical scan, the plan; no lock, no record, no write), the groups the host's.
$B/cpu-bench "$N" "$VCB" status -- "$VCB" enable --dry-run "$E1E" -- "$VCB" release --dry-run "$E1E" \
        -- "$VCB" enable --dry-run "$VGA" >$D/split.out 2>$D/split.err || cat $D/split.err
echo "vfio-claim without writing, $N runs each (µs): median CPU, min CPU, median wall"
{ read -r l1; read -r l2; read -r l3; read -r l4; } <$D/split.out
echo "  status: $l1"
echo "  enable --dry-run (e1000e): $l2"
echo "  release --dry-run (e1000e, not claimed): $l3"
echo "  enable --dry-run (display+audio): $l4"
# The same short commands with the address space randomized (2) and not (0): what TCG's
# translation of code at new addresses adds to each start. The knob set back after.
for v in 2 0; do
        echo $v >$ASLR_KNOB
        $B/cpu-bench "$N" /bin/true -- "$VCB" --version -- "$VCB" status -- "$VCB" enable --dry-run "$E1E" \
                -- "$VCB" enable --dry-run "$VGA" >$D/aslr.$v 2>$D/aslr.err || cat $D/aslr.err
done
echo "$aslr_rounds" >$ASLR_KNOB
echo "kernel.randomize_va_space 2 (randomized) against 0 (not), $N runs each (µs): median CPU 2, median CPU 0, ratio"
for what in /bin/true "vfio-claim --version" "vfio-claim status" "vfio-claim enable --dry-run (e1000e)" \
        "vfio-claim enable --dry-run (display+audio)"; do
        echo "$what"
done | paste -d'\t' - $D/aslr.2 $D/aslr.0 |
        awk -F'\t' '{ split($2, a, " "); split($3, b, " ");
                printf "  %s: %d %d %s\n", $1, a[1], b[1], (b[1] > 0 ? sprintf("%.1f×", a[1] / b[1]) : "") }'

# System calls of one claim and one release of the display+audio group, each way.
if command -v strace >/dev/null; then
        eps=$EP_DISP
        strace -f -c -o $D/strace.vfio-claim.enable "$VCB" enable "$VGA" >/dev/null 2>&1; udevadm settle -t 60
        strace -f -c -o $D/strace.vfio-claim.disable "$VCB" disable "$VGA" >/dev/null 2>&1; udevadm settle -t 60
        strace -f -c -o $D/strace.bare.claim $B/bare-claim claim '' $eps; udevadm settle -t 60
        strace -f -c -o $D/strace.bare.release $B/bare-claim release '' $eps; udevadm settle -t 60
        strace -f -c -o $D/strace.driverctl.claim busybox sh -c \
                'for a in '"$eps"'; do '"$DC"' set-override $a vfio-pci; done' >/dev/null 2>&1; udevadm settle -t 60
        strace -f -c -o $D/strace.driverctl.release busybox sh -c \
                'for a in '"$eps"'; do '"$DC"' unset-override $a; done' >/dev/null 2>&1; udevadm settle -t 60
        vc_wait 30 vc_host_whole "$G_DISP" $EP_DISP &&
                vc_ok "display+audio group $G_DISP the host's after the strace runs" ||
                { vc_not_ok "display+audio group $G_DISP after the strace runs:$VC_WHY"; give_back DISP "$VGA"; }
        echo "system calls (strace -f -c), display+audio group: total calls, processes started (execve), clone/fork:"
        for f in $D/strace.*; do
                # Lines "% time seconds usecs/call calls [errors] syscall": calls is the 4th field.
                awk -v n="${f#$D/strace.}" '
                        $1 !~ /^[0-9.]+$/ || $NF == "total" { next }
                        { tot += $4 }
                        $NF == "execve" { ex = $4 }
                        $NF ~ /^(clone|clone3|fork|vfork)$/ { cl += $4 }
                        END { printf "  %-22s %6s calls, %3d execve, %3d clone\n", n, tot, ex, cl }' "$f"
        done
        echo "strace -f -c of vfio-claim enable (display+audio):"
        sed 's/^/  /' $D/strace.vfio-claim.enable
        # Full traces (timestamps, every process) of one enable and one disable of the e1000e's group.
        strace -f -tt -s 128 -o $D/trace.vfio-claim.enable "$VCB" enable "$E1E" >/dev/null 2>&1; udevadm settle -t 60
        strace -f -tt -s 128 -o $D/trace.vfio-claim.disable "$VCB" disable "$E1E" >/dev/null 2>&1; udevadm settle -t 60
        "$VCB" enable "$E1E" >/dev/null 2>&1; udevadm settle -t 60
        strace -f -tt -s 128 -o $D/trace.vfio-claim.release "$VCB" release "$E1E" >/dev/null 2>&1; udevadm settle -t 60
        rm -f "$(vc_conf_of "$E1E")"
        vc_wait 30 vc_host_whole "$G_NIC" $EP_NIC &&
                vc_ok "e1000e group $G_NIC the host's after the traced enable, disable and release" ||
                { vc_not_ok "e1000e group $G_NIC after the traced enable, disable and release:$VC_WHY"; give_back NIC "$E1E"; }
        tar -C $D -cf /tmp/bench-claim-strace.tar $(cd $D && ls strace.* trace.*)
        vc_send bench-claim-strace.tar /tmp/bench-claim-strace.tar
else
        echo "no strace in the guest: no system call counts"
fi
echo "$aslr_was" >$ASLR_KNOB
