# vc-timeout: 1500
# SIGKILL of `vfio-claim enable` at random points of 30 claims, on the real
# kernel. Each round picks one of three groups (display+audio, the e1000e, the
# bridge group), starts the claim, kills it after a random delay, shows what
# the kill left (`vfio-claim status` must exit 0), and runs the next command,
# `vfio-claim release` or `vfio-claim enable` (picked at random). That command
# must exit 0 and leave the group whole: release -> the host's exactly as
# before, with no record; enable -> every endpoint on vfio-pci with a
# "claimed" record. The other two groups must be untouched. `vfio-claim
# disable` then gives the group back for the next round.
#
# The delays are drawn between 30 % and 110 % of the time an uninterrupted
# enable of that group took here first (the program's start, before the first
# write, takes about half of it under TCG), so the kills spread over the
# transaction whatever the speed of the machine. The generator is seeded: the seed is printed, and
# `run.sh --env VC_SEED=N kill-claims` draws the same groups, delays and
# commands again (where a delay lands still depends on the machine's speed).
# VC_KILLS (run.sh --env) changes the number of rounds.
command -v vfio-claim >/dev/null || { vc_skip "vfio-claim is not installed in the guest"; exit 0; }
vc_lab_groups && vc_clean_slate || exit 1
K=${VC_KILLS:-30}
seed=${VC_SEED:-$(( $(date +%s) % 1000000 ))}
vc_rng_seed "$seed"
echo "seed $seed (again: tests/vm/run.sh --env VC_SEED=$seed kill-claims)"
for a in $EP_DISP $EP_NIC $EP_BR; do vc_host_snapshot "$a"; done

# Indexed by 0 1 2: group, device, endpoints, name.
g0=$G_DISP d0=$VGA e0=$EP_DISP n0=display+audio
g1=$G_NIC d1=$E1E e1=$EP_NIC n1=e1000e
g2=$G_BR d2=$E1K e2=$EP_BR n2=bridge
all_whole_but() { # N: every group except number N is the host's
        _bad=
        for _j in 0 1 2; do
                [ "$_j" = "$1" ] && continue
                eval "vc_host_whole \$g$_j \$e$_j" || _bad="$_bad group $(eval echo \$g$_j):$VC_WHY"
        done
        VC_WHY=$_bad
        [ -z "$_bad" ]
}
all_whole_but none || { vc_not_ok "not every group is the host's before the kills:$VC_WHY"; exit 1; }

# Calibration: how long each group's enable takes (and, for the log, the program's start).
vc_now; t=$VC_NOW; vfio-claim status >/dev/null 2>&1; vc_cs_since "$t"; t_start=$VC_CS
for j in 0 1 2; do
        eval "g=\$g$j d=\$d$j e=\$e$j"
        vc_now; t=$VC_NOW
        vfio-claim enable --yes "$d" >/tmp/kill.out 2>&1 || { cat /tmp/kill.out; vc_not_ok "calibration: enable $d failed"; exit 1; }
        vc_cs_since "$t"; eval "t_en$j=$VC_CS"
        vc_vfio_whole "$g" $e || { vc_not_ok "calibration: group $g not claimed whole:$VC_WHY"; exit 1; }
        vfio-claim disable "$d" >/tmp/kill.out 2>&1 && vc_host_whole "$g" $e ||
                { cat /tmp/kill.out; vc_not_ok "calibration: disable $d failed:$VC_WHY"; exit 1; }
done
echo "calibration: program start (status) ${t_start}0 ms; enable ${t_en0}0 / ${t_en1}0 / ${t_en2}0 ms"

n_before=0 n_mid=0 n_claimed=0 n_done=0 n_odd=0
k=0
while [ $k -lt "$K" ]; do
        k=$((k + 1))
        vc_rng 3; j=$VC_R
        eval "g=\$g$j d=\$d$j e=\$e$j name=\$n$j t_en=\$t_en$j"
        lo=$((t_en * 3)) hi=$((t_en * 11))             # milliseconds: 30 % to 110 %
        vc_rng $((hi - lo)); delay=$((lo + VC_R))
        vc_rng 2; [ $VC_R = 0 ] && next=release || next=enable
        conf=$(vc_conf_of "$d")

        vfio-claim enable --yes "$d" >/tmp/kill.out 2>&1 &
        pid=$!
        usleep $((delay * 1000))
        kill -KILL $pid 2>/dev/null
        wait $pid; rc=$?
        # What the kill left.
        if [ $rc -eq 0 ]; then
                left="finished before the kill"; n_done=$((n_done + 1))
        elif vc_host_whole "$g" $e; then
                left="nothing changed yet"; n_before=$((n_before + 1))
        elif [ -e "/run/vfio-claim/group-$g" ] && grep -q '^state claiming' "/run/vfio-claim/group-$g"; then
                left="mid-claim, record 'claiming'"; n_mid=$((n_mid + 1))
        elif vc_vfio_whole "$g" $e; then
                left="claimed$([ -e "$conf" ] || echo ', configuration not written')"; n_claimed=$((n_claimed + 1))
        else
                left="no 'claiming' record, not whole"; n_odd=$((n_odd + 1))
        fi
        picture=$(vc_group_picture "$g" $e)
        stray=$(ls -A /run/vfio-claim /etc/vfio-claim/conf.d 2>/dev/null | grep '^\.' | tr '\n' ' ')
        round="kill $k/$K: $name group $g, enable killed after $delay ms (exit $rc): $left;$picture${stray:+; temporary files left: $stray}"
        echo "$round"

        fail=
        timeout -s KILL 120 vfio-claim status >/tmp/kill.status 2>&1; rc=$?
        [ $rc -eq 0 ] || fail="vfio-claim status exited $rc: $(tail -n 2 /tmp/kill.status | tr '\n' ' ')"
        if [ -z "$fail" ]; then
                yes=; [ $next = enable ] && yes=--yes # a bridge group moves two slots
                timeout -s KILL 120 vfio-claim "$next" $yes "$d" >/tmp/kill.next 2>&1; rc=$?
                if [ $rc -ne 0 ]; then
                        fail="vfio-claim $next exited $rc: $(tail -n 3 /tmp/kill.next | tr '\n' ' ')"
                elif [ $next = release ]; then
                        vc_host_whole "$g" $e || fail="after vfio-claim release:$VC_WHY"
                else
                        vc_vfio_whole "$g" $e || fail="after vfio-claim enable:$VC_WHY"
                        [ -n "$fail" ] || [ -f "$conf" ] || fail="after vfio-claim enable: no $conf"
                fi
        fi
        all_whole_but "$j" || fail="${fail:+$fail; }other groups:$VC_WHY"
        if [ -n "$fail" ]; then
                cat /tmp/kill.out /tmp/kill.status /tmp/kill.next 2>/dev/null
                echo "after $next:$(vc_group_picture "$g" $e)"
                vc_not_ok "$round; then: $fail (seed $seed)"
        else
                vc_ok "kill $k/$K ($name group $g, $delay ms, $left): status exit 0, then vfio-claim $next exit 0 left every group whole"
        fi
        # Back to the host for the next round (disable also removes a conf.d file the killed
        # enable may have written).
        timeout -s KILL 120 vfio-claim disable "$d" >/tmp/kill.out 2>&1; rc=$?
        if [ $rc -ne 0 ] || ! vc_host_whole "$g" $e || [ -e "$conf" ]; then
                cat /tmp/kill.out
                vc_not_ok "after kill $k: vfio-claim disable $d (exit $rc) did not give group $g back whole:$VC_WHY$([ -e "$conf" ] && echo " $conf left") (seed $seed)"
                vfio-claim release "$d" >/dev/null 2>&1; rm -f "$conf"
        fi
done
echo "where the $K kills landed: $n_before before any change, $n_mid mid-claim ('claiming' record), $n_claimed after the claim, $n_done after the end, $n_odd elsewhere"
stray=$(ls -A /run/vfio-claim /etc/vfio-claim/conf.d 2>/dev/null | grep '^\.' | tr '\n' ' ')
[ -z "$stray" ] || echo "temporary files the kills left: $stray"
