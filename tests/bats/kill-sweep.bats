#!/usr/bin/env bats
# SIGKILL at every write of a claim, a give-back, apply's undo of an earlier group and the boot
# pass (the fake kernel's KILL fault, write by write): whatever the kill leaves, `status` reads it
# and `release group:N` gives the group back as it was, with no record left. And state that
# another tool or a planted file leaves: a group on vfio-pci whose override names its host
# driver, a FIFO where a record is expected.
bats_require_minimum_version 1.5.0
load helpers

# killed_vc ARGS...: vc ARGS in a process group of its own (the KILL fault kills the group)
killed_vc() {
        run setsid -w env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" \
                "$BASH" -c "$(declare -f fk vc); vc $*"
}

# state_of: drivers and overrides of the gpu-audio group, and the record's state line
state_of() {
        echo "$(fk_driver 0000:01:00.0)/$(fk_override 0000:01:00.0) $(fk_driver 0000:01:00.1)/$(fk_override 0000:01:00.1) rec=$(sed -n 's/^state //p' "$STATE/group-1" 2>/dev/null)"
}

# gpu_audio_recovers N: after the kill at write N, the faults gone, status reads what it left and
# release group:1 gives the group back as it was, with no record
gpu_audio_recovers() {
        : > "$ROOT/.fakekernel/faults"
        run vc status
        [ "$status" -eq 0 ] || { echo "n=$1 status: $status $output"; false; }
        run vc release group:1
        [ "$status" -eq 0 ] || { echo "n=$1 release: $status $output"; false; }
        assert_equal "$(state_of)" "nouveau/ snd_hda_intel/ rec="
}

@test "sweep: enable killed at write N; status and release group:1 recover" {
        for n in $(seq 1 12); do
                fake_root gpu-audio
                fk_fail "$n KILL"
                killed_vc enable 01:00.0
                gpu_audio_recovers "$n"
        done
}

@test "sweep: release killed at write N; status and release group:1 recover" {
        for n in $(seq 1 12); do
                fake_root gpu-audio
                run vc enable 01:00.0
                assert_success
                base=$(fk_writes)
                fk_fail "$((base + n)) KILL"
                killed_vc release group:1
                gpu_audio_recovers "$n"
        done
}

nics_state() {
        echo "$(fk_driver 0000:01:00.0)/$(fk_override 0000:01:00.0) $(fk_driver 0000:02:00.0)/$(fk_override 0000:02:00.0) rec3=$(sed -n 's/^state //p' "$STATE/group-3" 2>/dev/null) rec5=$(sed -n 's/^state //p' "$STATE/group-5" 2>/dev/null)"
}

@test "sweep: apply's undo of an earlier group killed at write N; status and release recover" {
        for n in $(seq 1 10); do
                fake_root twin-nics
                fk_host "$FK_OP" modprobe e1000e
                mkdir -p "$CONF"
                printf '[device nic1]\nmatch = 01:00.0\nboot = yes\n[device nic2]\nmatch = 02:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
                base=$(fk_writes)
                fk_fail 'glob:*0000:02:00.0/driver_override EIO'
                # the first group's claim takes some writes, the second fails at its first; the undo follows
                echo "$((base + n)) KILL" >> "$ROOT/.fakekernel/faults"
                killed_vc apply
                : > "$ROOT/.fakekernel/faults"
                run vc status
                for g in 3 5; do
                        [ -e "$STATE/group-$g" ] || continue
                        run vc release group:$g
                        [ "$status" -eq 0 ] || { echo "n=$n release $g: $status $output"; false; }
                done
                assert_equal "$(nics_state)" "e1000e/ e1000e/ rec3= rec5="
        done
}

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"

killed_pass() {
        run setsid -w env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" UDEV_HELPER="$UDEV_HELPER" \
                "$BASH" -c "$(declare -f fk); fk env FAKEKERNEL_HOST=1 VFIO_CLAIM_LOG=stderr \"\$UDEV_HELPER\" --all"
}

@test "sweep: boot pass (coldplug, nothing bound) killed at write N; status and release recover" {
        for n in $(seq 1 10); do
                fake_root twin-nics
                mkdir -p "$CONF"
                printf '[device nic1]\nmatch = 01:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
                fk_fail "$n KILL"
                killed_pass
                : > "$ROOT/.fakekernel/faults"
                run vc status
                if [ -e "$STATE/group-3" ]; then
                        run vc release group:3
                        [ "$status" -eq 0 ] || { echo "n=$n release: $status $output"; false; }
                fi
                # given back: the kernel picks (e1000e is unloaded in the fixture: host=probe loads it or leaves it unbound)
                d=$(fk_driver 0000:01:00.0) o=$(fk_override 0000:01:00.0)
                [ "$d" != vfio-pci ] && [ -z "$o" ] && [ ! -e "$STATE/group-3" ]
        done
}

# A group another tool (driverctl, a hand edit) put on vfio-pci whose driver_override names the
# host driver again: at its next probe it would leave vfio-pci. enable sets the override back, and
# since no write goes without a record (docs/DESIGN.md), keeps one: release gives the override it
# found back, exactly.
@test "enable of a group another tool put on vfio-pci, its override naming the host driver: a record, which release gives back" {
        fake_root twin-nics
        fk_host "$FK_OP" modprobe e1000e
        fk_host "$FK_OP" modprobe vfio_pci
        fk_sh "printf vfio-pci > $ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override"
        fk_sh "printf 0000:01:00.0 > $ROOT/sys/bus/pci/drivers/e1000e/unbind"
        fk_sh "printf 0000:01:00.0 > $ROOT/sys/bus/pci/drivers_probe"
        fk_sh "printf e1000e > $ROOT/sys/bus/pci/devices/0000:01:00.0/driver_override"
        assert_equal "$(fk_driver 0000:01:00.0)/$(fk_override 0000:01:00.0)" "vfio-pci/e1000e"
        run vc enable 01:00.0
        assert_success
        assert_line "IOMMU group 3: already on vfio; driver_override set back, and a record kept"
        assert_equal "$(fk_driver 0000:01:00.0)/$(fk_override 0000:01:00.0)" "vfio-pci/vfio-pci"
        grep -qx 'state claimed' "$STATE/group-3"
        grep -q '^device 0000:01:00.0 driver=vfio-pci module=vfio_pci override=e1000e' "$STATE/group-3"
        run vc release group:3
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)/$(fk_override 0000:01:00.0)" "vfio-pci/e1000e"
        [ ! -e "$STATE/group-3" ]
}

# A --sysroot tree is input (lib/root.h): a FIFO planted where a state record is expected is
# reported as a damaged record, and never waited on for a writer.
@test "a FIFO where a record is expected in a --sysroot tree does not hang status" {
        fake_root twin-nics
        mkdir -p "$STATE"
        mkfifo "$STATE/group-3"
        run timeout 60 "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" status
        assert_failure 1
        assert_output --partial "group-3"
}
