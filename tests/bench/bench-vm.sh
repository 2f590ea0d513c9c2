#!/bin/bash
# tests/bench/bench-vm.sh [RUNS [run-debian.sh OPTIONS...]]: `make bench-vm`. VC_BENCH_ASLR=0 in
# the environment (make bench-vm BENCH_VM_ASLR=0): the round trips with the guest's address space
# layout randomization off (see the scenario's header). Runs the lab
# scenario tests/vm/scenarios/bench-claim.sh (RUNS round trips, default 5) in the Debian guest
# through tests/vm/run-debian.sh, prints its TAP, then the scenario's table and notes (they
# are TAP comments in the run's scenario-output.txt) with the date and this host. Exit status
# that of run-debian.sh (0 passed, 1 a failure, 77 the lab cannot run here).
set -uo pipefail
. "$(dirname "$0")/../vm/lib.sh"
runs=${1:-5}
shift || true
logdir=$VC_LAB_CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)-bench-vm-$$
host="$(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)),"
host="$host $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)"
start="$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
aslr=()
case ${VC_BENCH_ASLR:-} in
'') ;;
0) aslr=(--env VC_BENCH_ASLR=0) ;;
*) echo "bench-vm: BENCH_VM_ASLR=$VC_BENCH_ASLR: only 0 (randomization off) or nothing (the guest's own)" >&2; exit 2 ;;
esac
bash "$VC_LAB_DIR/run-debian.sh" --logdir "$logdir" --env "VC_BENCH_RUNS=$runs" "${aslr[@]}" --install make "$@" bench-claim || rc=$?
echo "# make bench-vm: $runs round trips${aslr:+, address space layout randomization off in the guest}; started $start; ended $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# host: $host; guest: QEMU TCG, 2 vCPUs ($(tr ' ' '\n' <"$logdir/qemu.cmdline" 2>/dev/null | grep -m1 -A1 '^-accel$' | tail -n1 | tr -d '\\'))"
echo "# lab times: $(cat "$logdir/times" 2>/dev/null)"
if [[ -s $logdir/scenario-output.txt ]]; then
        # Everything the scenario printed from its table on, but the full strace listing.
        sed -n '/^# bench-claim:/,/^# strace -f -c of vfio-claim enable/p' "$logdir/scenario-output.txt" | sed '$d'
fi
echo "# logs: $logdir"
exit "$rc"
