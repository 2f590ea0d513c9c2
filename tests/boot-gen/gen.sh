#!/usr/bin/env bash
# gen.sh SEED DIR: one random boot scenario for tests/bats/boot-gen.bats, and what the
# documentation says must come of it.
#
# Writes into DIR:
#   topo     a fake-kernel fixture (tests/fakekernel/README.md) with twin cards: identical NICs
#            (one behind a PCIe-to-PCI bridge that shares its group), sometimes twin GPUs with
#            their HDMI audio functions (one group each), a group of two chipset devices of two
#            slots, host modules loaded or not at coldplug (loaded: their devices are bound),
#            sometimes no IOMMU at all
#   etc/     the configuration directory (vfio-claim.conf and conf.d/), 1 to 4 [device] entries
#            in random files, match by full address, short address, vendor:device id or with
#            subsystem ids, id = guards that hold or not, boot, consent; sometimes one invalid
#            line; files the reader must skip (dot files, other suffixes, a directory)
#   steps    the boot: "pass" (not always), then "event ADDR" for every device in random order,
#            each followed by "kmod MODULE" of its host driver (udev's 80-drivers.rules), then
#            "pass" again; sometimes an endpoint's "remove ADDR" and "rescan" and its event after,
#            or "release GROUP" and the events of every other device (and maybe its own after)
#   expect   the oracle, derived from vfio-claim.conf(5) (MATCHING, id, boot, consent) and
#            vfio-claim(8) (BOOT), not from the code:
#              valid 1|0
#              dev ADDR DRIVER|-        the driver each device ends on (vfio-pci for a claimed group)
#              claimed N                an IOMMU group that ends claimed, with a record
#              bridge ADDR              a bridge alone in its group that a boot entry selects: the
#                                       pass warns (file and line), and counts no failure for it
#              released N ADDR...       a group given back after the boot, not claimed again, and
#                                       its configured devices, whose own event would claim it
#              must ADDR                the generated rule runs the helper for ADDR's add event
#              may ADDR                 ... and it may (the rule's documented reach); no other device
#   summary  the scenario in words (for a failure report)
#
# Deterministic: its own LCG, not bash's $RANDOM. Needs bash 4 (associative arrays).
set -eu
export LC_ALL=C # byte order, as the reader sorts conf.d

seed=$1 dir=$2
mkdir -p "$dir"
S=$(( (seed * 2654435761 + 12345) % 2147483648 ))
# rnd N: R = a number in 0..N-1
rnd() {
        S=$(( (S * 1103515245 + 12345) % 2147483648 ))
        R=$(( (S >> 8) % $1 ))
}
# chance PERCENT: true that often
chance() {
        rnd 100
        [ "$R" -lt "$1" ]
}

# ---- topology
iommu=1
chance 8 && iommu=0
declare -A DID DSUB DGRP DPAR DCLASS DKIND DDRV
DEVS=()
# dev ADDR ID SUBSYS GROUP PARENT CLASS KIND(ep|rp|br) HOSTDRIVER
dev() {
        DEVS+=("$1")
        DID[$1]=$2 DSUB[$1]=$3 DGRP[$1]=$4 DPAR[$1]=$5 DCLASS[$1]=$6 DKIND[$1]=$7 DDRV[$1]=$8
}
pick() { # pick A B...: R = one of them
        rnd $#
        shift "$R"
        R=$1
}
pick 8086:a01f 8086:0000; nic1=$R
pick 8086:a01f 8086:0000 1af4:1100; nic2=$R
dev 0000:00:1c.0 8086:a110 8086:7270 10 "" 0x060400 rp pcieport
dev 0000:01:00.0 8086:10d3 "$nic1" 11 0000:00:1c.0 0x020000 ep e1000e
dev 0000:00:1c.1 8086:a110 8086:7270 12 "" 0x060400 rp pcieport
dev 0000:02:00.0 8086:10d3 "$nic2" 13 0000:00:1c.1 0x020000 ep e1000e
if chance 40; then # a twin in another PCI domain, at the same bus:device.function as one above
        dev 0001:00:1c.1 8086:a110 8086:7270 16 "" 0x060400 rp pcieport
        pick 8086:a01f 8086:0000; dev 0001:02:00.0 8086:10d3 "$R" 17 0001:00:1c.1 0x020000 ep e1000e
fi
if chance 60; then # a third twin, behind a PCIe-to-PCI bridge in its group
        dev 0000:00:1c.4 8086:a114 8086:7270 14 "" 0x060400 rp pcieport
        dev 0000:06:00.0 1b21:1080 0000:0000 15 0000:00:1c.4 0x060400 br ""
        pick 8086:a01f 8086:001e; dev 0000:07:00.0 8086:10d3 "$R" 15 0000:06:00.0 0x020000 ep e1000e
fi
ngpu=0
if chance 75; then
        ngpu=1
        chance 50 && ngpu=2
        for i in $(seq 1 $ngpu); do
                b=$(( 3 + i )) # buses 04, 05
                pick 1458:403b 1043:87b3; sub=$R
                dev "0000:00:01.$((i - 1))" 8086:460d 1458:5001 $((20 + 2 * i)) "" 0x060400 rp pcieport
                dev "0000:0$b:00.0" 10de:2204 "$sub" $((21 + 2 * i)) "0000:00:01.$((i - 1))" 0x030000 ep nouveau
                dev "0000:0$b:00.1" 10de:1aef "$sub" $((21 + 2 * i)) "0000:00:01.$((i - 1))" 0x040300 ep snd_hda_intel
        done
fi
if chance 60; then # two chipset slots in one group
        dev 0000:00:14.0 8086:a36d 8086:7270 30 "" 0x0c0330 ep xhci_hcd
        dev 0000:00:1f.6 8086:15bc 8086:7270 30 "" 0x020000 ep igb
fi

declare -A LOADED MODIDS
MODIDS=([e1000e]=8086:10d3 [nouveau]=10de:2204 [snd_hda_intel]=10de:1aef [xhci_hcd]=8086:a36d [igb]=8086:15bc)
for m in e1000e nouveau snd_hda_intel xhci_hcd igb; do
        LOADED[$m]=0
        chance 30 && LOADED[$m]=1
done
vfio_loaded=0
chance 15 && vfio_loaded=1 # built in, or loaded by the initramfs for another reason
{
        echo "# boot-gen seed $seed"
        if [ $iommu = 1 ]; then echo "iommu intel"; else echo "iommu none"; fi
        echo "cmdline BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro quiet intel_iommu=on"
        echo "driver pcieport builtin"
        for m in e1000e nouveau snd_hda_intel xhci_hcd igb; do
                if [ "${LOADED[$m]}" = 1 ]; then u=""; else u=" unloaded"; fi
                echo "driver $m ids=${MODIDS[$m]}$u"
        done
        if [ "$vfio_loaded" = 1 ]; then echo "driver vfio-pci"; else echo "driver vfio-pci unloaded"; fi
        for a in "${DEVS[@]}"; do
                l="dev $a class=${DCLASS[$a]} id=${DID[$a]} subsys=${DSUB[$a]}"
                [ $iommu = 0 ] || l="$l group=${DGRP[$a]}"
                [ -z "${DPAR[$a]}" ] || l="$l parent=${DPAR[$a]}"
                d=${DDRV[$a]}
                if [ "$d" = pcieport ] || { [ -n "$d" ] && [ "${LOADED[$d]}" = 1 ]; }; then l="$l driver=$d"; fi
                [ "${DKIND[$a]}" != ep ] || l="$l reset_method=flr,bus"
                echo "$l"
        done
} > "$dir/topo"

# ---- configuration
declare -A EMATCH EGUARD EBOOT ECONSENT EFILE
ENAMES=()
EPS=() RPS=()
for a in "${DEVS[@]}"; do
        case ${DKIND[$a]} in ep) EPS+=("$a") ;; *) RPS+=("$a") ;; esac
done
# match_for ADDR: R = a match value that selects ADDR (or, for form 4, its twins but not it)
match_for() {
        rnd 10
        case $R in
        0 | 1 | 2) R=$1 ;;
        3 | 4) R=${1#0000:} ;;
        5 | 6) R=${DID[$1]} ;;
        7 | 8) R=${DID[$1]}:${DSUB[$1]} ;;
        9) R=${DID[$1]}:1028:0999 ;; # subsystem of no device here
        esac
}
rnd 4
nent=$((R + 1))
FILES=(vfio-claim.conf conf.d/10-a.conf conf.d/9-b.conf conf.d/A.conf conf.d/a.conf)
for i in $(seq 1 $nent); do
        n=e$i
        ENAMES+=("$n")
        rnd 12
        if [ "$R" -eq 0 ]; then
                t=0000:09:00.0 # a device that is not there
        elif [ "$R" -eq 1 ]; then
                pick "${RPS[@]}"; t=$R
        else
                pick "${EPS[@]}"; t=$R
        fi
        if [ "$t" = 0000:09:00.0 ]; then m=$t; else match_for "$t"; m=$R; fi
        if chance 20; then
                pick "${EPS[@]}"; match_for "$R"; m="$m $R"
        elif [[ $t == *.0 ]] && [ -n "${DID[${t%.0}.1]:-}" ] && chance 40; then
                m="$m ${t%.0}.1" # the GPU's audio function, by address
        fi
        EMATCH[$n]=$m
        g=""
        if [ "$t" != 0000:09:00.0 ] && chance 45; then
                rnd 6
                case $R in
                0 | 1) g=${DID[$t]} ;;
                2) g=${DID[$t]}:${DSUB[$t]} ;;
                3) g=10de:2206 ;;
                4) g=${DID[$t]}:1028:0999 ;;
                5) pick "${EPS[@]}"; g=${DID[$R]} ;;
                esac
        fi
        EGUARD[$n]=$g
        EBOOT[$n]=no
        chance 70 && EBOOT[$n]=yes
        ECONSENT[$n]=no
        chance 30 && ECONSENT[$n]=yes
        pick "${FILES[@]}"
        EFILE[$n]=$R
done

# invalid: a fifth of the cases get one invalid line somewhere
invalid=0
bad=""
if chance 20; then
        invalid=1
        pick "boot = perhaps" "match = 01:00" "colour = red" "match = 0000:01:00.0 # the NIC" \
                "no equals sign here" "consent = maybe" "id = 10de" "DUP" "match = 0000:01:00.0;x" \
                "match: 0000:01:00.0" "LONG" "boot = yes
boot = no" "Match = 0000:01:00.0" "GLOBAL2"
        bad=$R
fi

B=$dir/etc
rm -rf "$B"
mkdir -p "$B/conf.d"
# the entries, each appended to its file in entry order; a file's entries stay in that order
for n in "${ENAMES[@]}"; do
        f=$B/${EFILE[$n]}
        {
                echo "[device $n]"
                for m in ${EMATCH[$n]}; do
                        if chance 20; then echo "  match = $m   ; a comment"; else echo "match = $m"; fi
                done
                [ -z "${EGUARD[$n]}" ] || echo "id = ${EGUARD[$n]}"
                # booleans in any accepted spelling
                if [ "${EBOOT[$n]}" = yes ]; then pick yes true on 1; else pick no false off 0 "" ; fi
                [ -z "$R" ] || echo "boot = $R"
                if [ "${ECONSENT[$n]}" = yes ]; then echo "consent = yes"; elif chance 30; then echo "consent = no"; fi
                echo
        } >> "$f"
done
if [ $invalid = 1 ]; then
        pick "${ENAMES[@]}"; n=$R
        if [ "$bad" = LONG ]; then
                # 198 characters: one more than a line may have
                printf '[device bad]\nmatch = 0000:09:00.0   ; %s\n' "$(printf '%*s' 173 '' | tr ' ' x)" >> "$B/conf.d/zz.conf"
        elif [ "$bad" = GLOBAL2 ]; then
                printf '[global]\nlog-level = info\n[global]\nlog-level = debug\n' >> "$B/conf.d/zz.conf"
        elif [ "$bad" = DUP ]; then
                # the same name defined again in a later file: an error, whichever file
                printf '[device %s]\nmatch = 0000:09:00.0\n' "$n" >> "$B/conf.d/zz.conf"
        else
                printf '[device bad]\nmatch = 0000:09:00.0\n%s\n' "$bad" >> "$B/conf.d/zz.conf"
        fi
fi
# a line of 197 characters, the most there may be
if chance 15; then pick "${FILES[@]}"; printf '# %s\n' "$(printf '%*s' 195 '' | tr ' ' y)" >> "$B/$R"; fi
# a [global] section may be in any file, once per key
if chance 25; then pick "${FILES[@]}"; printf '[global]\nrelease = keep\n\n' >> "$B/$R"; fi
# a symbolic link to a regular file is read; its target, outside conf.d, is not read otherwise
if chance 25; then
        for n in "${ENAMES[@]}"; do
                if [ "${EFILE[$n]}" = conf.d/a.conf ] && [ -f "$B/conf.d/a.conf" ]; then
                        mv "$B/conf.d/a.conf" "$B/a.target"
                        ln -s ../a.target "$B/conf.d/a.conf"
                        break
                fi
        done
fi
# files the reader skips: garbage in each would make the configuration invalid if read
chance 20 && ln -s nowhere "$B/conf.d/dangling.conf"
chance 30 && printf 'garbage\n' > "$B/conf.d/.hidden.conf"
chance 30 && printf 'garbage\n' > "$B/conf.d/notes.conf.orig"
chance 20 && mkdir -p "$B/conf.d/dir.conf"
# an absent vfio-claim.conf is an empty one
[ -s "$B/vfio-claim.conf" ] || { chance 50 && rm -f "$B/vfio-claim.conf"; }
:

# ---- reading order: vfio-claim.conf, then conf.d/*.conf in byte order, sections in file order
ORDER=()
for f in vfio-claim.conf $(cd "$B/conf.d" && printf 'conf.d/%s\n' *.conf); do
        for n in "${ENAMES[@]}"; do [ "${EFILE[$n]}" != "$f" ] || ORDER+=("$n"); done
done

# ---- the oracle
# sel ENTRY ADDR: does a match line of ENTRY select ADDR?
sel() {
        local m
        for m in ${EMATCH[$1]}; do
                case $m in
                ????:??:??.?) [ "$m" = "$2" ] && return 0 ;;
                ??:??.?) [ "0000:$m" = "$2" ] && return 0 ;;
                ????:????) [ "$m" = "${DID[$2]}" ] && return 0 ;;
                ????:????:????:????) [ "$m" = "${DID[$2]}:${DSUB[$2]}" ] && return 0 ;;
                esac
        done
        return 1
}
guard_ok() { # guard_ok ENTRY ADDR
        local g=${EGUARD[$1]}
        case $g in
        "") return 0 ;;
        ????:????) [ "$g" = "${DID[$2]}" ] ;;
        *) [ "$g" = "${DID[$2]}:${DSUB[$2]}" ] ;;
        esac
}
declare -A WIN
for a in "${DEVS[@]}"; do
        WIN[$a]=""
        for n in "${ORDER[@]}"; do
                if sel "$n" "$a"; then WIN[$a]=$n; break; fi
        done
done
slot() { R=${1%.*}; }
members() { # members GROUP: R = its endpoints
        local a
        R=""
        for a in "${EPS[@]}"; do [ "${DGRP[$a]}" != "$1" ] || R="$R $a"; done
}
all_members() { # all_members GROUP: R = every device of it, bridges too
        local a
        R=""
        for a in "${DEVS[@]}"; do [ "${DGRP[$a]}" != "$1" ] || R="$R $a"; done
}
declare -A CLAIMED=() WHY=()
BRIDGE_ALONE=()
GROUPS_=$(for a in "${DEVS[@]}"; do echo "${DGRP[$a]}"; done | sort -un)
for g in $GROUPS_; do
        all_members "$g"; all=$R
        members "$g"; mem=$R
        # a group without endpoints (a root port alone) has nothing to claim: a boot entry that
        # selects its bridge gets a warning, and no pass counts it as failed (vfio-claim(8), BOOT)
        if [ -z "$mem" ]; then
                for a in $all; do
                        w=${WIN[$a]}
                        [ $iommu = 1 ] && [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] && guard_ok "$w" "$a" && BRIDGE_ALONE+=("$a")
                done
                continue
        fi
        boot=0
        for a in $all; do
                w=${WIN[$a]}
                [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] && boot=1
        done
        [ $boot = 1 ] || continue
        if [ $iommu = 0 ]; then WHY[$g]="no IOMMU: left to the host"; continue; fi
        ok=1 why=""
        slots="" consent=0
        for a in $all; do
                w=${WIN[$a]}
                [ -n "$w" ] || continue
                slot "$a"; slots="$slots $R "
                # a guard that fails refuses the whole group (vfio-claim.conf(5), id)
                guard_ok "$w" "$a" || { ok=0; why="$why $a: id = ${EGUARD[$w]} of [device $w] does not hold;"; }
                # consent: the entry that wins any member, boot = yes or not (vfio-claim.conf(5))
                [ "${ECONSENT[$w]}" = no ] || consent=1
        done
        for a in $mem; do
                slot "$a"
                if [[ $slots != *" $R "* ]] && [ $consent = 0 ]; then
                        ok=0; why="$why $a: another slot, no consent = yes in an entry of the group;"
                fi
        done
        if [ $ok = 1 ]; then CLAIMED[$g]=1; else WHY[$g]=$why; fi
done

# later in the boot: a claimed group given back (vfio-claim release), then the add events of
# the other devices (a rescan, `udevadm trigger`): the group stays the host's for the rest of the
# boot; the event of its configured device, sometimes, claims it again (vfio-claim(8), BOOT)
released="" reclaim=""
if [ $invalid = 0 ] && [ ${#CLAIMED[@]} -gt 0 ] && chance 35; then
        pick "${!CLAIMED[@]}"; released=$R
        for a in "${DEVS[@]}"; do
                w=${WIN[$a]}
                [ "${DGRP[$a]}" = "$released" ] && [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] || continue
                chance 50 && reclaim=$a
                break
        done
        [ -n "$reclaim" ] || unset "CLAIMED[$released]"
fi

{
        echo "valid $((1 - invalid))"
        for a in "${DEVS[@]}"; do
                g=${DGRP[$a]}
                if [ $invalid = 0 ] && [ "${DKIND[$a]}" = ep ] && [ -n "${CLAIMED[$g]:-}" ]; then
                        echo "dev $a vfio-pci"
                else
                        echo "dev $a ${DDRV[$a]:--}"
                fi
        done
        if [ $invalid = 0 ]; then
                for g in "${!CLAIMED[@]}"; do echo "claimed $g"; done | sort
                for a in ${BRIDGE_ALONE[@]+"${BRIDGE_ALONE[@]}"}; do echo "bridge $a"; done
                if [ -n "$released" ] && [ -z "$reclaim" ]; then
                        # with the devices whose own add event would claim it again
                        printf 'released %s' "$released"
                        for a in "${DEVS[@]}"; do
                                w=${WIN[$a]}
                                [ "${DGRP[$a]}" = "$released" ] && [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] && printf ' %s' "$a"
                        done
                        echo
                fi
                # the rule (vfio-claim(8), BOOT): the addresses boot = yes entries name, every device
                # with a vendor:device id their match or id lines name, and for every boot device
                # (its first matching entry says boot = yes, its id = guard holds, an IOMMU group)
                # every endpoint of its group and every device with the vendor:device id of one of
                # those (a twin card: its module would probe it). Bridges only where an entry names
                # them, never their twins. The rule reaches exactly these: all of them (without
                # that the claim of a group that ends claimed depends on the order of the events)
                # and no other device.
                declare -A MUST MAY
                twins_of() { # twins_of ARRAY ADDR: every device with ADDR's vendor:device id
                        local b
                        for b in "${DEVS[@]}"; do [ "${DID[$b]}" != "${DID[$2]}" ] || eval "$1[\$b]=1"; done
                }
                for n in "${ORDER[@]}"; do
                        [ "${EBOOT[$n]}" = yes ] || continue
                        for m in ${EMATCH[$n]} ${EGUARD[$n]}; do
                                case $m in
                                ????:??:??.? | ??:??.?)
                                        [ "${#m}" = 12 ] || m=0000:$m
                                        [ -z "${DID[$m]:-}" ] || MUST[$m]=1 ;;
                                *) for a in "${DEVS[@]}"; do [ "${DID[$a]}" != "${m:0:9}" ] || MUST[$a]=1; done ;;
                                esac
                        done
                done
                if [ $iommu = 1 ]; then
                        for a in "${DEVS[@]}"; do
                                w=${WIN[$a]}
                                [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] && guard_ok "$w" "$a" || continue
                                members "${DGRP[$a]}"
                                for b in $R; do MUST[$b]=1; twins_of MUST "$b"; done
                        done
                fi
                for a in "${EPS[@]}"; do # implied by the above; said for the reader
                        [ -z "${CLAIMED[${DGRP[$a]}]:-}" ] || MUST[$a]=1
                done
                for a in "${!MUST[@]}"; do MAY[$a]=1; done
                for a in "${!MUST[@]}"; do echo "must $a"; done | sort
                for a in "${!MAY[@]}" "${!MUST[@]}"; do echo "may $a"; done | sort -u
        fi
} > "$dir/expect"

# ---- the boot
{
        # the early unit and the initramfs hooks: usually there (the pass); sometimes not, and
        # only the events set the overrides
        chance 85 && echo pass
        # a module the initramfs loads on its own (rd.driver.pre) after the pass
        if chance 20; then pick e1000e nouveau snd_hda_intel igb; echo "kmod $R"; fi
        # a random permutation of the devices
        order=("${DEVS[@]}")
        for ((i = ${#order[@]} - 1; i > 0; i--)); do
                rnd $((i + 1))
                t=${order[$i]} order[$i]=${order[$R]} order[$R]=$t
        done
        for a in "${order[@]}"; do
                echo "event $a"
                d=${DDRV[$a]}
                [ -z "$d" ] || [ "$d" = pcieport ] || echo "kmod $d"
        done
        echo pass
        # later in the boot: an endpoint removed and found again by a rescan (its driver binds it
        # before udev's add event, vfio-claim(8) BOOT), then its event and module load
        if [ -n "$released" ]; then
                echo "release $released"
                for a in "${DEVS[@]}"; do
                        w=${WIN[$a]}
                        [ "${DGRP[$a]}" = "$released" ] && [ -n "$w" ] && [ "${EBOOT[$w]}" = yes ] && continue
                        echo "event $a"
                done
                [ -z "$reclaim" ] || echo "event $reclaim"
        elif chance 40; then
                pick "${EPS[@]}"
                echo "remove $R"
                echo "rescan"
                echo "event $R"
                echo "kmod ${DDRV[$R]}"
        fi
} > "$dir/steps"

{
        echo "seed $seed: iommu=$iommu, modules loaded at coldplug:$(for m in "${!LOADED[@]}"; do [ "${LOADED[$m]}" = 0 ] || printf ' %s' "$m"; done)"
        echo "devices:"
        for a in "${DEVS[@]}"; do
                echo "  $a ${DID[$a]}:${DSUB[$a]} group ${DGRP[$a]} ${DKIND[$a]} ${DDRV[$a]:-no driver} winner=[${WIN[$a]:-}]"
        done
        echo "entries in reading order:"
        for n in "${ORDER[@]}"; do
                echo "  [$n] in ${EFILE[$n]}: match ${EMATCH[$n]} id=${EGUARD[$n]:-} boot=${EBOOT[$n]} consent=${ECONSENT[$n]}"
        done
        [ $invalid = 0 ] || echo "invalid line: $bad"
        [ -z "$released" ] || echo "group $released released after the boot; claimed again by the event of: ${reclaim:-none}"
        for g in "${!WHY[@]}"; do echo "group $g refused:${WHY[$g]}"; done
        echo "configuration files:"
        (cd "$B" && find . -type f | LC_ALL=C sort | while read -r f; do echo "--- $f"; cat "$f"; done)
} > "$dir/summary"
