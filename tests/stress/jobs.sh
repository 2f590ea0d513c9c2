#!/bin/sh
# vc-stress --jobs (tests/stress/README.md, "Jobs"): a run with two jobs runs the steps a run with
# one job runs, counts them all; a run split with --first-episode runs them too; a run stopped
# with SIGTERM says what it checked and where to go on, and exits 130.
set -u
b=${abs_top_builddir:-.}
stress=$b/tests/stress/vc-stress
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "jobs.sh: $*" >&2; exit 1; }

# One actor: each episode's steps are the seed's and the episode's alone. --verbose prints every
# step ("  N: STEP"); as multisets the two runs' steps must be the same.
"$stress" --seed 7 --steps 120 --actors 1 --episode-steps 20 --hang-permille 0 --verbose \
        >"$tmp/one.out" 2>"$tmp/one.err" || fail "one job: exit $? ($(tail -1 "$tmp/one.out"))"
"$stress" --seed 7 --steps 120 --actors 1 --episode-steps 20 --hang-permille 0 --verbose --jobs 2 \
        >"$tmp/two.out" 2>"$tmp/two.err" || fail "two jobs: exit $? ($(tail -1 "$tmp/two.out"))"
grep -q '^vc-stress: 120 steps .* in 6 episodes without a violation: .*(2 jobs)$' "$tmp/two.out" ||
        fail "two jobs: no summary of 120 steps in 6 episodes: $(cat "$tmp/two.out")"
grep '^  [0-9]*: ' "$tmp/one.err" | sort >"$tmp/one.steps"
grep '^  [0-9]*: ' "$tmp/two.err" | sort >"$tmp/two.steps"
[ "$(wc -l <"$tmp/one.steps")" -eq 120 ] || fail "one job printed $(wc -l <"$tmp/one.steps") steps, not 120"
cmp -s "$tmp/one.steps" "$tmp/two.steps" || fail "two jobs ran other steps than one: $(diff "$tmp/one.steps" "$tmp/two.steps" | head -5)"

# A run that goes on from an episode (--first-episode) runs the rest of the same episodes.
"$stress" --seed 7 --steps 60 --actors 1 --episode-steps 20 --hang-permille 0 --verbose --jobs 2 \
        >"$tmp/head.out" 2>"$tmp/head.err" || fail "episodes 0-2: exit $?"
"$stress" --seed 7 --steps 60 --actors 1 --episode-steps 20 --hang-permille 0 --verbose --jobs 2 --first-episode 3 \
        >"$tmp/tail.out" 2>"$tmp/tail.err" || fail "episodes 3-5: exit $?"
cat "$tmp/head.err" "$tmp/tail.err" | grep '^  [0-9]*: ' | sort >"$tmp/split.steps"
cmp -s "$tmp/one.steps" "$tmp/split.steps" || fail "episodes 0-2 and 3-5 ran other steps than 0-5 at once: $(diff "$tmp/one.steps" "$tmp/split.steps" | head -5)"

# Stopped from outside once both workers run a step: exit 130, a summary, no worker left.
"$stress" --seed 7 --steps 100000 --actors 2 --jobs 2 --workdir "$tmp/w" >"$tmp/stop.out" 2>&1 &
pid=$!
i=0
until [ -e "$tmp/w/job0/actor0.log" ] && [ -e "$tmp/w/job1/actor0.log" ]; do
        i=$((i + 1))
        [ $i -lt 6000 ] || { kill -KILL $pid; fail "the workers ran no step in 10 minutes"; }
        kill -0 $pid 2>/dev/null || fail "the run ended before it was stopped: $(cat "$tmp/stop.out")"
        sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "stopped run: exit $rc, not 130: $(cat "$tmp/stop.out")"
grep -q '^vc-stress: [0-9]* steps .*(stopped from outside before the end) without a violation' "$tmp/stop.out" ||
        fail "stopped run: no summary: $(cat "$tmp/stop.out")"
grep -q '^vc-stress: to go on: --seed 7 --first-episode [0-9]* --steps [0-9]* ' "$tmp/stop.out" ||
        fail "stopped run: no line to go on with: $(cat "$tmp/stop.out")"
# (jo[b]: a pattern that does not match grep's own command line)
if grep -l -a -e "$tmp/w/jo[b]" /proc/[0-9]*/cmdline 2>/dev/null | grep -q .; then
        fail "a worker still runs after the run ended"
fi
echo "jobs.sh: 120 steps the same with one job, two jobs and split in two; a stopped run exits 130 with its summary"
