# Common helpers of the real-kernel lab (sourced by the host-side scripts; bash).
# shellcheck shell=bash

VC_LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ -z ${VC_LAB_CACHE:-} ]]; then
        if [[ -n ${XDG_CACHE_HOME:-} ]]; then
                VC_LAB_CACHE=$XDG_CACHE_HOME/vfio-claim-lab
        elif [[ $(id -u) -eq 0 ]]; then
                VC_LAB_CACHE=/var/cache/vfio-claim-lab
        else
                VC_LAB_CACHE=$HOME/.cache/vfio-claim-lab
        fi
fi

# Kernel modules the busybox guest carries. Dependencies are resolved from
# modules.dep at build time; this list names only what the scenarios load.
VC_LAB_MODULES=(
        virtio_pci virtio_blk virtio_net ext4 crc32c_generic
        qemu_fw_cfg
        vfio vfio_pci vfio_pci_core vfio_iommu_type1
        e1000 e1000e 8139cp 8139too
        bochs snd_hda_intel snd_hda_codec_generic
        xhci_pci ahci lpc_ich i2c_i801
)

msg()  { printf 'vm-lab: %s\n' "$*" >&2; }
die()  { printf 'vm-lab: error: %s\n' "$*" >&2; exit 1; }
# Exit status 77 is automake's "skipped".
# VC_LAB_REQUIRE=1 (CI, where the lab must run) turns every skip into a failure.
skip() {
        printf 'vm-lab: SKIP: %s\n' "$*" >&2
        [[ ${VC_LAB_REQUIRE:-0} == 1 ]] && exit 1
        exit 77
}

need_tools() {
        local t missing=()
        for t in "$@"; do
                command -v "$t" >/dev/null 2>&1 || missing+=("$t")
        done
        ((${#missing[@]} == 0)) || skip "missing host tools: ${missing[*]}"
}

# The versioned kernel image package behind the linux-image-amd64 metapackage.
kernel_pkg() {
        if [[ -n ${VC_LAB_KERNEL_PKG:-} ]]; then
                echo "$VC_LAB_KERNEL_PKG"
                return
        fi
        apt-cache depends linux-image-amd64 2>/dev/null |
                sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1
}

# Fetch one package with apt-get download (no install) and unpack it into $2.
fetch_unpack() {
        local pkg=$1 dest=$2 dl
        dl=$(mktemp -d)
        # apt drops privileges to _apt; let it write the download directory.
        chmod 0777 "$dl"
        (cd "$dl" && apt-get download -q "$pkg" >/dev/null 2>"$dl/apt.err") ||
                { cat "$dl/apt.err" >&2; rm -rf "$dl"; skip "cannot download Debian package $pkg (apt-get download failed)"; }
        mkdir -p "$dest"
        dpkg -x "$dl"/*.deb "$dest"
        rm -rf "$dl"
}

# The lab's PCI topology (issue 4), without the root disk (virtio-blk at
# 00:09.0, added by each runner). Bus numbers shift with it: scenarios find
# devices by vendor:device.
VC_TOPOLOGY=(
        # display + audio: one multifunction slot, one IOMMU group
        -device VGA,bus=pcie.0,addr=05.0,multifunction=on
        -device ich9-intel-hda,id=hda,bus=pcie.0,addr=05.1
        -audiodev none,id=snd0 -device hda-output,bus=hda.0,audiodev=snd0
        # e1000e alone behind a root port. The NICs meant for passthrough get no IPv6: QEMU's
        # user network sends router advertisements, which would give each of them an IPv6
        # default route and make it host-critical, as it should on a real host.
        -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=06.0
        -netdev user,id=n1,net=10.0.11.0/24,ipv6=off -device e1000e,bus=rp1,netdev=n1
        # a PCIe-to-PCI bridge with two conventional NICs: one group with the bridge
        -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=07.0
        -device pcie-pci-bridge,id=br1,bus=rp2
        -netdev user,id=n2,net=10.0.12.0/24,ipv6=off -device e1000,bus=br1,addr=01.0,netdev=n2
        -netdev user,id=n3,net=10.0.13.0/24,ipv6=off -device rtl8139,bus=br1,addr=02.0,netdev=n3
        # virtio-net: the default route
        -device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=08.0
        -netdev user,id=n0,net=10.0.2.0/24 -device virtio-net-pci,bus=rp3,netdev=n0
        # id=xhci: run-debian.sh plugs a USB stick into its port 1 for the scenarios that ask
        -device qemu-xhci,id=xhci,bus=pcie.0,addr=0a.0
)

# lab_qemu_watched SERIAL PATTERN SECS LOG QEMU-ARGS...: run QEMU under `timeout -k 10 SECS`,
# its stdout and stderr appended to LOG, and return its exit status. While it runs, the serial
# log SERIAL is watched, from where it ended when QEMU started, for a line of the guest's
# userspace (grep -E PATTERN). A TCG guest's kernel has been seen to stall before userspace
# while the host was loaded (RCU: "timer wakeup didn't happen": the timer interrupt not
# delivered, nothing more on the console), and would sit there until SECS ran out. Without such
# a line within VC_LAB_USERSPACE_BOUND seconds (default 400; a normal boot takes 5 to 30 s of
# guest time, a TCG guest on a loaded host several times that), QEMU is stopped, LAB_STALLED
# is set to 1 and 124 returned: nothing of vfio-claim has run then, and the caller may boot
# again. A QEMU that exits before such a line (the guest's kernel panicked on its way: with the
# host at a load average of 24, "timer doesn't work through Interrupt-remapped IO-APIC" at 0.05 s
# of guest time, the emulated timer's first ticks late; panic=-1 and -no-reboot end QEMU) sets
# LAB_STALLED to 1 too, with QEMU's own exit status.
LAB_STALLED=0
lab_qemu_watched() {
        local serial=$1 pattern=$2 secs=$3 log=$4 bound=${VC_LAB_USERSPACE_BOUND:-400} off=0 t=0 pid rc=0
        shift 4
        LAB_STALLED=0
        [[ -f $serial ]] && off=$(stat -c %s "$serial")
        timeout -k 10 "$secs" "$@" >>"$log" 2>&1 &
        pid=$!
        # Process substitution, not a pipe: under pipefail a writer killed by grep's early exit
        # would turn a match into a failure.
        while kill -0 "$pid" 2>/dev/null && ! grep -Eq "$pattern" < <(tail -c +"$((off + 1))" "$serial" 2>/dev/null); do
                if ((t >= bound)); then
                        LAB_STALLED=1
                        kill "$pid" 2>/dev/null || true
                        wait "$pid" 2>/dev/null || true
                        return 124
                fi
                sleep 2
                t=$((t + 2))
        done
        wait "$pid" || rc=$?
        grep -Eq "$pattern" < <(tail -c +"$((off + 1))" "$serial" 2>/dev/null) || LAB_STALLED=1
        return "$rc"
}

# Lines that only the guest's userspace prints on its console (loglevel=4 keeps the kernel's
# own quiet): the lab's "@@VC" and "@@BOOT" lines, initramfs-tools' "Loading, please wait...",
# udevd's start in either initramfs.
LAB_USERSPACE_LINES='@@VC |@@BOOT|Loading, please wait|Starting systemd-udevd'

# lab_qemu_boot SERIAL SECS LOG QEMU-ARGS...: lab_qemu_watched with LAB_USERSPACE_LINES, and a
# boot whose kernel stalled before userspace made again, once. Its serial log is first moved to
# SERIAL.stalled (QEMU's "file:" serial truncates it at start; with LAB_SERIAL_APPENDS=1, a
# chardev with append=on, it stays where it is and the next boot appends), and the function
# named by LAB_BEFORE_RETRY, if any, is called (a disk image to make again, a pipe reader to
# restart). Returns QEMU's exit status (124 and LAB_STALLED=1 when the second boot stalled too).
lab_qemu_boot() {
        local serial=$1 rc=0 kept=$1
        lab_qemu_watched "$serial" "$LAB_USERSPACE_LINES" "${@:2}" || rc=$?
        ((LAB_STALLED)) || return "$rc"
        if [[ ${LAB_SERIAL_APPENDS:-0} != 1 ]]; then
                kept=$serial.stalled
                mv "$serial" "$kept" 2>/dev/null || true
        fi
        if ((rc == 124)); then
                msg "the guest's kernel reached no userspace in ${VC_LAB_USERSPACE_BOUND:-400} s (its console: $kept); booting it again, once"
        else
                msg "QEMU ended (exit $rc) before the guest's kernel reached userspace (its console: $kept); booting it again, once"
        fi
        [[ -z ${LAB_BEFORE_RETRY:-} ]] || "$LAB_BEFORE_RETRY"
        rc=0
        lab_qemu_watched "$serial" "$LAB_USERSPACE_LINES" "${@:2}" || rc=$?
        ((LAB_STALLED)) && msg "again no userspace (console: $serial)"
        return "$rc"
}

# lab_collect LOGDIR QEMU-STATUS: decode the files the guest sent
# (@@VC data NAME base64...), write LOGDIR/serial.txt (without \r),
# LOGDIR/tap and LOGDIR/scenario-output.txt, print the TAP. Returns 1 on any
# not-ok, a bail-out, a missing "@@VC end"; 2 when the guest never began.
lab_collect() {
        local logdir=$1 qrc=$2 f rc=0
        tr -d '\r' <"$logdir/serial.log" >"$logdir/serial.txt"
        for f in $(sed -n 's/^@@VC data \([^ ]*\) .*/\1/p' "$logdir/serial.txt" | sort -u); do
                sed -n "s/^@@VC data $f //p" "$logdir/serial.txt" | base64 -d | gunzip >"$logdir/$f" ||
                        msg "could not decode $f from the serial log"
        done
        awk -v qrc="$qrc" '
        /^@@VC (ok|not-ok|skip) / {
                n++; type = $2; name = $3
                desc = $0; sub(/^@@VC [a-z-]+ [^ ]+ ?/, "", desc)
                if (type == "ok")        printf "ok %d - %s: %s\n", n, name, desc
                else if (type == "skip") printf "ok %d - %s # SKIP %s\n", n, name, desc
                else { printf "not ok %d - %s: %s\n", n, name, desc; fail++ }
                next
        }
        /^@@VC done / { printf "# %s took %s\n", $3, $4; next }
        /^@@VC bail / { bail = $0; sub(/^@@VC bail /, "", bail) }
        /^@@VC begin/ { begun = 1 }
        /^@@VC end/ { ended = 1 }
        END {
                if (bail != "") { n++; printf "not ok %d - guest: %s\n", n, bail; fail++ }
                if (!ended) {
                        n++
                        if (qrc == 124 || qrc == 137) printf "not ok %d - guest: timed out before @@VC end\n", n
                        else printf "not ok %d - guest: no @@VC end (qemu exit %s)\n", n, qrc
                        fail++
                }
                printf "1..%d\n", n
                exit (fail ? 1 : (begun ? 0 : 2))
        }' "$logdir/serial.txt" >"$logdir/tap" || rc=$?
        cat "$logdir/tap"
        grep '^# ' "$logdir/serial.txt" >"$logdir/scenario-output.txt" || true
        return "$rc"
}

# mirror_of_host CODENAME: the first URI that serves CODENAME in this host's apt sources,
# deb822 (*.sources) or one-line (*.list) format. No mirror name lives in the repository.
mirror_of_host() {
        local c=$1 f
        for f in /etc/apt/sources.list.d/*.sources; do
                [[ -r $f ]] || continue
                awk -v c="$c" '
                        function flush() { if (deb && suite && uri != "") { print uri; exit } deb = suite = 0; uri = "" }
                        /^[[:space:]]*$/ { flush(); next }
                        /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
                        /^URIs:/ { uri = $2 }
                        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) suite = 1 }
                        END { flush() }' "$f"
        done
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                sed -e 's/\[[^]]*\]//' | awk -v c="$c" '$1 == "deb" && $3 == c { print $2 }' || true
}

# copy_sources SRC DEST: the source tree SRC into DEST, mtimes kept (make then rebuilds only what
# changed). SRC the top level of a git work tree: its tracked files and the untracked ones that
# are not ignored. Anything else (a release tarball, perhaps configured and built in place, or
# the snapshot tools/quickstart takes in the repository's ignored _build/): every file but the
# products of a build.
copy_sources() {
        local src dst=$2
        src=$(cd "$1" && pwd -P)
        mkdir -p "$dst"
        if [[ $(git -C "$src" rev-parse --show-toplevel 2>/dev/null) == "$src" ]]; then
                (cd "$src" && git ls-files -z -co --exclude-standard |
                        while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done |
                        tar --null -T - -cf -) | tar -xf - -C "$dst"
        else
                (cd "$src" && tar --exclude=.git --exclude=config.status --exclude=config.log \
                        --exclude=autoconfig.h --exclude=stamp-h1 --exclude=libtool --exclude=./Makefile \
                        --exclude='*.o' --exclude='*.lo' --exclude='*.la' --exclude=.libs --exclude=.deps \
                        --exclude=./_build -cf - .) | tar -xf - -C "$dst"
        fi
}

# debian_image: build-debian.sh under a lock, so that runs side by side (tools/quickstart starts
# the build ahead, beside the busybox stage) build the image once: the second waits, then reuses
# it. Prints the image directory.
debian_image() {
        mkdir -p "$VC_LAB_CACHE"
        flock "$VC_LAB_CACHE/.debian-image.lock" "$VC_LAB_DIR/build-debian.sh"
}
