#!/usr/bin/env bats
# Generated boot scenarios: tests/boot-gen/gen.sh makes, for each seed of a fixed list, a
# fake-kernel topology with twin cards, a random configuration (vfio-claim.conf and conf.d/) and
# a boot (the pass, every device's add event in random order with udev's module load after it,
# the pass again, sometimes an endpoint removed and rescanned or a group released), and says
# from the documentation (vfio-claim.conf(5), vfio-claim(8) BOOT) how it must end. The boot runs
# here the way udev runs it: an add event starts the helper only when the generated rule says so.
# Then:
#   - every device is on the driver the oracle names: vfio-pci for exactly the groups a boot = yes
#     entry selects (first entry wins, every configured member's id = guard holds, consent for
#     another slot, an IOMMU group at all), its host driver otherwise, twins included;
#     driver_override is vfio-pci on the claimed endpoints and empty everywhere else;
#   - a claimed group has a record in state "claimed" and /dev/vfio/N; no other group has either;
#   - an invalid configuration writes nothing under /sys and loads no vfio-pci;
#   - a boot entry that selects a bridge alone in its group (a root port) gets a warning that names
#     it, and no run says the group failed;
#   - the rule runs the helper for the devices the oracle says it must, and for no device
#     outside the rule's documented reach;
#   - the pass, and every endpoint's event, run once more change nothing (fk_writes); after a
#     release, neither the pass nor the released group's configured devices' events (below).
# A failing seed is reproduced with `tests/boot-gen/gen.sh SEED DIR` (DIR/summary says what it
# is) and BOOT_GEN_SEEDS=SEED.

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
GEN="$abs_top_srcdir/tests/boot-gen/gen.sh"
RULE_FILE=run/udev/rules.d/70-vfio-claim.rules
PCI_RULE_MAY_BE_ABSENT=1 # no rule file: udev runs nothing (pci_rule_runs, helpers.bash)

# the seeds: fixed, so that a failure is one a reviewer can run again; 25 take about a minute
# here (BOOT_GEN_SEEDS="$(seq 1 500)" for a longer search). Under memcheck (make check-valgrind,
# VC_WRAPPER) 5: what this file adds there is the helper's memory on new paths, not more
# scenarios, and every run of the helper costs a valgrind start (25 seeds took 4 minutes).
if [ -n "${VC_WRAPPER:-}" ]; then
        BOOT_GEN_SEEDS=${BOOT_GEN_SEEDS:-$(seq 1 5)}
else
        BOOT_GEN_SEEDS=${BOOT_GEN_SEEDS:-$(seq 1 25)}
fi

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# gen_root DIR: the tree of DIR/topo in $BATS_TEST_TMPDIR/root, the configuration of DIR/etc
gen_root() {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        "$FK_MKTREE" "$1/topo" "$ROOT" || return 1
        FAKEKERNEL_ROOT=$ROOT
        CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim"
        STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        mkdir -p "$CONF"
        cp -a "$1/etc/." "$CONF/"
}

pci_id() { # without a process: the check runs it for every device, often
        local d="$ROOT/sys/bus/pci/devices/$1" v dv
        [ -d "$d" ] || return 0
        read -r v < "$d/vendor"
        read -r dv < "$d/device"
        v=${v#0x} dv=${dv#0x}
        printf '%s:%s' "${v^^}" "${dv^^}"
}

# event ADDR: the helper, as udev's RUN runs it for ADDR's add event
event() {
        # shellcheck disable=SC2086
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$1" PCI_SLOT_NAME="$1" \
                PCI_ID="$(pci_id "$1")" FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr \
                $VC_WRAPPER "$UDEV_HELPER"
}

# pass: the boot pass
pass() {
        # shellcheck disable=SC2086
        fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr $VC_WRAPPER "$UDEV_HELPER" --all
}

kmod_load() {
        fk_host "$FK_OP" modprobe "$1"
}


# boot DIR: DIR/steps on the tree; the programs' output goes to $BATS_TEST_TMPDIR/boot.log
boot() {
        local step arg log=$BATS_TEST_TMPDIR/boot.log
        : > "$log"
        while read -r step arg; do
                echo "## $step $arg" >> "$log"
                case $step in
                pass) pass >> "$log" 2>&1 ;;
                event) if pci_rule_runs "$arg"; then event "$arg" >> "$log" 2>&1; else echo "(no helper: the rule does not match)" >> "$log"; fi ;;
                kmod) kmod_load "$arg" >> "$log" 2>&1 ;;
                remove) fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/$arg/remove" 1 >> "$log" 2>&1 ;;
                rescan) fk "$FK_OP" write "$ROOT/sys/bus/pci/rescan" 1 >> "$log" 2>&1 ;;
                release) vc release "group:$arg" >> "$log" 2>&1 ;;
                esac || echo "FAIL: $step $arg exited $?"
        done < "$1/steps"
}

# check DIR: every invariant; prints one line per violation
check() {
        local dir=$1 valid=1 released="" own="" bridges="" k a want got g n d rule
        local -A DRV=() CLAIMED=() MUST=() MAY=()
        while read -r k a want; do
                case $k in
                valid) valid=$a ;;
                dev) DRV[$a]=$want ;;
                claimed) CLAIMED[$a]=1 ;;
                released) released=$a own=" $want " ;;
                must) MUST[$a]=1 ;;
                bridge) bridges="$bridges $a" ;;
                may) MAY[$a]=1 ;;
                esac
        done < "$dir/expect"
        for a in "${!DRV[@]}"; do
                want=${DRV[$a]}
                [ "$want" != - ] || want=""
                got=$(fk_driver "$a")
                [ "$got" = "$want" ] || echo "$a: driver '$got', expected '$want'"
                read -r got < "$ROOT/sys/bus/pci/devices/$a/driver_override"
                [ "$got" != "(null)" ] || got=""
                if [ "$want" = vfio-pci ]; then
                        [ "$got" = vfio-pci ] || echo "$a: claimed, driver_override '$got'"
                else
                        [ -z "$got" ] || echo "$a: not claimed, driver_override '$got'"
                fi
        done
        for g in "${!CLAIMED[@]}"; do
                grep -qx 'state claimed' "$STATE/group-$g" 2>/dev/null || echo "group $g: no record in state claimed"
                [ -e "$ROOT/dev/vfio/$g" ] || echo "group $g: no /dev/vfio/$g"
        done
        for d in "$STATE"/group-*; do
                [ -e "$d" ] || continue
                [ -n "${CLAIMED[${d##*-}]:-}" ] || echo "group ${d##*-}: a record, not expected: $(tr '\n' ' ' < "$d")"
        done
        for d in "$ROOT"/dev/vfio/[0-9]*; do
                [ -e "$d" ] || continue
                [ -n "${CLAIMED[${d##*/}]:-}" ] || echo "/dev/vfio/${d##*/}: not expected"
        done
        if [ "$valid" = 0 ]; then
                # the test's own: module loads, remove and rescan
                n=$(grep -v -E '^modprobe:(e1000e|nouveau|snd_hda_intel|xhci_hcd|igb)	|/remove	1	ok$|^sys/bus/pci/rescan	' \
                        "$ROOT/.fakekernel/writes.log" | head -n 3)
                [ -z "$n" ] || echo "invalid configuration, yet written: $n"
        fi
        # a boot entry that names a bridge alone in its group: one warning, not a failed claim
        for a in $bridges; do
                grep -q "selects $a, a PCI bridge alone in IOMMU group" "$BATS_TEST_TMPDIR/boot.log" ||
                        echo "$a: a bridge alone in its group, no warning that names it"
        done
        grep -q 'failed to read the group' "$BATS_TEST_TMPDIR/boot.log" && echo "a group could not be read: $(grep -m1 'failed to read the group' "$BATS_TEST_TMPDIR/boot.log")"
        # the rule
        for a in "${!DRV[@]}"; do
                rule=0
                pci_rule_runs "$a" && rule=1
                [ -z "${MUST[$a]:-}" ] || [ $rule = 1 ] || echo "rule: does not run the helper for $a"
                [ $rule = 0 ] || [ -n "${MAY[$a]:-}" ] || echo "rule: runs the helper for $a, for no documented reason"
        done
        # idempotent: the pass, and every endpoint's event, once more. Not the pass after a group
        # was given back: vfio-claim(8) says the group is the host's for the rest of the boot, but
        # lists what claims it again (its own add event, apply, the next boot) without the pass,
        # which does claim it again (the early unit runs it once, before any release could be)
        n=$(fk_writes)
        [ -n "$released" ] || pass > /dev/null 2>&1
        [ "$(fk_writes)" = "$n" ] || echo "the pass again wrote: $(tail -n +$((n + 1)) "$ROOT/.fakekernel/writes.log" | head -n 3 | tr '\n' ' ')"
        n=$(fk_writes)
        for a in "${!DRV[@]}"; do
                [ "$(cat "$ROOT/sys/bus/pci/devices/$a/class")" != 0x060400 ] || continue
                [[ $own != *" $a "* ]] || continue # its own event claims its group again
                event "$a" > /dev/null 2>&1
                [ "$(fk_writes)" = "$n" ] || { echo "the event of $a again wrote: $(tail -n +$((n + 1)) "$ROOT/.fakekernel/writes.log" | head -n 3 | tr '\n' ' ')"; n=$(fk_writes); }
        done
}

@test "generated boot scenarios with twin cards end as the documentation says" {
        local seed dir out failed=0
        for seed in $BOOT_GEN_SEEDS; do
                dir=$BATS_TEST_TMPDIR/case-$seed
                "$GEN" "$seed" "$dir"
                gen_root "$dir"
                out=$(boot "$dir"; check "$dir")
                if [ -n "$out" ]; then
                        failed=$((failed + 1))
                        {
                                echo "# ---- seed $seed"
                                sed 's/^/# /' <<< "$out"
                                sed 's/^/#   /' "$dir/summary"
                                echo "#   boot log:"
                                sed 's/^/#     /' "$BATS_TEST_TMPDIR/boot.log"
                        } >&3
                fi
        done
        [ "$failed" = 0 ] || { echo "$failed seeds failed" >&3; false; }
        ROOT= # the last tree says nothing about the failures above
}

# ---- cases the generator found, shrunk

# Seed 11 (with a rescan), shrunk: the GPU's audio function, which no entry names, removed and
# found again by a rescan after the boot claim. snd_hda_intel, loaded by then, binds it before its
# add event; the event (the rule runs the helper for every endpoint of a boot group) must give it
# back to vfio-pci with the rest of the group. It left the group split: the display on vfio-pci,
# its audio function on the host driver.
@test "a rescanned endpoint of a claimed boot group that no entry names joins the group again" {
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
boot = yes'
        run pass
        assert_success
        kmod_load snd_hda_intel
        assert_equal "$(fk_driver 0000:00:05.1)" vfio-pci
        fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/0000:00:05.1/remove" 1
        fk "$FK_OP" write "$ROOT/sys/bus/pci/rescan" 1
        assert_equal "$(fk_driver 0000:00:05.1)" snd_hda_intel
        pci_rule_runs 0000:00:05.1
        run event 0000:00:05.1
        assert_success
        assert_equal "$(fk_driver 0000:00:05.1) $(fk_override 0000:00:05.1)" "vfio-pci vfio-pci"
        assert_equal "$(fk_driver 0000:00:05.0)" vfio-pci
        grep -qx 'state claimed' "$STATE/group-1"
        grep -q '^device 0000:00:05.1 ' "$STATE/group-1"
        # and again: nothing to do
        n=$(fk_writes)
        run event 0000:00:05.1
        assert_success
        assert_equal "$(fk_writes)" "$n"
}

# The same event for a group that is not claimed: given back by vfio-claim release, it is left
# to the host for the rest of the boot (vfio-claim(8), BOOT); only the configured device's own
# event claims it again.
@test "a rescanned endpoint of a boot group given back stays with the host" {
        fake_root twin-nics
        conf '[device display]
match = 0000:00:05.0
boot = yes'
        run pass
        assert_success
        kmod_load snd_hda_intel
        kmod_load bochs
        run vc release display
        assert_success
        [ ! -e "$STATE/group-1" ]
        fk "$FK_OP" write "$ROOT/sys/bus/pci/devices/0000:00:05.1/remove" 1
        fk "$FK_OP" write "$ROOT/sys/bus/pci/rescan" 1
        n=$(fk_writes)
        run event 0000:00:05.1
        assert_success
        assert_equal "$(fk_writes)" "$n"
        assert_equal "$(fk_driver 0000:00:05.1) $(fk_override 0000:00:05.1)" "snd_hda_intel "
}
