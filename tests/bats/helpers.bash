# Shared bats helpers: load with `load helpers`.
#
# abs_top_srcdir / abs_top_builddir come from make check's
# AM_TESTS_ENVIRONMENT; by hand they default to the repository.

: "${abs_top_srcdir:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
export abs_top_srcdir abs_top_builddir

bats_require_minimum_version 1.5.0 # run --separate-stderr, run -N

# bats-support and bats-assert. Their load.bash files run dirname(1) for each file they source:
# 15 processes in every test, half of what a short test starts. Their src/*.bash files (function
# definitions only) are sourced here instead; a library laid out otherwise loads the usual way.
BATS_LIB_PATH=${BATS_LIB_PATH:-/usr/lib/bats}
for vc_lib in bats-support bats-assert; do
        vc_lib_loaded=
        IFS=: read -ra vc_lib_dirs <<< "$BATS_LIB_PATH"
        for vc_lib_dir in "${vc_lib_dirs[@]}"; do
                [ -f "$vc_lib_dir/$vc_lib/load.bash" ] || continue
                for vc_lib_file in "$vc_lib_dir/$vc_lib"/src/*.bash; do
                        [ -f "$vc_lib_file" ] || continue
                        # shellcheck disable=SC1090
                        source "$vc_lib_file"
                        vc_lib_loaded=1
                done
                break
        done
        [ -n "$vc_lib_loaded" ] || bats_load_library "$vc_lib"
done
unset vc_lib vc_lib_loaded vc_lib_dirs vc_lib_dir vc_lib_file

FK_SHIM="$abs_top_builddir/.libs/libfakekernel.so"
FK_MKTREE="$abs_top_builddir/tests/fakekernel/fakesys-mktree"
FK_OP="$abs_top_builddir/tests/fakekernel/fakesys-op"

# fake_root FIXTURE: a fresh tree in $BATS_TEST_TMPDIR/root from
# tests/fixtures/FIXTURE.topo; exports ROOT and FAKEKERNEL_ROOT.
fake_root() {
        ROOT="$BATS_TEST_TMPDIR/root"
        rm -rf "$ROOT"
        "$FK_MKTREE" "$abs_top_srcdir/tests/fixtures/$1.topo" "$ROOT" || return 1
        FAKEKERNEL_ROOT=$ROOT
        # Where the programs look inside the root: the configured sysconfdir and runstatedir
        # (make check exports them; by hand, the defaults of ./configure).
        CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim"
        STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
}

# On failure, say where the tree and the write log are.  A bats file with
# its own teardown() should call fk_teardown from it.
fk_teardown() {
        # a holder a failed test left (lock_hold, device_lock_hold): let it go, or its loop polls
        # a removed directory for ever
        if [ -n "${LOCK_HOLDER_PID:-}" ] && kill -0 "$LOCK_HOLDER_PID" 2>/dev/null; then
                touch "$BATS_TEST_TMPDIR/go"
                wait "$LOCK_HOLDER_PID" 2>/dev/null || true
        fi
        if [ -n "${DEV_HOLDER_PID:-}" ] && kill -0 "$DEV_HOLDER_PID" 2>/dev/null; then
                touch "$BATS_TEST_TMPDIR/devgo"
                wait "$DEV_HOLDER_PID" 2>/dev/null || true
        fi
        if [ -n "${ROOT:-}" ] && [ -z "${BATS_TEST_COMPLETED:-}" ]; then
                echo "# fake kernel tree: $ROOT" >&3
                echo "# write log: $ROOT/.fakekernel/writes.log" >&3
                sed 's/^/#   /' "$ROOT/.fakekernel/writes.log" >&3 2>/dev/null || true
        fi
}

teardown() {
        fk_teardown
}

# pci_rule_runs ADDR: does the generated udev rule (run/udev/rules.d/70-vfio-claim.rules in the
# root) make udev run the helper for ADDR's PCI add event? The rule is read the way udev would
# for the only forms the generator writes (any other line is an error: 2), with the environment
# the kernel gives: the device's name and PCI_ID=%04X:%04X. No rule file: 2, or 1 (udev runs
# nothing) with PCI_RULE_MAY_BE_ABSENT=1.
pci_rule_runs() {
        local f="$ROOT/run/udev/rules.d/70-vfio-claim.rules" d="$ROOT/sys/bus/pci/devices/$1" id= v dv line
        if [ ! -f "$f" ]; then
                [ "${PCI_RULE_MAY_BE_ABSENT:-}" = 1 ] && return 1
                echo "no $f" >&2
                return 2
        fi
        if [ -d "$d" ]; then
                read -r v < "$d/vendor"
                read -r dv < "$d/device"
                v=${v#0x} dv=${dv#0x}
                id="${v^^}:${dv^^}"
        fi
        while IFS= read -r line; do
                case $line in
                '#'* | '' | 'ACTION!="add", GOTO="vfio_claim_end"' | 'SUBSYSTEM!="pci", GOTO="vfio_claim_end"' | 'LABEL="vfio_claim_end"') ;;
                'KERNEL=="'*'", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"')
                        line=${line#KERNEL==\"}
                        [ "${line%%\"*}" = "$1" ] && return 0 ;;
                'ENV{PCI_ID}=="'*'", RUN+="vfio-claim-udev", GOTO="vfio_claim_end"')
                        line=${line#ENV\{PCI_ID\}==\"}
                        [[ ${line%%\"*} =~ ^[0-9A-F]{4}:[0-9A-F]{4}$ ]] || { echo "bad id: $line" >&2; return 2; }
                        [ "${line%%\"*}" = "$id" ] && return 0 ;;
                *) echo "unexpected rule line: $line" >&2; return 2 ;;
                esac
        done < "$f"
        return 1
}

# fk ARGS...: run a command under the shim (ASan-instrumented binaries need
# verify_asan_link_order=0 because the shim comes first).
fk() {
        ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
}

# fk_exec ARGS...: fk in place of the calling (sub)shell, so that `fk_exec CMD &` makes $! the
# command's own PID: a test that kills a background writer blocked in the shim (a HANG fault)
# kills the writer, not a subshell that leaves it blocked for ever.
fk_exec() {
        exec env ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
                LD_PRELOAD="$FK_SHIM${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
}

# fk_host ARGS...: a command under the shim with the tree as its running system (FAKEKERNEL_HOST=1:
# "/sys", "/proc", "/run/vfio-claim"... open in the tree, module loads are modelled)
fk_host() {
        FAKEKERNEL_HOST=1 fk "$@"
}

# vc ARGS...: vfio-claim on the fake tree as the running system: no --sysroot, the shim opens
# the tree for "/" (FAKEKERNEL_HOST=1) and models module loads ($VC_WRAPPER, e.g.
# "valgrind --error-exitcode=99 -q", goes in front).
vc() {
        # shellcheck disable=SC2086
        FAKEKERNEL_HOST=1 fk $VC_WRAPPER "$abs_top_builddir/vfio-claim" "$@"
}

# vc_sysroot ARGS...: vfio-claim --sysroot ROOT, the tree as another system's root (an image):
# paths confined to it, never a module loaded.
vc_sysroot() {
        # shellcheck disable=SC2086
        fk $VC_WRAPPER "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" "$@"
}

# fk_sh 'SHELL CODE': bash under the shim, e.g. fk_sh 'echo x > "$ROOT/sys/..."'
fk_sh() {
        fk bash -c "$1"
}

# wait_for 'TEST': until the shell test holds (an event; the bound, 300 s, only catches a bug)
wait_for() {
        local i
        for i in $(seq 3000); do eval "$1" && return 0; sleep 0.1; done
        echo "timed out waiting for: $1" >&2
        return 1
}

# lock_hold: another process takes vfio-claim's lock ($STATE/lock) and keeps it until
# lock_release; returns once it holds it. $LOCK_HOLDER_PID is that process.
lock_hold() {
        local T=$BATS_TEST_TMPDIR
        mkdir -p "$STATE"
        rm -f "$T/held" "$T/go"
        flock -x "$STATE/lock" -c "touch '$T/held'; while [ ! -e '$T/go' ]; do sleep 0.02; done" 3>&- &
        LOCK_HOLDER_PID=$!
        wait_for "[ -e '$T/held' ]"
}
lock_release() {
        touch "$BATS_TEST_TMPDIR/go"
        wait "$LOCK_HOLDER_PID"
}

# device_lock_hold ADDR: a task stuck in the kernel holding ADDR's device lock (the fake kernel's
# .fakekernel/devlock/ADDR: reads of driver_override, sriov_numvfs and uevent wait for it), held
# until device_lock_let_go.
device_lock_hold() {
        mkdir -p "$ROOT/.fakekernel/devlock"
        flock -x "$ROOT/.fakekernel/devlock/$1" \
                -c "touch '$BATS_TEST_TMPDIR/devheld'; while [ ! -e '$BATS_TEST_TMPDIR/devgo' ]; do sleep 0.02; done" 3>&- &
        DEV_HOLDER_PID=$!
        wait_for "[ -e '$BATS_TEST_TMPDIR/devheld' ]"
}
device_lock_let_go() {
        touch "$BATS_TEST_TMPDIR/devgo"
        wait "$DEV_HOLDER_PID"
}

# lock_open_by PID: the process PID has vfio-claim's lock file open (it polls it until it gets it)
lock_open_by() {
        local fd
        for fd in "/proc/$1"/fd/*; do
                [ "$(readlink "$fd" 2>/dev/null)" = "$STATE/lock" ] && return 0
        done
        return 1
}

# Make the device at $1 the NIC of the IPv4 default route, as /proc and sysfs show it.
default_route_nic() {
        mkdir -p "$ROOT/proc/net" "$ROOT/sys/class/net/eth0"
        printf 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' \
                > "$ROOT/proc/net/route"
        # relative, as sysfs makes its links: the tree is the root, a link out of it leads nowhere
        ln -sr "$(readlink -f "$ROOT/sys/bus/pci/devices/$1")" "$ROOT/sys/class/net/eth0/device"
}

fk_dev() {
        echo "$ROOT/sys/bus/pci/devices/$1"
}

# fk_driver ADDR: the bound driver, empty when none
fk_driver() {
        local l
        l=$(readlink "$ROOT/sys/bus/pci/devices/$1/driver" 2>/dev/null) || return 0
        echo "${l##*/}"
}

# fk_override ADDR: the driver_override, empty when unset
fk_override() {
        local v
        v=$(cat "$ROOT/sys/bus/pci/devices/$1/driver_override")
        [ "$v" = "(null)" ] || echo "$v"
}

# fk_writes: how many writes (and module loads) were logged
fk_writes() {
        wc -l < "$ROOT/.fakekernel/writes.log" | tr -d ' '
}

# fk_fail SPEC: add a fault, e.g. fk_fail '3 EIO', fk_fail 'glob:*/unbind HANG'
fk_fail() {
        echo "$*" >> "$ROOT/.fakekernel/faults"
}

# fk_usb_lock PORT: hold the fake kernel's lock of USB device PORT (.fakekernel/devlock/PORT) in
# this shell, as a driver probing or resetting the device holds it in Linux: a read of its serial,
# manufacturer or product waits until fk_usb_unlock (or the test's end) lets it go.
fk_usb_lock() {
        mkdir -p "$ROOT/.fakekernel/devlock"
        exec {FK_USB_LOCK_FD}> "$ROOT/.fakekernel/devlock/$1"
        flock -x "$FK_USB_LOCK_FD"
}

fk_usb_unlock() {
        exec {FK_USB_LOCK_FD}>&-
}

# fk_unstick: let every STUCK write take effect and end (ROOT/.fakekernel/unstick; STUCK faults
# no longer apply), and wait until each has (an event, not a delay: the marker files go).
fk_unstick() {
        touch "$ROOT/.fakekernel/unstick"
        local i
        for i in $(seq 6000); do
                [ -z "$(ls -A "$ROOT/.fakekernel/stuck" 2>/dev/null)" ] && return 0
                sleep 0.1
        done
        echo "stuck writes did not end" >&2
        return 1
}

# bounded ARGS...: vc ARGS... killed after 600 s (only a hang gets there)
bounded() {
        FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" timeout 600 "$BASH" -c "$(declare -f fk vc); vc $*"
}

# `run`, with the output through a file instead of a pipe. The fake kernel's stuck write goes on
# in a process of its own (standing in for a task in D state) that outlives the command; under
# valgrind it also keeps valgrind's copy of the command's stderr, which no client close() reaches,
# and `run` would wait for that pipe's end until the write is released.
run_via_file() {
        local f
        f=$(mktemp "$BATS_TEST_TMPDIR/out.XXXXXX")
        status=0
        "$@" >"$f" 2>&1 </dev/null || status=$?
        output=$(cat "$f")
        lines=()
        [ -z "$output" ] || mapfile -t lines <<< "$output"
}

# fk_modalias_index 'MODULE PCI-ALIAS'...: a module index under the root that maps each alias to
# its module, made by the real depmod from modules.builtin.modinfo, so that libkmod's lookup by
# modalias answers inside the fake root (loading the module is the shim's part). Skips the test
# when depmod is missing.
fk_modalias_index() {
        local depmod dir
        depmod=$(PATH=/usr/sbin:/sbin:$PATH command -v depmod) || skip "depmod (kmod) is not installed"
        dir="$ROOT/lib/modules/$(uname -r)"
        mkdir -p "$dir"
        : > "$dir/modules.builtin"
        : > "$dir/modules.builtin.modinfo"
        for p in "$@"; do
                echo "kernel/${p%% *}.ko" >> "$dir/modules.builtin"
                printf '%s.alias=%s\0' "${p%% *}" "${p#* }" >> "$dir/modules.builtin.modinfo"
        done
        : > "$dir/modules.order"
        "$depmod" -b "$ROOT" "$(uname -r)"
}

# fk_file REL CONTENT: write a file below the fake root
fk_file() {
        mkdir -p "$(dirname "$ROOT/$1")"
        printf '%s\n' "$2" > "$ROOT/$1"
}

# holder PID COMM TARGET...: a process in the tree's /proc whose fds 0, 1, ... are links to TARGET...
# (as the kernel shows them: the path, never followed by vfio-claim).
holder() {
        local pid=$1 comm=$2 n=0
        shift 2
        mkdir -p "$ROOT/proc/$pid/fd"
        printf '%s\n' "$comm" > "$ROOT/proc/$pid/comm"
        for t in "$@"; do
                ln -s "$t" "$ROOT/proc/$pid/fd/$n"
                n=$((n + 1))
        done
}

# keyboard_below PCI-ADDR USB-PATH INPUT NAME [BUS]: a keyboard's input device INPUT under the USB
# bus BUS (3 unless given) of the PCI device PCI-ADDR (USB-PATH below usbBUS), with the
# capabilities a USB keyboard shows
# (Linux's drivers/input/input.c) and its sys/class/input entry
keyboard_below() {
        local dir
        dir="$(readlink -f "$ROOT/sys/bus/pci/devices/$1")/usb${5:-3}/$2/$3"
        mkdir -p "$dir/capabilities" "$ROOT/sys/class/input"
        echo 120013 > "$dir/capabilities/ev"
        echo "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe" > "$dir/capabilities/key"
        echo "$4" > "$dir/name"
        ln -sfn "$(realpath --relative-to="$ROOT/sys/class/input" "$dir")" "$ROOT/sys/class/input/$3"
}

# session_on_tty TTY_NR: the programs run through sudo (on its own pseudo-terminal, 136:0) from a
# shell whose controlling terminal is TTY_NR as proc/PID/stat encodes it (1026: tty2; 34817: the
# pseudo-terminal 136:1 of an SSH login or a terminal emulator)
session_on_tty() {
        mkdir -p "$ROOT/proc/self" "$ROOT/proc/890" "$ROOT/proc/810"
        echo "900 (vfio-claim) R 890 900 810 34816 900 4194560 0 0 0 0" > "$ROOT/proc/self/stat"
        echo "890 (sudo) S 810 890 810 $1 890 4194560 0 0 0 0" > "$ROOT/proc/890/stat"
        echo "810 (bash) S 1 810 810 $1 890 4194560 0 0 0 0" > "$ROOT/proc/810/stat"
}

# hook XML VM OPERATION SUB-OPERATION: run the hook as libvirtd does, XML on stdin, the
# configuration in $CONF. Under $VC_WRAPPER (check-valgrind) the worker runs directly: memcheck
# reports the start-up of a statically linked C library as errors, and the worker does everything
# the front hands on to it (and exits 0 for what the front answers alone).
hook() {
        local xml=$1 prog="$abs_top_builddir/vfio-claim-hook"
        shift
        [ -z "${VC_WRAPPER:-}" ] || prog="$abs_top_builddir/vfio-claim-hook-worker"
        # shellcheck disable=SC2086
        FAKEKERNEL_HOST=1 VFIO_CLAIM_CONFIG="$CONF" fk $VC_WRAPPER "$prog" "$@" - < "$xml"
}
