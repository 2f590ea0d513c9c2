#!/bin/bash
# demo.sh [--src DIR]: build or reuse the lab guest and show, step by step,
# a device group claimed for passthrough, inspected and given back, without
# touching this host. (Busybox route only for now: see README.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

logdir=$VC_LAB_CACHE/logs/demo-$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$logdir"
: >"$logdir/serial.log"
echo "Starting a throw-away QEMU guest (software emulation: about 20 s)..."
"$VC_LAB_DIR/run.sh" --logdir "$logdir" "$@" "$VC_LAB_DIR/demo/claim-show-release.sh" >/dev/null &
runner=$!
# Follow the guest's console until run.sh ends: show what the demo prints,
# hide the plumbing.
tail -n +1 -F --pid="$runner" "$logdir/serial.log" 2>/dev/null | tr -d '\r' |
        sed -un -e 's/^# //p' -e 's/^@@VC not-ok [^ ]* /FAILED: /p'
rc=0
wait "$runner" || rc=$?
echo
case $rc in
0) echo "Done. The whole console is in $logdir/serial.log." ;;
77) echo "The lab cannot run on this machine (reason above)." ;;
*) echo "The demo failed; logs in $logdir." ;;
esac
exit "$rc"
