#!/usr/bin/env bats
# Tests of the fake kernel itself: fakesys-mktree and libfakekernel.so.
# Writes go through bash redirections (stdio, modelled at fflush) or through
# fakesys-op (one write(2), libkmod calls), both under LD_PRELOAD.

load helpers

GPU=0000:01:00.0
AUDIO=0000:01:00.1
RP=0000:00:01.0

mktree_err() {
        # mktree_err 'FIXTURE TEXT': expand it, expect failure
        printf '%s\n' "$1" > "$BATS_TEST_TMPDIR/bad.topo"
        run "$FK_MKTREE" "$BATS_TEST_TMPDIR/bad.topo" "$BATS_TEST_TMPDIR/badroot"
        assert_failure
}

log_line() {
        sed -n "${1}p" "$ROOT/.fakekernel/writes.log"
}

# ---------------------------------------------------------------- mktree

@test "mktree: every fixture expands" {
        for f in "$abs_top_srcdir"/tests/fixtures/*.topo; do
                rm -rf "$BATS_TEST_TMPDIR/t"
                run "$FK_MKTREE" "$f" "$BATS_TEST_TMPDIR/t"
                assert_success
        done
}

@test "mktree: layout, relative links and attributes as on a real kernel" {
        fake_root gpu-audio
        d=$ROOT/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0
        [ -d "$d" ]
        assert_equal "$(readlink "$ROOT/sys/bus/pci/devices/$GPU")" "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"
        assert_equal "$(readlink "$d/driver")" "../../../../bus/pci/drivers/nouveau"
        assert_equal "$(readlink "$ROOT/sys/devices/pci0000:00/0000:00:02.0/driver")" "../../../bus/pci/drivers/i915"
        assert_equal "$(readlink "$d/iommu_group")" "../../../../kernel/iommu_groups/1"
        assert_equal "$(readlink "$ROOT/sys/kernel/iommu_groups/1/devices/$GPU")" "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"
        assert_equal "$(readlink "$ROOT/sys/bus/pci/drivers/nouveau/$GPU")" "../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"
        assert_equal "$(readlink "$ROOT/sys/bus/pci/drivers/nouveau/module")" "../../../../module/nouveau"
        [ ! -e "$ROOT/sys/bus/pci/drivers/pcieport/module" ]
        assert_equal "$(cat "$ROOT/sys/module/nouveau/initstate")" "live"
        # links resolve
        [ -f "$ROOT/sys/bus/pci/devices/$GPU/driver/bind" ]
        [ -f "$ROOT/sys/bus/pci/devices/$GPU/iommu_group/type" ]
        assert_equal "$(cat "$ROOT/sys/kernel/iommu_groups/1/type")" "DMA"
        assert_equal "$(ls "$ROOT/sys/kernel/iommu_groups/1/devices" | tr '\n' ' ')" "0000:00:01.0 0000:01:00.0 0000:01:00.1 "
        assert_equal "$(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class") $(cat "$d/revision")" "0x10de 0x2204 0x030000 0xa1"
        assert_equal "$(cat "$d/subsystem_vendor") $(cat "$d/subsystem_device")" "0x1458 0x403b"
        assert_equal "$(cat "$d/modalias")" "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00"
        assert_equal "$(cat "$d/driver_override")" "(null)"
        assert_equal "$(cat "$d/numa_node")" "-1"
        assert_equal "$(cat "$d/boot_vga")" "0"
        assert_equal "$(cat "$d/reset_method")" "bus"
        assert_equal "$(cat "$d/current_link_speed") $(cat "$d/current_link_width")" "8.0 GT/s PCIe 16"
        assert_equal "$(cat "$d/max_link_speed") $(cat "$d/max_link_width")" "16.0 GT/s PCIe 16"
        assert_equal "$(stat -c %s "$d/config")" 256
        assert_equal "$(od -An -tx1 -N16 "$d/config" | tr -s ' ')" " de 10 04 22 00 00 10 00 a1 00 00 03 00 00 00 00"
        assert_equal "$(od -An -tx1 -j14 -N1 "$ROOT/sys/bus/pci/devices/$RP/config" | tr -d ' ')" "01"
        assert_equal "$(wc -l < "$d/resource")" 13
        assert_equal "$(sed -n 2p "$d/resource")" "0x0000004000000000 0x00000047ffffffff 0x000000000014220c"
        assert_equal "$(sed -n 1p "$d/resource")" "0x00000000a2000000 0x00000000a2ffffff 0x0000000000040200"
        assert_equal "$(sed -n 3p "$d/resource")" "0x0000000000000000 0x0000000000000000 0x0000000000000000"
        # reset_method= : present and empty; absent key: no attribute
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:00:17.0/reset_method")" ""
        [ ! -e "$ROOT/sys/bus/pci/devices/$RP/reset_method" ]
        [ -L "$ROOT/sys/class/iommu/dmar0" ]
        [ -f "$ROOT/sys/bus/pci/drivers_probe" ] && [ -f "$ROOT/sys/bus/pci/rescan" ]
        assert_equal "$(cat "$ROOT/sys/bus/pci/drivers_autoprobe")" 1
        grep -q intel_iommu=on "$ROOT/proc/cmdline"
        # vfio-pci is declared unloaded
        [ ! -e "$ROOT/sys/bus/pci/drivers/vfio-pci" ] && [ ! -e "$ROOT/dev/vfio/vfio" ]
}

@test "mktree: sriov links, no-iommu and amd" {
        fake_root sriov-64vf
        pf=$ROOT/sys/bus/pci/devices/0000:02:00.0
        assert_equal "$(cat "$pf/sriov_totalvfs") $(cat "$pf/sriov_numvfs")" "64 64"
        assert_equal "$(ls "$pf" | grep -c '^virtfn')" 64
        assert_equal "$(readlink "$pf/virtfn63")" "../0000:02:09.7"
        assert_equal "$(readlink "$ROOT/sys/bus/pci/devices/0000:02:02.0/physfn")" "../0000:02:00.0"
        assert_equal "$(ls "$ROOT/sys/kernel/iommu_groups" | wc -l)" 66
        rm -rf "$ROOT"
        fake_root no-iommu
        [ ! -e "$ROOT/sys/class/iommu/dmar0" ]
        assert_equal "$(ls "$ROOT/sys/class/iommu" | wc -l)" 0
        assert_equal "$(ls "$ROOT/sys/kernel/iommu_groups" | wc -l)" 0
        [ ! -e "$ROOT/sys/bus/pci/devices/0000:03:00.0/iommu_group" ]
        assert_equal "$(readlink "$ROOT/sys/bus/pci/drivers/xhci_hcd/module")" "../../../../module/xhci_pci"
        printf 'iommu amd\ndev 0000:00:01.0 class=0x020000 id=8086:10d3 group=3\n' > "$BATS_TEST_TMPDIR/amd.topo"
        run "$FK_MKTREE" "$BATS_TEST_TMPDIR/amd.topo" "$BATS_TEST_TMPDIR/amd"
        assert_success
        [ -L "$BATS_TEST_TMPDIR/amd/sys/class/iommu/ivhd0" ]
}

@test "mktree: errors name FIXTURE:LINE:" {
        mktree_err $'# c\nfrob x'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:2: unknown directive \"frob\""
        mktree_err $'dev 01:00.0 class=0x030000 id=10de:2204'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev: \"01:00.0\" is not a PCI address dddd:bb:ss.f"
        mktree_err $'\ndev 0000:01:00.0 class=0x030000 id=10de:2204 driver=nouveau'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:2: dev 0000:01:00.0: driver nouveau is not declared"
        mktree_err $'iommu none\ndev 0000:01:00.0 class=0x030000 id=10de:2204 group=1'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:2: dev 0000:01:00.0: group= with \"iommu none\""
        mktree_err $'dev 0000:01:00.0 class=0x030000 id=10de:2204 colour=red'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev 0000:01:00.0: unknown key \"colour\""
        mktree_err $'dev 0000:01:00.0 class=0x030000 id=10de:2204 parent=0000:00:01.0'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev 0000:01:00.0: parent 0000:00:01.0 is not declared before it"
        mktree_err $'driver nouveau ids=10de'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: driver nouveau: id \"10de\" is not VVVV:DDDD or VVVV:*"
        mktree_err $'driver e1000e unloaded\ndev 0000:03:00.0 class=0x020000 id=8086:10d3 driver=e1000e'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:2: dev 0000:03:00.0: driver e1000e is unloaded, cannot be bound"
        mktree_err $'iommu intel\ndev 0000:03:00.0 class=0x020000 id=8086:10d3\ndev 0000:03:00.0 class=0x020000 id=8086:10d3'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:3: dev 0000:03:00.0 declared twice"
        mktree_err $'dev 0000:03:00.0 id=8086:10d3'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev 0000:03:00.0: class= is required"
        mktree_err $'dev 0000:01:00.0 class=0x030000 id=10de:2204 reset_method=flr,cxl_bus'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev 0000:01:00.0: reset_method: \"cxl_bus\" is not a reset method of Linux 6.1 (device_specific, acpi, flr, af_flr, pm, bus)"
        mktree_err $'dev 0000:01:00.0 class=0x030000 id=10de:2204 reset_method=bus,flr,bus'
        assert_output "$BATS_TEST_TMPDIR/bad.topo:1: dev 0000:01:00.0: reset_method: bus listed twice"
}

# ---------------------------------------------------------------- driver_override

@test "override: set with and without newline, clear with \\n, 0-byte write changes nothing" {
        fake_root gpu-audio
        f=$(fk_dev $GPU)/driver_override
        fk_sh "echo vfio-pci > '$f'"
        assert_equal "$(cat "$f")" "vfio-pci"
        assert_equal "$(fk_override $GPU)" "vfio-pci"
        run fk "$FK_OP" write "$f" ""
        assert_success
        assert_equal "$(cat "$f")" "vfio-pci"
        fk_sh "echo > '$f'"
        assert_equal "$(cat "$f")" "(null)"
        assert_equal "$(fk_override $GPU)" ""
        run fk "$FK_OP" write "$f" "nouveau"
        assert_success
        assert_equal "$(cat "$f")" "nouveau"
        # the driver binding is untouched by an override
        assert_equal "$(fk_driver $GPU)" nouveau
}

@test "open: O_TRUNC and O_CREAT are dropped under ROOT/sys, kept elsewhere" {
        fake_root gpu-audio
        fk_fail '1 EIO'
        f=$(fk_dev $GPU)/driver_override
        run fk_sh "echo vfio-pci > '$f'"
        assert_failure
        assert_output --partial "write error: Input/output error"
        # a failed write has no effect, and the redirection did not truncate
        assert_equal "$(cat "$f")" "(null)"
        run fk_sh "echo x > '$ROOT/sys/bus/pci/devices/$GPU/no_such_attr'"
        assert_failure
        [ ! -e "$ROOT/sys/bus/pci/devices/$GPU/no_such_attr" ]
        echo longer-content > "$ROOT/outside"
        fk_sh "echo x > '$ROOT/outside'"
        assert_equal "$(cat "$ROOT/outside")" "x"
        # only the one write under sys was logged
        assert_equal "$(fk_writes)" 1
}

@test "unmodelled attribute keeps exactly the bytes of the last write" {
        fake_root gpu-audio
        f=$(fk_dev $AUDIO)/enable
        assert_equal "$(cat "$f")" "1"
        fk_sh "printf '0 x\\n\\n' > '$f'"
        assert_equal "$(od -An -c "$f" | tr -s ' ')" " 0 x \\n \\n"
        assert_equal "$(log_line 1)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/enable	0 x\\n\\n	ok"
}

# ---------------------------------------------------------------- reset_method

@test "reset_method: names kept in the order written; default brings back the fixture's list" {
        fake_root gpu-audio
        f=$(fk_dev $AUDIO)/reset_method
        assert_equal "$(cat "$f")" "flr bus"
        fk_sh "echo bus flr > '$f'"
        assert_equal "$(cat "$f")" "bus flr"
        # one write(2) without a newline; runs of spaces separate too; shown with single spaces
        run fk "$FK_OP" write "$f" "  bus   flr "
        assert_success
        assert_equal "$(od -An -c "$f" | tr -s ' ')" " b u s f l r \\n"
        fk_sh "echo bus > '$f'"
        assert_equal "$(cat "$f")" "bus"
        fk_sh "echo default > '$f'"
        assert_equal "$(cat "$f")" "flr bus"
        run fk "$FK_OP" write "$(fk_dev $GPU)/reset_method" default
        assert_success
        assert_equal "$(cat "$(fk_dev $GPU)/reset_method")" "bus"
        assert_equal "$(log_line 1)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/reset_method	bus flr\\n	ok"
        assert_equal "$(log_line 4)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/reset_method	default\\n	ok"
}

@test "reset_method: unknown and unsupported names fail with EINVAL and leave the value" {
        fake_root gpu-audio
        f=$(fk_dev $GPU)/reset_method     # the fixture: bus only
        fk_sh "echo bus > '$f'"
        # supported by Linux, not by this device; a list with one such name fails as a whole
        for v in flr "bus flr" pm device_specific; do
                run fk "$FK_OP" write "$f" "$v"
                assert_failure
                assert_output --partial EINVAL
                assert_equal "$(cat "$f")" "bus"
        done
        # not a method at all (cxl_bus came with Linux 6.10), "default" inside a list, a tab
        for v in frob cxl_bus "default bus" $'bus\tbus' BUS; do
                run fk "$FK_OP" write "$f" "$v"
                assert_failure
                assert_output --partial EINVAL
                assert_equal "$(cat "$f")" "bus"
        done
        run fk_sh "echo flr > '$(fk_dev $AUDIO)/reset_method'; echo pm > '$(fk_dev $AUDIO)/reset_method'"
        assert_failure
        assert_output --partial "Invalid argument"
        assert_equal "$(cat "$(fk_dev $AUDIO)/reset_method")" "flr"
        assert_equal "$(log_line 2)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/reset_method	flr	EINVAL"
        assert_equal "$(cut -f3 "$ROOT/.fakekernel/writes.log" | sort | uniq -c | tr -s ' \n' ' ')" " 10 EINVAL 2 ok "
}

@test "reset_method: a name may repeat (Linux does not check), up to 6 entries" {
        fake_root gpu-audio
        f=$(fk_dev $AUDIO)/reset_method
        fk_sh "echo flr flr > '$f'"
        assert_equal "$(cat "$f")" "flr flr"
        fk_sh "echo bus flr bus flr bus flr > '$f'"
        assert_equal "$(cat "$f")" "bus flr bus flr bus flr"
        run fk_sh "echo bus flr bus flr bus flr bus > '$f'"
        assert_failure
        assert_output --partial "Invalid argument"
        assert_equal "$(cat "$f")" "bus flr bus flr bus flr"
}

@test "reset_method: empty disables every method, a 0-byte write changes nothing" {
        fake_root gpu-audio
        f=$(fk_dev $AUDIO)/reset_method
        fk_sh "echo > '$f'"
        # reset_method_show() prints nothing, not even a newline, when no method is enabled
        [ -e "$f" ] && [ ! -s "$f" ]
        fk_sh "echo default > '$f'"
        assert_equal "$(cat "$f")" "flr bus"
        run fk "$FK_OP" write "$f" ""
        assert_success
        assert_equal "$(cat "$f")" "flr bus"
        run fk "$FK_OP" write "$f" "   "
        assert_success
        [ ! -s "$f" ]
        # a device that supports nothing (reset_method=): default finds nothing, a name fails
        g=$ROOT/sys/bus/pci/devices/0000:00:17.0/reset_method
        [ -e "$g" ] && [ ! -s "$g" ]
        [ ! -e "$ROOT/sys/bus/pci/devices/0000:00:17.0/reset" ]
        fk_sh "echo default > '$g'"
        [ ! -s "$g" ]
        run fk_sh "echo flr > '$g'"
        assert_failure
        # no reset_method key: no attribute, and a write cannot make one
        run fk_sh "echo flr > '$ROOT/sys/bus/pci/devices/$RP/reset_method'"
        assert_failure
        [ ! -e "$ROOT/sys/bus/pci/devices/$RP/reset_method" ]
}

@test "reset_method: faults come first; rescan brings back the fixture's list" {
        fake_root gpu-audio
        f=$(fk_dev $AUDIO)/reset_method
        fk_fail 'glob:*/reset_method EIO'
        run fk_sh "echo bus > '$f'"
        assert_failure
        assert_output --partial "Input/output error"
        assert_equal "$(cat "$f")" "flr bus"
        assert_equal "$(log_line 1)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/reset_method	bus\\n	EIO"
        : > "$ROOT/.fakekernel/faults"
        fk_sh "echo bus > '$f'"
        fk_sh "echo 1 > '$(fk_dev $AUDIO)/remove'"
        [ ! -e "$f" ]
        fk_sh "echo 1 > '$ROOT/sys/bus/pci/rescan'"
        assert_equal "$(cat "$f")" "flr bus"
}

# ---------------------------------------------------------------- bind / unbind

@test "unbind: removes both links; ENODEV when not bound to that driver" {
        fake_root gpu-audio
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        assert_equal "$(fk_driver $GPU)" ""
        [ ! -e "$ROOT/sys/bus/pci/drivers/nouveau/$GPU" ]
        run fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        assert_failure
        assert_output --partial "No such device"
        run fk_sh "echo $AUDIO > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        assert_failure
        assert_equal "$(fk_driver $AUDIO)" snd_hda_intel
        assert_equal "$(cut -f3 "$ROOT/.fakekernel/writes.log" | tr '\n' ' ')" "ok ENODEV ENODEV "
}

@test "bind: EBUSY when bound, ENODEV for unknown device, id mismatch or foreign override" {
        fake_root gpu-audio
        b=$ROOT/sys/bus/pci/drivers
        run fk "$FK_OP" write "$b/nouveau/bind" "$GPU"
        assert_failure
        assert_output --partial EBUSY
        run fk "$FK_OP" write "$b/nouveau/bind" "0000:09:00.0"
        assert_output --partial ENODEV
        fk_sh "echo $AUDIO > '$b/snd_hda_intel/unbind'"
        run fk "$FK_OP" write "$b/nouveau/bind" "$AUDIO"     # 10de:1aef matches nouveau's 10de:*
        assert_success
        assert_equal "$(fk_driver $AUDIO)" nouveau
        fk_sh "echo $AUDIO > '$b/nouveau/unbind'"
        run fk "$FK_OP" write "$b/ahci/bind" "$AUDIO"        # ids do not match
        assert_output --partial ENODEV
        fk_sh "echo nouveau > '$(fk_dev $AUDIO)/driver_override'"
        run fk "$FK_OP" write "$b/snd_hda_intel/bind" "$AUDIO"  # override names another driver
        assert_output --partial ENODEV
        assert_equal "$(fk_driver $AUDIO)" ""
        fk_sh "echo ahci > '$(fk_dev $AUDIO)/driver_override'"
        run fk "$FK_OP" write "$b/ahci/bind" "$AUDIO"        # override names it: binds without ids
        assert_success
        assert_equal "$(fk_driver $AUDIO)" ahci
}

@test "vfio-pci refuses bridges: bind EINVAL, probe binds nothing" {
        fake_root nics-bridge
        br=0000:01:00.0
        fk_sh "echo vfio-pci > '$(fk_dev $br)/driver_override'"
        run fk "$FK_OP" write "$ROOT/sys/bus/pci/drivers/vfio-pci/bind" "$br"
        assert_failure
        assert_output --partial EINVAL
        run fk_sh "echo $br > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_success
        assert_equal "$(fk_driver $br)" ""
        [ ! -e "$ROOT/dev/vfio/5" ]
}

# ---------------------------------------------------------------- drivers_probe

@test "drivers_probe: no override binds the first matching loaded driver" {
        fake_root nics-bridge
        nic=0000:02:02.0     # 10ec:8139: 8139cp (loaded, first), 8139too (unloaded)
        fk_sh "echo $nic > '$ROOT/sys/bus/pci/drivers/8139cp/unbind'"
        fk_sh "echo $nic > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $nic)" 8139cp
        # bound: success, nothing changes
        run fk_sh "echo $nic > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_success
        assert_equal "$(fk_driver $nic)" 8139cp
        run fk_sh "echo 0000:0a:00.0 > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_failure
        assert_output --partial "No such device"
}

@test "drivers_probe: an override binds only that driver; success even when nothing binds" {
        fake_root gpu-audio
        fk_sh "echo vfio-pci > '$(fk_dev $GPU)/driver_override'"
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        # vfio-pci is not loaded: nothing binds, nouveau (matching) must not
        run fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_success
        assert_equal "$(fk_driver $GPU)" ""
        assert_equal "$(log_line 3)" "sys/bus/pci/drivers_probe	$GPU\\n	ok"
        run fk_host "$FK_OP" modprobe vfio-pci
        assert_success
        # the module load probed it already
        assert_equal "$(fk_driver $GPU)" vfio-pci
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'"
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $GPU)" vfio-pci
        # clear the override: the id table decides again
        fk_sh "echo > '$(fk_dev $GPU)/driver_override'"
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'"
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $GPU)" nouveau
}

@test "new_id/remove_id edit the id table; new_id attaches unbound matching devices" {
        fake_root lone-nic
        nic=0000:03:00.0
        d=$ROOT/sys/bus/pci/drivers/e1000e
        fk_sh "echo $nic > '$d/unbind'"
        fk_sh "echo '8086 10d3' > '$d/remove_id'"
        fk_sh "echo $nic > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $nic)" ""
        run fk_sh "echo '8086 10d3' > '$d/remove_id'"
        assert_failure
        fk_sh "echo '8086 10d3' > '$d/new_id'"
        assert_equal "$(fk_driver $nic)" e1000e
        run fk_sh "echo '8086 10d3' > '$d/new_id'"
        assert_failure
        assert_output --partial "File exists"
}

@test "a process that writes again sees the model another process changed in between" {
        # the shim keeps the parsed model between a process's writes (tests/fakekernel/fkmodel.c):
        # one shell removes the id, another process adds it back, the first shell's probe must
        # bind with it
        fake_root lone-nic
        nic=0000:03:00.0
        d=$ROOT/sys/bus/pci/drivers/e1000e
        cat > "$BATS_TEST_TMPDIR/writes" <<EOF
echo '8086 10d3' > '$d/remove_id'
bash -c "echo '8086 10d3' > '$d/new_id'"
echo $nic > '$d/unbind'
echo $nic > '$ROOT/sys/bus/pci/drivers_probe'
EOF
        run fk bash "$BATS_TEST_TMPDIR/writes"
        assert_success
        assert_equal "$(fk_driver $nic)" e1000e
        assert_equal "$(cut -f1,3 "$ROOT/.fakekernel/writes.log" | sed 's,^sys/bus/pci/,,')" \
                "$(printf '%s\t%s\n' drivers/e1000e/remove_id ok drivers/e1000e/new_id ok \
                        drivers/e1000e/unbind ok drivers_probe ok)"
}

# ---------------------------------------------------------------- /dev/vfio

@test "/dev/vfio/N exists while a device of group N is on a vfio driver" {
        fake_root gpu-audio
        run fk_host "$FK_OP" modprobe vfio_pci
        assert_success
        [ -e "$ROOT/dev/vfio/vfio" ]
        [ ! -e "$ROOT/dev/vfio/1" ]
        for a in $GPU $AUDIO; do
                fk_sh "echo vfio-pci > '$(fk_dev $a)/driver_override'"
        done
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'; echo $GPU > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $GPU)" vfio-pci
        [ -e "$ROOT/dev/vfio/1" ]
        fk_sh "echo $AUDIO > '$ROOT/sys/bus/pci/drivers/snd_hda_intel/unbind'; echo $AUDIO > '$ROOT/sys/bus/pci/drivers_probe'"
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'"
        [ -e "$ROOT/dev/vfio/1" ]          # the audio function still holds it
        fk_sh "echo $AUDIO > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'"
        [ ! -e "$ROOT/dev/vfio/1" ]
        [ -e "$ROOT/dev/vfio/vfio" ]
}

@test "/dev/vfio/N also for a vfio variant driver (vfio_dev)" {
        cat > "$BATS_TEST_TMPDIR/v.topo" <<'TOPO'
driver mlx5_vfio_pci ids=15b3:101e
driver mlx5_core ids=15b3:101e
dev 0000:05:00.1 class=0x020000 id=15b3:101e group=9 driver=mlx5_core vfio_dev
TOPO
        ROOT=$BATS_TEST_TMPDIR/root
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/v.topo" "$ROOT"
        export ROOT FAKEKERNEL_ROOT=$ROOT
        [ -d "$ROOT/sys/bus/pci/devices/0000:05:00.1/vfio-dev" ]
        [ -e "$ROOT/dev/vfio/9" ]
        fk_sh "echo 0000:05:00.1 > '$ROOT/sys/bus/pci/drivers/mlx5_core/unbind'"
        [ ! -e "$ROOT/dev/vfio/9" ]
}

# ---------------------------------------------------------------- modules

@test "module load: registers the driver and probes matching devices, honouring overrides" {
        fake_root nics-bridge
        b=$ROOT/sys/bus/pci/drivers
        # 02:02.0 (10ec:8139) unbound with an override naming 8139cp: skipped
        fk_sh "echo 8139cp > '$(fk_dev 0000:02:02.0)/driver_override'; echo 0000:02:02.0 > '$b/8139cp/unbind'"
        # 02:00.0 (8086:100e) unbound with an override naming 8139too: binds without an id match
        fk_sh "echo 8139too > '$(fk_dev 0000:02:00.0)/driver_override'; echo 0000:02:00.0 > '$b/e1000/unbind'"
        # 02:01.0 unbound, no override, ids do not match 8139too: skipped
        fk_sh "echo 0000:02:01.0 > '$b/e1000/unbind'"
        [ ! -e "$b/8139too" ]
        run fk_host "$FK_OP" modprobe 8139too
        assert_success
        [ -f "$b/8139too/bind" ] && [ -f "$b/8139too/new_id" ]
        assert_equal "$(readlink "$b/8139too/module")" "../../../../module/8139too"
        assert_equal "$(cat "$ROOT/sys/module/8139too/initstate")" live
        assert_equal "$(fk_driver 0000:02:02.0)" ""
        assert_equal "$(fk_driver 0000:02:00.0)" 8139too
        assert_equal "$(fk_driver 0000:02:01.0)" ""
        assert_equal "$(tail -n1 "$ROOT/.fakekernel/writes.log")" "modprobe:8139too		ok"
}

@test "module load: matching device without override binds; loaded: 0 or EEXIST; unknown: ENOENT" {
        fake_root lone-nic
        nic=0000:03:00.0
        run fk_host "$FK_OP" modprobe vfio_pci
        assert_success
        assert_equal "$(fk_driver $nic)" e1000e    # bound devices are left alone
        [ -e "$ROOT/dev/vfio/vfio" ]
        run fk_host "$FK_OP" modprobe vfio_pci
        assert_success
        run fk_host "$FK_OP" modprobe vfio_pci --fail-on-loaded
        assert_failure
        assert_output --partial EEXIST
        run fk_host "$FK_OP" insmod vfio_pci
        assert_output --partial EEXIST
        run fk_host "$FK_OP" modprobe nvidia
        assert_failure
        assert_output --partial ENOENT
        run fk_host "$FK_OP" modprobe e1000e
        assert_success
        fk_sh "echo $nic > '$ROOT/sys/bus/pci/drivers/e1000e/unbind'"
        echo 0 > "$ROOT/sys/bus/pci/drivers_autoprobe"
        rm -rf "$ROOT/sys/bus/pci/drivers/e1000e"
        sed -i 's/^driver e1000e e1000e loaded/driver e1000e e1000e unloaded/' "$ROOT/.fakekernel/model"
        run fk_host "$FK_OP" modprobe e1000e
        assert_success
        assert_equal "$(fk_driver $nic)" ""     # drivers_autoprobe 0: no attach
}

@test "module load: the vfio_pci module probes overridden devices and makes /dev/vfio/N" {
        fake_root lone-nic
        nic=0000:03:00.0
        fk_sh "echo vfio-pci > '$(fk_dev $nic)/driver_override'; echo $nic > '$ROOT/sys/bus/pci/drivers/e1000e/unbind'"
        run fk_host "$FK_OP" modprobe vfio-pci
        assert_success
        assert_equal "$(fk_driver $nic)" vfio-pci
        [ -e "$ROOT/dev/vfio/7" ]
}

# ---------------------------------------------------------------- faults

@test "fault by number: the Nth write across processes fails and has no effect" {
        fake_root gpu-audio
        fk_fail '2 EBUSY'
        f=$(fk_dev $GPU)/driver_override
        fk_sh "echo vfio-pci > '$f'"
        run fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        assert_failure
        assert_output --partial "Device or resource busy"
        assert_equal "$(fk_driver $GPU)" nouveau
        fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
        assert_equal "$(fk_driver $GPU)" ""
        assert_equal "$(cut -f3 "$ROOT/.fakekernel/writes.log" | tr '\n' ' ')" "ok EBUSY ok "
        assert_equal "$(cat "$ROOT/.fakekernel/counter")" 3
}

@test "fault by glob: every matching write fails; modprobe faults" {
        fake_root gpu-audio
        fk_fail 'glob:*/unbind EIO'
        fk_fail 'modprobe:vfio_pci ENOMEM'
        for i in 1 2; do
                run fk_sh "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'"
                assert_failure
        done
        assert_equal "$(fk_driver $GPU)" nouveau
        run fk_sh "echo vfio-pci > '$(fk_dev $GPU)/driver_override'"
        assert_success
        run fk_host "$FK_OP" modprobe vfio_pci
        assert_output --partial ENOMEM
        [ ! -e "$ROOT/sys/bus/pci/drivers/vfio-pci" ]
        assert_equal "$(cut -f3 "$ROOT/.fakekernel/writes.log" | tr '\n' ' ')" "EIO EIO ok ENOMEM "
}

@test "fault HANG: the write blocks, has no effect, and holds no lock" {
        fake_root gpu-audio
        fk_fail "glob:*/nouveau/unbind HANG"
        fk_exec bash -c "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'" >/dev/null 2>&1 3>&- &
        first=$!
        wait_for '[ "$(fk_writes)" = 1 ]'
        kill -0 "$first"      # hanging
        kill -9 "$first"
        wait "$first" || true
        assert_equal "$(fk_driver $GPU)" nouveau
        assert_equal "$(log_line 1)" "sys/bus/pci/drivers/nouveau/unbind	$GPU\\n	HANG"
        # a hung writer in the background does not block others
        fk_exec bash -c "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'" >/dev/null 2>&1 3>&- &
        hung=$!
        wait_for '[ "$(fk_writes)" = 2 ]'
        assert_equal "$(cut -f3 "$ROOT/.fakekernel/writes.log" | tr '\n' ' ')" "HANG HANG "
        run timeout 300 env LD_PRELOAD="$FK_SHIM" bash -c "echo vfio-pci > '$(fk_dev $GPU)/driver_override'"
        assert_success
        assert_equal "$(fk_override $GPU)" vfio-pci
        assert_equal "$(log_line 3)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override	vfio-pci\\n	ok"
        kill -0 "$hung"       # still hanging
        kill "$hung"
        wait "$hung" || true
        # neither writer is left blocked (each was the background job itself)
        assert_equal "$(grep -l -a -e "$ROOT/sys/bus/pci/drivers/nouveau/unbin[d]" /proc/[0-9]*/cmdline 2>/dev/null)" ""
}

@test "fault STUCK: the write holds the device lock past SIGKILL, takes effect when released" {
        fake_root gpu-audio
        fk_fail "glob:*/nouveau/unbind STUCK"
        fk bash -c "echo $GPU > '$ROOT/sys/bus/pci/drivers/nouveau/unbind'" >/dev/null 2>&1 3>&- &
        writer=$!
        wait_for '[ -n "$(ls -A "$ROOT/.fakekernel/stuck" 2>/dev/null)" ]'
        kill -9 "$writer"
        wait "$writer" || true
        assert_equal "$(log_line 1)" "sys/bus/pci/drivers/nouveau/unbind	$GPU\\n	STUCK"
        assert_equal "$(fk_driver $GPU)" nouveau          # the driver link: no device lock
        [ -n "$(ls -A "$ROOT/.fakekernel/stuck")" ]       # the writer's task lives on
        # reading driver_override takes the device lock: the reader waits until the write ends,
        # and so does a write of it; the other function, reset_method and the device's other
        # attributes do not wait
        fk cat "$(fk_dev $GPU)/driver_override" > "$BATS_TEST_TMPDIR/read" 2>&1 3>&- &
        reader=$!
        fk bash -c "echo vfio-pci > '$(fk_dev $GPU)/driver_override'" >/dev/null 2>&1 3>&- &
        overrider=$!
        run timeout 300 env LD_PRELOAD="$FK_SHIM" cat "$(fk_dev $AUDIO)/driver_override"
        assert_success
        run timeout 300 env LD_PRELOAD="$FK_SHIM" cat "$(fk_dev $GPU)/vendor" "$(fk_dev $GPU)/reset_method"
        assert_success
        kill -0 "$reader"     # still waiting
        kill -0 "$overrider"
        assert_equal "$(fk_writes)" 1
        fk_unstick
        wait "$reader"
        wait "$overrider"
        # both waited for the lock; which of the two takes it first when the write lets go is
        # the scheduler's choice (as with the kernel's mutex): the read saw one state or the other
        read=$(cat "$BATS_TEST_TMPDIR/read")
        [[ $read == "(null)" || $read == vfio-pci ]] || fail "driver_override read as '$read'"
        assert_equal "$(fk_driver $GPU)" ""
        assert_equal "$(fk_override $GPU)" vfio-pci
        assert_equal "$(log_line 2)" "sys/bus/pci/drivers/nouveau/unbind	$GPU\\n	ok"
        assert_equal "$(log_line 3)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override	vfio-pci\\n	ok"
        # released: STUCK faults no longer apply
        fk_sh "echo nouveau > '$(fk_dev $GPU)/driver_override'; echo $GPU > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_equal "$(fk_driver $GPU)" nouveau
}

@test "fault KILL: the writer's whole process group dies, the write has no effect" {
        fake_root gpu-audio
        fk_fail "glob:*/driver_override KILL"
        # its own process group (setsid), or the SIGKILL would take bats with it; the shell
        # that started the writer is in the group too and dies with it
        run setsid -w env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$FK_SHIM" \
                bash -c "echo vfio-pci > '$(fk_dev $GPU)/driver_override'; echo survived"
        refute_output --partial survived
        assert_equal "$status" 137
        assert_equal "$(fk_override $GPU)" ""
        assert_equal "$(log_line 1)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override	vfio-pci\\n	KILL"
}

# ---------------------------------------------------------------- log and concurrency

@test "write log: RELPATH TAB VALUE TAB RESULT, newlines shown as \\n" {
        fake_root gpu-audio
        run fk "$FK_OP" write "$(fk_dev $GPU)/driver_override" $'vfio-pci\n'
        run fk "$FK_OP" write "$(fk_dev $GPU)/driver_override" ""
        run fk "$FK_OP" write "$ROOT/sys/bus/pci/drivers/ahci/bind" "$GPU"
        run fk_host "$FK_OP" modprobe vfio_pci
        assert_equal "$(fk_writes)" 4
        assert_equal "$(log_line 1)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override	vfio-pci\\n	ok"
        assert_equal "$(log_line 2)" "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override		ok"
        assert_equal "$(log_line 3)" "sys/bus/pci/drivers/ahci/bind	$GPU	ENODEV"
        assert_equal "$(log_line 4)" "modprobe:vfio_pci		ok"
}

@test "concurrency: 64 processes claim 64 VFs at once, nothing lost" {
        fake_root sriov-64vf
        fk_host "$FK_OP" modprobe vfio_pci
        vfs=$(ls "$ROOT/sys/bus/pci/devices/0000:02:00.0" | sed -n 's/^virtfn//p' | while read -r k; do
                basename "$(readlink "$ROOT/sys/bus/pci/devices/0000:02:00.0/virtfn$k")"; done)
        assert_equal "$(echo "$vfs" | wc -l)" 64
        pids=()
        for a in $vfs; do
                fk bash -c "echo vfio-pci > '$ROOT/sys/bus/pci/devices/$a/driver_override'
                            echo $a > '$ROOT/sys/bus/pci/drivers/iavf/unbind'
                            echo $a > '$ROOT/sys/bus/pci/drivers_probe'" &
                pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
        for a in $vfs; do
                assert_equal "$(fk_driver "$a")" vfio-pci
        done
        assert_equal "$(ls "$ROOT/dev/vfio" | grep -c '^[0-9]')" 64
        assert_equal "$(cat "$ROOT/.fakekernel/counter")" 192
        assert_equal "$(fk_writes)" 193
        assert_equal "$(grep -c '	ok$' "$ROOT/.fakekernel/writes.log")" 193
}

@test "valgrind: the shim runs clean under memcheck" {
        command -v valgrind >/dev/null || skip "valgrind not installed"
        ! ldd "$FK_OP" | grep -q libasan || skip "an ASan build cannot run under valgrind"
        fake_root lone-nic
        run env FAKEKERNEL_ROOT="$ROOT" LD_PRELOAD="$FK_SHIM" valgrind -q --error-exitcode=99 \
                "$FK_OP" write "$(fk_dev 0000:03:00.0)/driver_override" vfio-pci
        assert_success
        assert_equal "$(fk_override 0000:03:00.0)" vfio-pci
}

@test "ASan: the shim works inside an ASan-instrumented binary" {
        cc=${CC:-cc}
        "$cc" -fsanitize=address -D_GNU_SOURCE -o "$BATS_TEST_TMPDIR/op-asan" \
                "$abs_top_srcdir/tests/fakekernel/op.c" -lkmod 2>/dev/null || skip "no ASan toolchain"
        fake_root lone-nic
        nic=0000:03:00.0
        run fk "$BATS_TEST_TMPDIR/op-asan" write "$(fk_dev $nic)/driver_override" vfio-pci
        assert_success
        run fk "$BATS_TEST_TMPDIR/op-asan" write "$ROOT/sys/bus/pci/drivers/e1000e/unbind" "$nic"
        assert_success
        run fk_host "$BATS_TEST_TMPDIR/op-asan" modprobe vfio_pci
        assert_success
        assert_equal "$(fk_driver $nic)" vfio-pci
        assert_equal "$(fk_writes)" 3
}

# ---------------------------------------------------------------- capture-topology.sh

@test "capture-topology: a captured fake tree expands to a tree that captures the same" {
        fake_root gpu-audio
        cap=$abs_top_srcdir/tests/fakekernel/capture-topology.sh
        run sh "$cap" "$ROOT/sys"
        assert_success
        printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/c1.topo"
        assert_line "iommu intel"
        assert_line --partial "cmdline BOOT_IMAGE=/boot/vmlinuz-6.1.0-13-amd64 "
        assert_line "driver pcieport builtin ids=8086:460d,8086:7ab8"
        assert_line "driver nouveau ids=10de:2204"
        assert_line "dev 0000:00:01.0 class=0x060400 id=8086:460d subsys=1458:5001 rev=0x02 group=1 driver=pcieport link=16.0:16/16.0:16"
        assert_line "dev 0000:01:00.0 class=0x030000 id=10de:2204 subsys=1458:403b rev=0xa1 group=1 parent=0000:00:01.0 driver=nouveau boot_vga=0 reset_method=bus link=8.0:16/16.0:16 bar0=0xa2000000:0x1000000 bar1=0x4000000000:0x800000000 bar3=0x4800000000:0x2000000 rom=0xa3000000:0x80000"
        assert_line "dev 0000:00:17.0 class=0x010601 id=8086:7ae2 subsys=1458:b005 rev=0x11 group=2 driver=ahci reset_method= bar0=0xa4400000:0x2000 bar5=0xa4402000:0x800"
        assert_line "dev 0000:02:00.0 class=0x010802 id=144d:a80a subsys=144d:a801 rev=0x00 group=4 parent=0000:00:1c.0 driver=nvme reset_method=flr,bus numa=0 link=8.0:4/16.0:4 bar0=0xa4200000:0x4000"
        "$FK_MKTREE" "$BATS_TEST_TMPDIR/c1.topo" "$BATS_TEST_TMPDIR/r2"
        run sh "$cap" "$BATS_TEST_TMPDIR/r2/sys"
        assert_success
        assert_equal "$(printf '%s\n' "$output" | sed 1d)" "$(sed 1d "$BATS_TEST_TMPDIR/c1.topo")"
}

@test "capture-topology: sriov, overrides, no-iommu; same output under busybox sh" {
        fake_root sriov-64vf
        fk_sh "echo vfio-pci > '$(fk_dev 0000:02:02.0)/driver_override'"
        cap=$abs_top_srcdir/tests/fakekernel/capture-topology.sh
        run sh "$cap" "$ROOT/sys"
        assert_success
        assert_line --partial " driver=i40e reset_method=flr,bus link=8.0:8/8.0:8 bar0=0x383ffe000000:0x1000000 bar3=0x383fff808000:0x8000 totalvfs=64 numvfs=64"
        assert_line --regexp "^dev 0000:02:02.0 .* driver=iavf override=vfio-pci reset_method=flr bar0=0x383fff000000:0x10000 physfn=0000:02:00.0$"
        if command -v busybox >/dev/null; then
                sh_out=$output
                run busybox sh "$cap" "$ROOT/sys"
                assert_success
                assert_equal "$output" "$sh_out"
        fi
        rm -rf "$ROOT"
        fake_root no-iommu
        run sh "$cap" "$ROOT/sys"
        assert_line "iommu none"
        refute_line --partial "group="
        assert_line "driver xhci_hcd module=xhci_pci ids=1022:149c"
}

@test "capture-topology: this host's /sys gives a fixture that expands" {
        [ -d /sys/bus/pci/devices ] || skip "no PCI sysfs here"
        run sh "$abs_top_srcdir/tests/fakekernel/capture-topology.sh"
        assert_success
        printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/host.topo"
        run "$FK_MKTREE" "$BATS_TEST_TMPDIR/host.topo" "$BATS_TEST_TMPDIR/host"
        assert_success
        assert_equal "$(ls "$BATS_TEST_TMPDIR/host/sys/bus/pci/devices" | wc -l)" "$(ls /sys/bus/pci/devices | wc -l)"
}

# ---------------------------------------------------------------- remove / rescan

@test "remove takes the device and its subtree away; rescan brings them back, override reset, autoprobed" {
        fake_root nics-bridge
        br=0000:01:00.0
        fk_sh "echo vfio-pci > '$(fk_dev 0000:02:00.0)/driver_override'"
        fk_sh "echo 1 > '$ROOT/sys/devices/pci0000:00/0000:00:1c.0/$br/remove'"
        [ ! -e "$ROOT/sys/bus/pci/devices/$br" ]
        [ ! -e "$ROOT/sys/bus/pci/devices/0000:02:00.0" ]
        [ ! -e "$ROOT/sys/kernel/iommu_groups/5/devices/0000:02:01.0" ]
        [ ! -e "$ROOT/sys/bus/pci/drivers/e1000/0000:02:00.0" ]
        [ ! -e "$ROOT/sys/devices/pci0000:00/0000:00:1c.0/$br" ]
        run fk_sh "echo 0000:02:01.0 > '$ROOT/sys/bus/pci/drivers_probe'"
        assert_failure
        run fk_sh "echo 0 > '$ROOT/sys/bus/pci/rescan'"
        assert_success
        [ ! -e "$ROOT/sys/bus/pci/devices/$br" ]
        run fk_sh "echo x > '$ROOT/sys/bus/pci/rescan'"
        assert_failure
        assert_output --partial "Invalid argument"
        fk_sh "echo 1 > '$ROOT/sys/bus/pci/rescan'"
        [ -d "$ROOT/sys/bus/pci/devices/$br/" ]
        [ -e "$ROOT/sys/kernel/iommu_groups/5/devices/0000:02:01.0/vendor" ]
        assert_equal "$(fk_override 0000:02:00.0)" ""
        assert_equal "$(fk_driver 0000:02:00.0)" e1000
        assert_equal "$(fk_driver 0000:02:01.0)" e1000
        assert_equal "$(fk_driver 0000:02:02.0)" 8139cp
        assert_equal "$(fk_driver $br)" ""
        assert_equal "$(fk_driver 0000:00:1c.0)" pcieport
}

@test "fake kernel: trees have no device cap (576 devices from gen-topo.sh); uevent shows the ids and the driver" {
        "$abs_top_srcdir/tests/bench/gen-topo.sh" 576 > "$BATS_TEST_TMPDIR/big.topo"
        ROOT="$BATS_TEST_TMPDIR/root" FAKEKERNEL_ROOT="$BATS_TEST_TMPDIR/root"
        CONF="$ROOT${VC_SYSCONFDIR:-/etc}/vfio-claim" STATE="$ROOT${VC_RUNSTATEDIR:-/run}/vfio-claim"
        export ROOT FAKEKERNEL_ROOT CONF STATE
        run "$FK_MKTREE" "$BATS_TEST_TMPDIR/big.topo" "$ROOT"
        assert_success
        assert_equal "$(ls "$ROOT/sys/bus/pci/devices" | wc -l)" 576
        # dev_uevent()'s DRIVER= while bound, then pci_uevent()'s lines, as vfio-claim reads them in one go
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:09:00.1/uevent")" \
                "$(printf '%s\n' DRIVER=snd_hda_intel PCI_CLASS=40300 PCI_ID=10DE:1AEF PCI_SUBSYS_ID=0000:0000 \
                        PCI_SLOT_NAME=0000:09:00.1 MODALIAS=pci:v000010DEd00001AEFsv00000000sd00000000bc04sc03i00)"
        run vc list --json
        assert_success
        assert_equal "$(grep -o '"address"' <<< "$output" | wc -l)" 576
        # the shim models the 576th device like the first: a claim of it goes through
        run vc enable 0000:09:09.3
        assert_success
        assert_equal "$(basename "$(readlink "$ROOT/sys/bus/pci/devices/0000:09:09.3/driver")")" vfio-pci
        assert_equal "$(cat "$ROOT/sys/bus/pci/devices/0000:09:09.3/driver_override")" vfio-pci
        # uevent follows every bind and unbind, as the kernel's does
        assert_equal "$(head -1 "$ROOT/sys/bus/pci/devices/0000:09:09.3/uevent")" DRIVER=vfio-pci
        fk_sh "echo 0000:09:09.3 > '$ROOT/sys/bus/pci/drivers/vfio-pci/unbind'"
        assert_equal "$(head -1 "$ROOT/sys/bus/pci/devices/0000:09:09.3/uevent")" PCI_CLASS=20000
        run vc list --json
        assert_success
        assert_output --partial $'"address": "0000:09:09.3",'
        [[ "$output" =~ \"address\":\ \"0000:09:09.3\"[^}]*\"driver\":\ null ]]
}
