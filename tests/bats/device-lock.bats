#!/usr/bin/env bats
# A device lock that something other than vfio-claim holds, for long: a driver's probe or remove
# that does not return (a host driver waiting on firmware, a device that stopped answering).
# Linux 6.1 takes that lock to show a device's driver_override, so reading it waits in the
# kernel, in D state, where no signal reaches the reader. The writing verbs and the hook read
# driver_override with a deadline (lib/root.h, vc_ctx_get_device_reads_bounded()): they must end
# within the bound ([global] timeout), change nothing, say which device, and leave vfio-claim's
# lock free for the next run; once the kernel lets go, the same command succeeds. The fake
# kernel models the held lock (device_lock_hold, helpers.bash): its reads of driver_override,
# sriov_numvfs and uevent wait for it. No stuck write of vfio-claim's own is involved: no
# device is marked beforehand.

bats_require_minimum_version 1.5.0
load helpers

conf() {
        mkdir -p "$CONF"
        printf '%s\n' "$1" > "$CONF/vfio-claim.conf"
}

# within SECONDS ARGS...: vc ARGS..., killed after SECONDS (status 124: it hung)
within() {
        local s=$1
        shift
        FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" timeout "$s" "$BASH" -c "$(declare -f fk vc); vc $*"
}

# hook_within SECONDS VM OP SUBOP: the libvirt hook with the virt-manager domain (its GPU
# 0000:01:00.0), killed after SECONDS
hook_within() {
        local s=$1 xml="$abs_top_srcdir/tests/fixtures/domains/virt-manager.xml"
        shift
        FK_SHIM="$FK_SHIM" CONF="$CONF" VC_WRAPPER="${VC_WRAPPER:-}" timeout "$s" "$BASH" -c \
                "$(declare -f fk hook); hook '$xml' $*"
}

lock_is_free() {
        flock -n "$STATE/lock" true 3>&-
}

@test "enable: a group member whose lock a driver's probe holds: enable ends, changes nothing, names it" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 5'
        device_lock_hold 0000:01:00.1
        run_via_file within 300 enable 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.1: failed to wait for the device's lock, held by a write or a driver's probe that has not finished: Connection timed out"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls -A "$CONF/conf.d")" ]
        lock_is_free
        # the device is marked: list, which holds no lock, reads it with the bound instead of
        # waiting in the kernel with it
        [ -e "$STATE/stuck-0000:01:00.1" ]
        run_via_file within 300 list
        assert_success
        # the kernel lets go: the same command claims the group, and the mark goes (with a bound
        # no loaded machine reaches: every read and write of it must finish)
        device_lock_let_go
        conf $'[global]\ntimeout = 60'
        run vc enable 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        [ ! -e "$STATE/stuck-0000:01:00.1" ]
}

@test "release: a claimed member whose lock the kernel holds: release ends, changes nothing; later it succeeds" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 5'
        vc enable 01:00.0
        local writes
        writes=$(fk_writes)
        device_lock_hold 0000:01:00.1
        run_via_file within 300 release 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.1: failed to wait for the device's lock"
        assert_equal "$(fk_writes)" "$writes"
        grep -qx 'state claimed' "$STATE/group-1"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        lock_is_free
        device_lock_let_go
        conf $'[global]\ntimeout = 60'
        run vc release 01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        [ ! -e "$STATE/group-1" ]
}

# The hook reads the VM's groups holding vfio-claim's lock: without the bound, one probe stuck on
# the GPU's audio function would keep every other VM start, and udev's claims, waiting for it.
@test "hook prepare: a member whose lock the kernel holds: the start fails within the bound, the lock is free" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 5\n[device gpu]\nmatch = 0000:01:00.0'
        device_lock_hold 0000:01:00.1
        run_via_file hook_within 300 win11 prepare begin
        assert_failure 1
        assert_output --partial '0000:01:00.1: failed to wait for the device'"'"'s lock'
        assert_output --partial 'VM "win11" was not started'
        assert_equal "$(fk_writes)" 0
        [ ! -e "$STATE/group-1" ]
        lock_is_free
        device_lock_let_go
        conf $'[global]\ntimeout = 60\n[device gpu]\nmatch = 0000:01:00.0'
        run_via_file hook_within 300 win11 prepare begin
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
}

# The bound is the write's bound: --timeout gives it, as it gives a write's (each read of the
# held device waits that long, and the command reads the group before and under the lock).
@test "the bound on a held device lock is --timeout" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 600'
        device_lock_hold 0000:01:00.1
        run_via_file within 300 --timeout 5 enable 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.1: failed to wait for the device's lock"
        assert_equal "$(fk_writes)" 0
        device_lock_let_go
}

# A dry run changes nothing, the state directory included: a device whose lock stays held is not
# marked (lib/root.h, vc_ctx_get_dry_run()); the dry run still ends within the bound and says so.
@test "enable --dry-run: a held member lock ends the dry run within the bound, and marks nothing" {
        fake_root gpu-audio
        conf $'[global]\ntimeout = 5'
        mkdir -p "$STATE"
        device_lock_hold 0000:01:00.1
        run_via_file within 300 enable --dry-run 01:00.0
        assert_failure 1
        assert_output --partial "0000:01:00.1: failed to wait for the device's lock"
        [ ! -e "$STATE/stuck-0000:01:00.1" ]
        assert_equal "$(fk_writes)" 0
        device_lock_let_go
}

# What the writer reads must be an override: content that is not text (a NUL byte here) fails the
# read, with the device named and nothing written, instead of reading as no override (a device so
# read could be taken for one on its host driver already).
@test "a driver_override that is not text fails the claim, the device named, nothing written" {
        fake_root gpu-audio
        printf 'snd_hda_intel\0x' > "$ROOT/sys/bus/pci/devices/0000:01:00.1/driver_override"
        run --separate-stderr vc enable 01:00.0
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: 0000:01:00.1: failed to read the group: Bad message"
        assert_equal "$(fk_writes)" 0
}
