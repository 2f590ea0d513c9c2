#!/bin/sh
# capture-topology.sh [SYSFS]: print a tests/fixtures/*.topo fixture that
# describes the PCI devices, drivers and IOMMU groups of a running kernel
# (default /sys; the cmdline comes from the proc next to it).  POSIX sh:
# runs under dash and busybox sh.  Left out: I/O port BARs (the fixture
# format has memory BARs only) and devices' link speeds the kernel reports
# as "Unknown".
set -eu

SYS=${1:-/sys}
SYS=${SYS%/}
PROC=${SYS%/sys}/proc
[ -d "$SYS/bus/pci/devices" ] || { echo "capture-topology: $SYS/bus/pci/devices: not a sysfs" >&2; exit 1; }

rd() { # rd FILE: first line of FILE, empty when absent
        [ -r "$1" ] && { IFS= read -r l < "$1" || [ -n "${l:-}" ]; } 2>/dev/null && printf '%s' "$l" || true
}
base() { # base LINK: basename of a link target, empty when absent
        t=$(readlink "$1" 2>/dev/null) || return 0
        printf '%s' "${t##*/}"
}
hex4() { # 0x10de -> 10de
        v=${1#0x}
        printf '%s' "$v"
}
is_addr() {
        case $1 in
        [0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) return 0 ;;
        esac
        return 1
}

echo "# captured by capture-topology.sh from $SYS on $(uname -n 2>/dev/null || echo '?'), kernel $(uname -r 2>/dev/null || echo '?')"

iommu=none
for i in "$SYS"/class/iommu/*; do
        [ -e "$i" ] || continue
        case ${i##*/} in
        dmar*) iommu=intel ;;
        ivhd*) iommu=amd ;;
        *) [ "$iommu" = none ] && iommu=intel && echo "# class/iommu has ${i##*/}: recorded as intel" ;;
        esac
done
if [ "$iommu" = none ] && [ -n "$(ls "$SYS/kernel/iommu_groups" 2>/dev/null)" ]; then
        echo "# IOMMU groups without a class/iommu entry (no-iommu or virtual IOMMU): recorded as intel"
        iommu=intel
fi
echo "iommu $iommu"
if [ -r "$PROC/cmdline" ]; then
        echo "cmdline $(rd "$PROC/cmdline")"
fi

# drivers: every PCI driver registered, its module (or builtin) and the ids
# of the devices bound to it
for d in "$SYS"/bus/pci/drivers/*; do
        [ -d "$d" ] || continue
        name=${d##*/}
        mod=$(base "$d/module")
        ids=
        for l in "$d"/????:??:??.?; do
                [ -e "$l" ] || continue
                id="$(hex4 "$(rd "$l/vendor")"):$(hex4 "$(rd "$l/device")")"
                case ",$ids," in *",$id,"*) ;; *) ids=${ids:+$ids,}$id ;; esac
        done
        line="driver $name"
        if [ -z "$mod" ]; then
                line="$line builtin"
        elif [ "$mod" != "$(printf '%s' "$name" | tr - _)" ]; then
                line="$line module=$mod"
        fi
        [ "$name" = vfio-pci ] && ids=
        [ -n "$ids" ] && line="$line ids=$ids"
        echo "$line"
done

# devices, parents before children
for l in "$SYS"/bus/pci/devices/*; do
        [ -e "$l" ] || continue
        real=$(readlink -f "$l")
        depth=$(printf '%s' "$real" | tr -cd / | wc -c)
        printf '%d %s %s\n' "$depth" "${l##*/}" "$real"
done | sort -n -k1,1 -k2,2 | while read -r _ addr dir; do
        line="dev $addr class=$(rd "$dir/class") id=$(hex4 "$(rd "$dir/vendor")"):$(hex4 "$(rd "$dir/device")")"
        line="$line subsys=$(hex4 "$(rd "$dir/subsystem_vendor")"):$(hex4 "$(rd "$dir/subsystem_device")")"
        [ -r "$dir/revision" ] && line="$line rev=$(rd "$dir/revision")"
        g=$(base "$dir/iommu_group")
        [ -n "$g" ] && line="$line group=$g"
        p=${dir%/*}
        p=${p##*/}
        is_addr "$p" && line="$line parent=$p"
        drv=$(base "$dir/driver")
        [ -n "$drv" ] && line="$line driver=$drv"
        ov=$(rd "$dir/driver_override")
        [ -n "$ov" ] && [ "$ov" != "(null)" ] && line="$line override=$ov"
        [ -r "$dir/boot_vga" ] && line="$line boot_vga=$(rd "$dir/boot_vga")"
        [ -e "$dir/reset_method" ] && line="$line reset_method=$(rd "$dir/reset_method" | tr ' ' ,)"
        n=$(rd "$dir/numa_node")
        [ -n "$n" ] && [ "$n" != -1 ] && line="$line numa=$n"
        cs=$(rd "$dir/current_link_speed"); cw=$(rd "$dir/current_link_width")
        ms=$(rd "$dir/max_link_speed"); mw=$(rd "$dir/max_link_width")
        case "$cs $ms" in
        [0-9]*" GT/s"*" "[0-9]*" GT/s"*)
                [ -n "$cw" ] && [ -n "$mw" ] && [ "$cw" != 0 ] &&
                        line="$line link=${cs%% *}:$cw/${ms%% *}:$mw" ;;
        esac
        if [ -r "$dir/resource" ]; then
                i=0
                while read -r s e f; do
                        if [ "$i" -le 6 ] && [ $((s)) -ne 0 ] && [ $((f & 0x200)) -ne 0 ]; then
                                key=bar$i
                                [ "$i" = 6 ] && key=rom
                                line="$line $key=$(printf '0x%x:0x%x' $((s)) $((e - s + 1)))"
                        fi
                        i=$((i + 1))
                done < "$dir/resource"
        fi
        [ -r "$dir/sriov_totalvfs" ] && line="$line totalvfs=$(rd "$dir/sriov_totalvfs") numvfs=$(rd "$dir/sriov_numvfs")"
        pf=$(base "$dir/physfn")
        [ -n "$pf" ] && line="$line physfn=$pf"
        [ -d "$dir/vfio-dev" ] && line="$line vfio_dev"
        echo "$line"
done
