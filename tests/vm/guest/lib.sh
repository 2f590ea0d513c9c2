# Helpers for scenarios running inside the busybox-route guest (busybox ash).
# A scenario is sourced with VC_SCENARIO set; it reports with vc_ok,
# vc_not_ok and vc_skip, and may print anything else (shown as TAP comments).
# shellcheck shell=sh

VC_LIB=/usr/lib/vc-lab
VC_STEP_TIMEOUT=${VC_STEP_TIMEOUT:-10}
SYS_PCI=/sys/bus/pci

vc_frame() { echo "@@VC $*"; }
vc_diag() { echo "$*"; }

vc_result() { # TYPE DESCRIPTION...
        _t=$1; shift
        mkdir -p /run/vc
        echo "$_t" >>"/run/vc/res.${VC_SCENARIO:-none}"
        vc_frame "$_t" "${VC_SCENARIO:-none}" "$*"
}
vc_ok()     { vc_result ok "$@"; }
vc_not_ok() { vc_result not-ok "$@"; }
vc_skip()   { vc_result skip "$@"; }

# vc_check DESCRIPTION COMMAND...: one step with a timeout, reported ok/not-ok.
vc_check() {
        vc_check_for "$VC_STEP_TIMEOUT" "$@"
}

# vc_check_for SECS DESCRIPTION COMMAND...: the same with its own bound, for a step whose time
# grows with the host's load (a daemon restart in the nested TCG guest). The exit status
# reported is the command's (137: killed at the bound).
vc_check_for() {
        _s=$1 _d=$2; shift 2
        timeout -s KILL "$_s" "$@" && { vc_ok "$_d"; return 0; }
        _rc=$?
        vc_not_ok "$_d (exit $_rc)"
        return 1
}

# vc_wait SECS COMMAND...: poll COMMAND every 0.1 s until it succeeds or SECS
# pass (drivers finish some work asynchronously, e.g. snd_hda_intel's card).
vc_wait() {
        _w=$(($1 * 10)); shift
        while ! "$@" >/dev/null 2>&1; do
                _w=$((_w - 1)); [ $_w -gt 0 ] || return 1
                sleep 0.1
        done
}

# vc_send NAME FILE: send a file to the host (stored in the run's log dir).
vc_send() {
        gzip -c "$2" | base64 | sed "s/^/@@VC data $1 /"
}

# vc_write FILE VALUE: one write(2) of VALUE, with the step timeout. The shell
# prints the kernel's error ("sh: write error: No such device") on stderr.
# (busybox's echo reports write errors; its printf stays silent.)
vc_write() {
        timeout -s KILL "$VC_STEP_TIMEOUT" ${VC_SH:-sh} -c 'echo -n "$2" >"$1"' sh "$1" "$2"
}

# --- PCI facts from sysfs ------------------------------------------------
vc_find() { # VENDOR:DEVICE -> addresses, one a line
        _v=0x${1%%:*}; _p=0x${1#*:}
        for _d in "$SYS_PCI"/devices/*; do
                [ "$(cat "$_d/vendor")" = "$_v" ] && [ "$(cat "$_d/device")" = "$_p" ] &&
                        basename "$_d"
        done
        return 0
}
vc_find1() { vc_find "$1" | head -n1; }
vc_driver() { # ADDR -> driver name or nothing
        _l=$(readlink "$SYS_PCI/devices/$1/driver" 2>/dev/null) && basename "$_l"
        return 0
}
vc_override() { cat "$SYS_PCI/devices/$1/driver_override"; }
vc_group() { basename "$(readlink "$SYS_PCI/devices/$1/iommu_group")"; }
vc_group_members() { ls "/sys/kernel/iommu_groups/$(vc_group "$1")/devices"; }
vc_is_bridge() { # PCI-to-PCI bridges (0x0604) and other bridges stay on their drivers
        case $(cat "$SYS_PCI/devices/$1/class") in 0x06*) return 0 ;; esac
        return 1
}
vc_group_endpoints() {
        for _m in $(vc_group_members "$1"); do
                vc_is_bridge "$_m" || echo "$_m"
        done
}

vc_load_vfio() {
        # busybox modprobe ignores softdeps: vfio_iommu_type1 is explicit.
        modprobe vfio-pci && modprobe vfio_iommu_type1
}

# --- claim and release by hand, through sysfs (docs/DESIGN.md, "The transaction") -------------
# Scenarios call vc_claim/vc_release; pointing them at the CLI is one line:
#   VC_CLAIM_WITH=cli   (or set it in run.conf with --claim-with cli)
VC_CLAIM_WITH=${VC_CLAIM_WITH:-sysfs}
vc_claim()   { "vc_claim_$VC_CLAIM_WITH" "$@"; }
vc_release() { "vc_release_$VC_CLAIM_WITH" "$@"; }

vc_claim_cli()   { vfio-claim enable --yes "$1"; } # --yes: a bridge group moves two slots
vc_release_cli() { vfio-claim release "$1"; }

vc_claim_sysfs() { # ADDR: every endpoint of ADDR's group to vfio-pci
        vc_load_vfio || { echo "cannot load vfio-pci"; return 1; }
        mkdir -p /run/vc
        for _a in $(vc_group_endpoints "$1"); do
                _o=$(vc_driver "$_a")
                [ "$_o" = vfio-pci ] && continue
                echo "$_o" >"/run/vc/orig.$_a"
                vc_write "$SYS_PCI/devices/$_a/driver_override" vfio-pci ||
                        { echo "$_a: driver_override failed"; return 1; }
                if [ -n "$_o" ]; then
                        vc_write "$SYS_PCI/devices/$_a/driver/unbind" "$_a" ||
                                { echo "$_a: unbind from $_o failed"; return 1; }
                fi
                vc_write "$SYS_PCI/drivers_probe" "$_a" ||
                        { echo "$_a: drivers_probe failed"; return 1; }
                [ "$(vc_driver "$_a")" = vfio-pci ] ||
                        { echo "$_a: not on vfio-pci after probe (driver: $(vc_driver "$_a"))"; return 1; }
                echo "$_a: $_o -> vfio-pci"
        done
        [ -c "/dev/vfio/$(vc_group "$1")" ] || { echo "no /dev/vfio/$(vc_group "$1")"; return 1; }
}

vc_release_sysfs() { # ADDR: every endpoint of ADDR's group back to its recorded driver
        for _a in $(vc_group_endpoints "$1"); do
                [ -r "/run/vc/orig.$_a" ] || continue
                _o=$(cat "/run/vc/orig.$_a")
                if [ -n "$_o" ]; then
                        modprobe "$_o" 2>/dev/null
                        vc_write "$SYS_PCI/devices/$_a/driver_override" "$_o" ||
                                { echo "$_a: driver_override failed"; return 1; }
                fi
                if [ -n "$(vc_driver "$_a")" ]; then
                        vc_write "$SYS_PCI/devices/$_a/driver/unbind" "$_a" ||
                                { echo "$_a: unbind from vfio-pci failed"; return 1; }
                fi
                if [ -n "$_o" ]; then
                        vc_write "$SYS_PCI/drivers_probe" "$_a" ||
                                { echo "$_a: drivers_probe failed"; return 1; }
                fi
                vc_write "$SYS_PCI/devices/$_a/driver_override" "
" || { echo "$_a: clearing driver_override failed"; return 1; }
                [ "$(vc_driver "$_a")" = "$_o" ] ||
                        { echo "$_a: expected driver '$_o', found '$(vc_driver "$_a")'"; return 1; }
                rm -f "/run/vc/orig.$_a"
                echo "$_a: vfio-pci -> ${_o:-(none)}"
        done
}

# --- network ---------------------------------------------------------------
vc_netdev() { # ADDR -> interface name(s) of a PCI NIC
        ls "$SYS_PCI/devices/$1/net" 2>/dev/null
}

# vc_ping_via ADDR SUBNET_PREFIX: give the NIC at ADDR the address
# PREFIX.15/24 and ping QEMU's user-mode gateway PREFIX.2 through it.
vc_ping_via() {
        _i=$(vc_netdev "$1" | head -n1)
        [ -n "$_i" ] || { echo "$1: no network interface"; return 1; }
        ip addr flush dev "$_i"
        ip link set "$_i" up
        ip addr add "$2.15/24" dev "$_i"
        _n=0
        while [ "$(cat "/sys/class/net/$_i/carrier" 2>/dev/null)" != 1 ]; do
                _n=$((_n + 1)); [ $_n -gt 50 ] && { echo "$_i: no carrier"; return 1; }
                sleep 0.1
        done
        ping -c 2 -W 3 -I "$_i" "$2.2"
}

# --- running scenarios (used by vc-guest) ----------------------------------
# vc_lab_write_bound: [global] timeout = 300 in the installed configuration, once (a second
# [global] section is allowed). One sysfs write's bound is 10 s by default, for real hardware;
# in a TCG guest on a loaded CI host a probe has stalled for tens of seconds (bochs-drm's, a
# 49 s soft lockup, the run of 2026-12-05). Before the package is installed there is no file,
# and none is made: dpkg would take it for an admin's.
vc_lab_write_bound() {
        _c=/etc/vfio-claim/vfio-claim.conf
        [ -f "$_c" ] && ! grep -q '^timeout *=' "$_c" &&
                printf '\n[global]\n# the lab: a TCG guest on a loaded host (tests/vm/guest/lib.sh)\ntimeout = 300\n' >>"$_c"
        return 0
}

vc_run_scenario() {
        _s=$1; _f=$VC_LIB/scenarios/$_s.sh
        vc_lab_write_bound
        mkdir -p /run/vc
        : >"/run/vc/res.$_s"
        if [ ! -r "$_f" ]; then
                VC_SCENARIO=$_s vc_not_ok "no such scenario in the guest ($_f)"
                return
        fi
        vc_frame scenario "$_s"
        # A scenario that needs longer than the default says so in its first
        # lines: "# vc-timeout: SECS".
        _to=$(sed -n '1,5s/^# vc-timeout: *\([0-9][0-9]*\).*/\1/p' "$_f")
        [ -n "$_to" ] && [ "$_to" -gt "$VC_SCENARIO_TIMEOUT" ] || _to=$VC_SCENARIO_TIMEOUT
        _t0=$(date +%s)
        { timeout -s KILL "$_to" \
                ${VC_SH:-sh} -c '. /usr/lib/vc-lab/lib.sh; VC_SCENARIO=$1; . "$2"' sh "$_s" "$_f" 2>&1
          echo $? >"/run/vc/rc.$_s"; } | sed -e '/^@@VC /!s/^/# /'
        _rc=$(cat "/run/vc/rc.$_s")
        _el=$(($(date +%s) - _t0))
        if [ "$_el" -ge "$_to" ]; then
                VC_SCENARIO=$_s vc_not_ok "timed out after ${_el} s"
        elif [ "$_rc" != 0 ] && ! grep -q not-ok "/run/vc/res.$_s"; then
                VC_SCENARIO=$_s vc_not_ok "exited with status $_rc"
        elif [ ! -s "/run/vc/res.$_s" ]; then
                VC_SCENARIO=$_s vc_not_ok "reported no result"
        fi
        vc_frame done "$_s" "${_el}s"
}

# --- whole groups, checked without forking (loops of hundreds of cycles) -----
# The device's driver link is compared with the driver's directory by the
# shell's test -ef, attributes are read with the shell's read: under TCG every
# fork counts.

# vc_now: seconds since boot with centiseconds, in $VC_NOW.
vc_now() { read VC_NOW _x </proc/uptime; }
# vc_cs_since T: centiseconds from T (a $VC_NOW value) to now, in $VC_CS.
vc_cs_since() {
        vc_now
        VC_CS=$(( ${VC_NOW%.*}${VC_NOW#*.} - ${1%.*}${1#*.} ))
}

# vc_host_snapshot ADDR: remember how the host has ADDR now (its driver,
# driver_override, reset_method, whether it has a network interface), for
# vc_host_whole. Call it while the device is on its host driver.
vc_host_snapshot() {
        mkdir -p /run/vc/host
        _f=/run/vc/host/$1; _p=$SYS_PCI/devices/$1
        {
                echo "driver=$(vc_driver "$1")"
                echo "override=$(cat "$_p/driver_override")"
                [ -r "$_p/reset_method" ] && echo "reset=$(cat "$_p/reset_method")"
                [ -n "$(vc_netdev "$1")" ] && echo "net=1"
        } >"$_f"
}

# vc_host_whole GROUP ADDR...: the group is the host's as snapshotted: every
# endpoint ADDR on its driver, driver_override and reset_method as before, a
# network interface again where there was one, no /dev/vfio/GROUP and no state
# record. On failure, the reason is in $VC_WHY.
vc_host_whole() {
        _g=$1; shift; VC_WHY=
        for _a; do
                _drv= _ovr= _rst= _net=
                while IFS='=' read -r _k _v; do
                        case $_k in driver) _drv=$_v ;; override) _ovr=$_v ;; reset) _rst=$_v ;; net) _net=1 ;; esac
                done <"/run/vc/host/$_a"
                _p=$SYS_PCI/devices/$_a
                if [ -n "$_drv" ]; then
                        [ "$_p/driver" -ef "$SYS_PCI/drivers/$_drv" ] ||
                                VC_WHY="$VC_WHY $_a not on $_drv ($(vc_driver "$_a"));"
                else
                        [ ! -e "$_p/driver" ] || VC_WHY="$VC_WHY $_a bound to $(vc_driver "$_a");"
                fi
                read -r _v <"$_p/driver_override"
                [ "$_v" = "$_ovr" ] || VC_WHY="$VC_WHY $_a driver_override $_v;"
                if [ -n "$_rst" ]; then
                        read -r _v <"$_p/reset_method"
                        [ "$_v" = "$_rst" ] || VC_WHY="$VC_WHY $_a reset_method '$_v', was '$_rst';"
                fi
                if [ -n "$_net" ]; then
                        for _n in "$_p"/net/*; do break; done
                        [ -e "$_n" ] || VC_WHY="$VC_WHY $_a has no network interface;"
                fi
        done
        [ ! -e "/dev/vfio/$_g" ] || VC_WHY="$VC_WHY /dev/vfio/$_g exists;"
        [ ! -e "/run/vfio-claim/group-$_g" ] ||
                VC_WHY="$VC_WHY state record: $(tr '\n' ' ' <"/run/vfio-claim/group-$_g");"
        [ -z "$VC_WHY" ]
}

# vc_on_vfio GROUP ADDR...: every endpoint on vfio-pci and /dev/vfio/GROUP there (what is not,
# in $VC_WHY); the kernel's side of a claimed group, whoever claimed it.
vc_on_vfio() {
        _g=$1; shift; VC_WHY=
        for _a; do
                [ "$SYS_PCI/devices/$_a/driver" -ef "$SYS_PCI/drivers/vfio-pci" ] ||
                        VC_WHY="$VC_WHY $_a not on vfio-pci ($(vc_driver "$_a"));"
        done
        [ -c "/dev/vfio/$_g" ] || VC_WHY="$VC_WHY no /dev/vfio/$_g;"
        [ -z "$VC_WHY" ]
}

# vc_vfio_whole GROUP ADDR...: the group is claimed whole: every endpoint on
# vfio-pci, /dev/vfio/GROUP, a state record that says "claimed".
vc_vfio_whole() {
        vc_on_vfio "$@" || :
        _st=
        if [ -e "/run/vfio-claim/group-$_g" ]; then
                while read -r _k _v; do [ "$_k" = state ] && _st=$_v; done <"/run/vfio-claim/group-$_g"
        fi
        [ "$_st" = claimed ] || VC_WHY="$VC_WHY state record: '${_st:-none}';"
        [ -z "$VC_WHY" ]
}

# vc_group_picture GROUP ADDR...: one line describing where the group is (for
# messages): each endpoint's driver and override, /dev/vfio, the record state.
vc_group_picture() {
        _g=$1; shift; _out=
        for _a; do _out="$_out $_a=$(vc_driver "$_a")/$(vc_override "$_a")"; done
        [ -e "/dev/vfio/$_g" ] && _out="$_out /dev/vfio/$_g" || _out="$_out no-/dev/vfio/$_g"
        if [ -e "/run/vfio-claim/group-$_g" ]; then
                _out="$_out record:$(sed -n 's/^state //p' "/run/vfio-claim/group-$_g")"
        else
                _out="$_out no-record"
        fi
        echo "$_out"
}

# A seeded random number generator (a 31-bit LCG in shell arithmetic, so a
# seed reproduces a run): vc_rng_seed N; vc_rng N sets $VC_R to 0..N-1.
vc_rng_seed() { VC_RNG=$(( $1 % 2147483648 )); }
vc_rng() {
        VC_RNG=$(( (VC_RNG * 1103515245 + 12345) % 2147483648 ))
        VC_R=$(( (VC_RNG >> 8) % $1 ))
}

# vc_lab_groups: the three groups the cycle scenarios move, with their
# endpoints: display+audio ($G_DISP: $EP_DISP), the e1000e alone ($G_NIC:
# $EP_NIC) and the bridge group with e1000 and rtl8139 ($G_BR: $EP_BR; the
# bridge itself stays on no driver). Returns 1 (reported) when one is missing.
vc_lab_groups() {
        VGA=$(vc_find1 1234:1111); E1E=$(vc_find1 8086:10d3); E1K=$(vc_find1 8086:100e)
        [ -n "$VGA" ] && [ -n "$E1E" ] && [ -n "$E1K" ] ||
                { vc_not_ok "topology incomplete: vga=$VGA e1000e=$E1E e1000=$E1K"; return 1; }
        G_DISP=$(vc_group "$VGA"); EP_DISP=$(vc_group_endpoints "$VGA" | tr '\n' ' ')
        G_NIC=$(vc_group "$E1E"); EP_NIC=$(vc_group_endpoints "$E1E" | tr '\n' ' ')
        G_BR=$(vc_group "$E1K"); EP_BR=$(vc_group_endpoints "$E1K" | tr '\n' ' ')
        echo "groups: display+audio $G_DISP ($EP_DISP), e1000e $G_NIC ($EP_NIC), bridge $G_BR ($EP_BR)"
}
# vc_conf_of ADDR: the conf.d file `vfio-claim enable ADDR` writes.
vc_conf_of() { echo "/etc/vfio-claim/conf.d/$(echo "$1" | tr : -).conf"; }

# vc_clean_slate: no configuration file and no state record, as a cycle
# scenario expects at its start (reported as not-ok otherwise).
vc_clean_slate() {
        _left=$(ls -A /etc/vfio-claim/conf.d 2>/dev/null; ls /run/vfio-claim 2>/dev/null | grep -v '^lock$')
        [ -z "$_left" ] && return 0
        vc_not_ok "does not start clean: left by an earlier scenario: $(echo $_left)"
        return 1
}

# --- nested domains (Debian route) -----------------------------------------
# vc_vm_xml NAME [DEVICES-XML]: write /tmp/NAME.xml, a diskless nested domain (TCG, 128 MiB, no
# display) with the devices given; libvirt adds its default controllers (q35: a qemu-xhci for USB).
# vc_define_vm NAME [DEVICES-XML]: write it and define it.
vc_vm_xml() {
        cat >"/tmp/$1.xml" <<EOX
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <video><model type='none'/></video>
    <memballoon model='none'/>
    ${2:-}
  </devices>
</domain>
EOX
}
vc_define_vm() {
        vc_vm_xml "$@"
        virsh -q define "/tmp/$1.xml" >/dev/null
}

# --- the host's USB stick (a scenario with "# vc-host: usb-stick", run-debian.sh) -------------
# vc_host_usb unplug|plug: ask the host to pull QEMU's usb-storage "vcusb0" out of the xHCI or
# plug it back into the same port (HMP device_del / device_add). The host does not answer:
# wait for the device in sysfs.
vc_host_usb() { vc_frame host "usb-$1" vcusb0; }

# vc_usb_driver PORT:CONFIG.INTERFACE: the driver an interface is bound to, or nothing
vc_usb_driver() { _l=$(readlink "/sys/bus/usb/devices/$1/driver" 2>/dev/null) && basename "$_l"; return 0; }

# vc_usb_stick_port: the USB port path (2-1) of that stick (46f4:0001), or nothing with status 1
vc_usb_stick_port() {
        for _u in /sys/bus/usb/devices/*; do
                [ "$(cat "$_u/idVendor" 2>/dev/null)" = 46f4 ] && [ "$(cat "$_u/idProduct" 2>/dev/null)" = 0001 ] &&
                        { basename "$_u"; return 0; }
        done
        return 1
}
