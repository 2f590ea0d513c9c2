#!/usr/bin/env bats
# --sysroot is a boundary (lib/root.h, README): links in the tree never lead out of it, and no
# module is ever loaded, nor a modprobe.d "install" command run, for a root other than "/".
# The programs run with --sysroot ROOT here (vc_sysroot); the shim does not model module loads
# for them, and refuses and logs any init_module/finit_module (tests/fakekernel/README.md).

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
NIC=0000:03:00.0 # lone-nic: e1000e, group 7

setup() {
        OUT="$BATS_TEST_TMPDIR/outside"
        mkdir -p "$OUT"
}

# outside_file NAME: a file outside the tree, and what it holds
outside_file() {
        echo untouched > "$OUT/$1"
        echo "$OUT/$1"
}

@test "sysroot: a drivers_probe linked out of the tree is not written through" {
        fake_root lone-nic
        fk_host "$FK_OP" modprobe vfio_pci
        run vc_sysroot enable $NIC
        assert_success
        rm "$ROOT/sys/bus/pci/drivers_probe"
        ln -s "$(outside_file drivers_probe)" "$ROOT/sys/bus/pci/drivers_probe"
        run vc_sysroot disable $NIC
        assert_failure
        assert_output --partial "$NIC"
        assert_output --partial 'No such file or directory'
        assert_equal "$(cat "$OUT/drivers_probe")" untouched
}

@test "sysroot: a device attribute linked out of the tree is not written through" {
        fake_root lone-nic
        fk_host "$FK_OP" modprobe vfio_pci
        attr=$(readlink -f "$ROOT/sys/bus/pci/devices/$NIC")/driver_override
        rm "$attr"
        ln -s "$(outside_file driver_override)" "$attr"
        run vc_sysroot enable $NIC
        assert_failure
        assert_output --partial "$NIC"
        assert_equal "$(cat "$OUT/driver_override")" untouched
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "sysroot: a state directory linked out of the tree: no lock, no record outside" {
        fake_root lone-nic
        fk_host "$FK_OP" modprobe vfio_pci
        mkdir -p "$(dirname "$STATE")"
        rm -rf "$STATE"
        ln -s "$OUT" "$STATE"
        run vc_sysroot enable $NIC
        assert_failure
        assert_output --partial 'No such file or directory'
        assert_equal "$(ls -A "$OUT")" ""
        assert_equal "$(fk_driver $NIC)" e1000e
}

# A boot claim of the tree (twin-nics: e1000e is not loaded at boot, the record says host=probe):
# giving the NIC back needs the module its modalias names. vfio-pci is there already, so the
# claim itself needs no module under VFIO_CLAIM_SYSROOT.
BOOT_NIC=0000:02:00.0
boot_claimed_nic() {
        fk_host "$FK_OP" modprobe vfio_pci
        mkdir -p "$CONF"
        printf '[device guest-nic]\nmatch = %s\nboot = yes\n' "$BOOT_NIC" > "$CONF/vfio-claim.conf"
        fk env ACTION=add SUBSYSTEM=pci DEVPATH="/devices/pci0000:00/$BOOT_NIC" \
                PCI_SLOT_NAME="$BOOT_NIC" PCI_ID=8086:10D3 VFIO_CLAIM_SYSROOT="$ROOT" VFIO_CLAIM_LOG=stderr \
                "$UDEV_HELPER"
        assert_equal "$(fk_driver $BOOT_NIC)" vfio-pci
        grep -q 'host=probe' "$STATE"/group-*
}

# tree_module [RELEASE]: the tree's module index (of kernel RELEASE, the running one's by default)
# names vcfake (a .ko in the tree) for the NIC's modalias
tree_module() {
        local depmod dir kver=${1:-$(uname -r)}
        depmod=$(PATH=/usr/sbin:/sbin:$PATH command -v depmod) || skip "depmod (kmod) is not installed"
        dir="$ROOT/lib/modules/$kver"
        mkdir -p "$dir/kernel"
        printf 'const char m[] __attribute__((section(".modinfo"), used)) = "alias=pci:v00008086d000010D3sv*sd*bc*sc*i*";\n' \
                > "$BATS_TEST_TMPDIR/m.c"
        ${CC:-cc} -c "$BATS_TEST_TMPDIR/m.c" -o "$dir/kernel/vcfake.ko" || skip "no C compiler"
        : > "$dir/modules.order"
        "$depmod" -b "$ROOT" "$kver" 2>/dev/null
        grep -q 'alias pci:v00008086d000010D3.* vcfake' "$dir/modules.alias"
}

@test "sysroot: an install command in the tree's modprobe.d never runs" {
        fake_root twin-nics
        boot_claimed_nic
        tree_module
        mkdir -p "$ROOT/etc/modprobe.d"
        echo "install vcfake touch $OUT/marker" > "$ROOT/etc/modprobe.d/evil.conf"
        run vc_sysroot release guest-nic
        assert_failure
        assert_output --partial "this needed: vcfake"
        [ ! -e "$OUT/marker" ]
        run grep -c -e '^init_module:' -e '^modprobe:vcfake' "$ROOT/.fakekernel/writes.log"
        assert_output 0
        assert_equal "$(fk_driver $BOOT_NIC)" vfio-pci # rolled back: still the guest's
}

@test "sysroot: a module file in the tree is never loaded; the command says what it needed" {
        fake_root twin-nics
        boot_claimed_nic
        tree_module
        run vc_sysroot release guest-nic
        assert_failure
        assert_output --partial "vfio-claim never loads kernel modules for a root other than \"/\"; this needed: vcfake"
        run grep -c -e '^init_module:' -e '^modprobe:vcfake' "$ROOT/.fakekernel/writes.log"
        assert_output 0
        assert_equal "$(fk_driver $BOOT_NIC)" vfio-pci
}

@test "sysroot: the tree's modules are those of the tree's kernel, as doctor reads them" {
        fake_root twin-nics
        boot_claimed_nic
        tree_module 9.9.9-vctree
        mkdir -p "$ROOT/proc/sys/kernel" && echo 9.9.9-vctree > "$ROOT/proc/sys/kernel/osrelease"
        run vc_sysroot release guest-nic
        assert_failure
        assert_output --partial "this needed: vcfake"
        run grep -c -e '^init_module:' -e '^modprobe:vcfake' "$ROOT/.fakekernel/writes.log"
        assert_output 0
}

@test "sysroot: claiming needs vfio-pci: not loaded, and said so" {
        fake_root lone-nic
        run vc_sysroot enable $NIC
        assert_failure
        assert_output --partial "this needed: vfio_pci"
        run grep -c -e '^init_module:' -e '^modprobe:' "$ROOT/.fakekernel/writes.log"
        assert_output 0
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "sysroot: --dry-run says the module it needs is not loaded for another root" {
        fake_root lone-nic
        run vc_sysroot --dry-run enable $NIC
        assert_success
        assert_output --partial "load module vfio_pci (not for --sysroot: a real run stops here; load it on that system)"
        run grep -c -e '^init_module:' -e '^modprobe:' "$ROOT/.fakekernel/writes.log"
        assert_output 0
        assert_equal "$(fk_driver $NIC)" e1000e
}

@test "sysroot: doctor's initramfs check never reads through a /boot linked out of the tree" {
        bats_require_minimum_version 1.5.0
        fake_root doctor-healthy
        kver=$(cat "$ROOT/proc/sys/kernel/osrelease" 2>/dev/null || uname -r)
        mkdir -p "$OUT/boot" "$CONF/conf.d"
        touch -d '2026-01-01 00:00' "$OUT/boot/initrd.img-$kver" # outside, older than the configuration
        ln -s "$OUT/boot" "$ROOT/boot"
        dev=$(basename "$(ls -d "$ROOT"/sys/bus/pci/devices/0000:0[1-9]:00.0 | head -1)")
        printf '[device gpu]\nmatch = %s\nboot = yes\n' "$dev" > "$CONF/conf.d/gpu.conf"
        run --separate-stderr vc_sysroot --json doctor
        echo "$output" | jq -e . >/dev/null
        # /boot in the tree leads to ROOT$OUT/boot, which holds no initramfs
        assert_equal "$(echo "$output" | jq -r '[.findings[] | select(.check == "initramfs")][0].level')" skip
}
