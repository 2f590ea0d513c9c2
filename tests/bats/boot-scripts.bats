#!/usr/bin/env bats
# The shell parts of claiming at boot: dracut's module-setup.sh and cmdline hook, and the
# initramfs-tools hook and init-top script, run against stubs of dracut's and initramfs-tools'
# functions and the real vfio-claim-udev on a fake root.
#
# What this proves: the decisions these scripts make (include or not, what goes into the image,
# which switches skip the pass, where init-top puts us) and that they parse. What it does not:
# that dracut or mkinitramfs build a working image from them, or that the image boots; the
# lab (tests/vm) does that.

load helpers

UDEV_HELPER="$abs_top_builddir/vfio-claim-udev"
# The configuration directory the programs were built with (SYSCONFDIR/vfio-claim; below
# $prefix in make distcheck): the fake root keeps its configuration there.
VC_CONFDIR=$("$UDEV_HELPER" --help | sed -n 's/.*(default \(.*\))$/\1/p')
MODULE_SETUP="$abs_top_builddir/dracut/90vfio-claim/module-setup.sh"
PASS_HOOK="$abs_top_builddir/dracut/90vfio-claim/vfio-claim-pass.sh"
IT_HOOK="$abs_top_builddir/initramfs-tools/hooks/vfio-claim"
IT_TOP="$abs_top_builddir/initramfs-tools/scripts/init-top/00-vfio-claim"

setup() {
        ROOT="$BATS_TEST_TMPDIR/root"
        mkdir -p "$ROOT$VC_CONFDIR"
        CALLS="$BATS_TEST_TMPDIR/calls"
        : > "$CALLS"
}

conf() {
        printf '%s\n' "$1" > "$ROOT$VC_CONFDIR/vfio-claim.conf"
}

# The installed helper path the scripts were generated with.
installed_helper() {
        sed -n 's/^vfio_claim_helper=//p' "$MODULE_SETUP"
}

# dracut_module FUNCTION: run module-setup.sh's FUNCTION in bash with dracut's functions stubbed
# (each records its arguments in $CALLS) and the helper of the build tree.
dracut_module() {
        bash -c '
                set -u
                dwarn() { echo "dwarn $*" >> "$CALLS"; }
                for f in inst_binary inst_libdir_file inst_rules inst_dir inst_multiple inst_simple inst_hook; do
                        eval "$f() { echo \"$f \$*\" >> \"\$CALLS\"; }"
                done
                instmods() { echo "instmods hostonly=[${hostonly-unset}] $*" >> "$CALLS"; }
                dracut_module_included() { [ "$1" = "${WITH_MODULE:-}" ]; }
                SYSTEMCTL() { echo "systemctl $*" >> "$CALLS"; }
                SYSTEMCTL=SYSTEMCTL
                hostonly=yes
                moddir=/usr/lib/dracut/modules.d/90vfio-claim
                initdir=${INITDIR:-/tmp/initdir}
                systemdsystemunitdir=$UNITDIR
                . "$MODULE_SETUP"
                vfio_claim_helper=$UDEV_HELPER
                "$1"
        ' _ "$1"
}

@test "dracut check(): included only when the configuration has boot = yes entries" {
        export CALLS UDEV_HELPER MODULE_SETUP dracutsysrootdir="$ROOT" UNITDIR=/nonexistent
        run dracut_module check
        assert_failure 255
        conf '[device nic]
match = 0000:02:00.0
; boot = yes'
        run dracut_module check
        assert_failure 255
        conf '[device nic]
match = 0000:02:00.0
boot = yes'
        run dracut_module check
        assert_success
        conf '[device nic]
match = 0000:02:00.0
boot = si'
        run dracut_module check
        assert_failure 255
        run cat "$CALLS"
        assert_output --partial 'dwarn vfio-claim: '
        assert_output --partial '/vfio-claim is invalid (see '"'"'vfio-claim check-config'"'"'); not claiming devices in the initramfs'
}

@test "dracut install(): helper, rule, configuration with conf.d, cmdline hook 00; vfio modules even when hostonly" {
        export CALLS UDEV_HELPER MODULE_SETUP dracutsysrootdir="$ROOT" UNITDIR=/nonexistent
        mkdir -p "$ROOT$VC_CONFDIR/conf.d"
        conf '[device nic]
match = 0000:02:00.0
boot = yes'
        touch "$ROOT$VC_CONFDIR/conf.d/a.conf" "$ROOT$VC_CONFDIR/conf.d/b.conf" \
                "$ROOT$VC_CONFDIR/conf.d/c.conf.rpmsave"
        run dracut_module install
        assert_success
        run cat "$CALLS"
        assert_line "inst_binary $UDEV_HELPER"
        assert_line "inst_libdir_file libkmod.so.2*"
        assert_line 'inst_rules 70-vfio-claim.rules'
        assert_line "inst_multiple -o $VC_CONFDIR/vfio-claim.conf"
        assert_line "inst_simple $VC_CONFDIR/conf.d/a.conf"
        assert_line "inst_simple $VC_CONFDIR/conf.d/b.conf"
        refute_line --partial 'rpmsave'
        assert_line 'inst_hook cmdline 00 /usr/lib/dracut/modules.d/90vfio-claim/vfio-claim-pass.sh'
        refute_line --partial 'systemctl'
        : > "$CALLS"
        run dracut_module installkernel
        assert_success
        run cat "$CALLS"
        assert_output 'instmods hostonly=[] vfio vfio_iommu_type1 vfio_pci_core vfio_pci'
}

# The host-critical devices of the system the image is built on (lib/critical.h): written into the
# image for the boot claims, but not for another root (dracut --sysroot), whose devices they are not.
@test "dracut install(): the image gets this system's host-critical devices, not for another root" {
        INITDIR="$BATS_TEST_TMPDIR/initdir"
        mkdir -p "$INITDIR$VC_CONFDIR"
        export CALLS UDEV_HELPER MODULE_SETUP INITDIR dracutsysrootdir="$ROOT" UNITDIR=/nonexistent
        run dracut_module install
        assert_success
        [ ! -e "$INITDIR$VC_CONFDIR/host-critical" ]
        dracutsysrootdir=
        run dracut_module install
        assert_success
        [ -f "$INITDIR$VC_CONFDIR/host-critical" ]
        refute_output --partial dwarn
        # what the helper prints for this machine, one "ADDRESS ID REASON" line each
        assert_equal "$(cat "$INITDIR$VC_CONFDIR/host-critical")" "$("$UDEV_HELPER" --host-critical)"
        run grep -cvE '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] [0-9a-f]{4}:[0-9a-f]{4} .+$' "$INITDIR$VC_CONFDIR/host-critical"
        assert_output 0
}

@test "dracut install() in a systemd initramfs also enables the early unit" {
        unitdir="$BATS_TEST_TMPDIR/units"
        mkdir -p "$unitdir"
        touch "$unitdir/vfio-claim-early.service"
        export CALLS UDEV_HELPER MODULE_SETUP dracutsysrootdir="$ROOT" UNITDIR="$unitdir" WITH_MODULE=systemd
        run dracut_module install
        assert_success
        run cat "$CALLS"
        assert_line "inst_simple $unitdir/vfio-claim-early.service"
        assert_line 'systemctl -q --root /tmp/initdir enable vfio-claim-early.service'
}

# pass_hook: source the cmdline hook as dracut does, with the helper replaced by a recorder.
pass_hook() {
        local script="$BATS_TEST_TMPDIR/pass.sh"
        sed "s|$(installed_helper)|$BATS_TEST_TMPDIR/helper|" "$PASS_HOOK" > "$script"
        printf '#!/bin/sh\necho "helper $*" >> "%s"\n' "$CALLS" > "$BATS_TEST_TMPDIR/helper"
        chmod +x "$BATS_TEST_TMPDIR/helper"
        sh -c '
                . "$1"
                echo "returned" >> "$CALLS"
        ' _ "$script"
}

@test "dracut cmdline hook: runs the pass with --kmsg and leaves the rescue switch to the helper" {
        export CALLS
        run pass_hook
        assert_success
        run cat "$CALLS"
        assert_line 'helper --all --kmsg'
        assert_line 'returned' # sourced: it must not exit dracut's shell
        # with the rescue switch too: the helper reads it as the udev rule's runs and the early
        # unit do, the last occurrence winning (udev.bats: "vfio_claim=0 and rd.vfio_claim=0 on
        # the kernel command line"; the lab's boots: tests/vm/boot/run.sh)
}

@test "the early unit leaves the rescue switch to the helper (no ConditionKernelCommandLine=)" {
        # systemd would skip the unit when vfio_claim=0 appears anywhere on the line, where the
        # helper lets the last occurrence win: vfio_claim=0 vfio_claim=1 claims at boot
        unit="$abs_top_srcdir/systemd/vfio-claim-early.service.in"
        run grep -c '^ConditionKernelCommandLine=' "$unit"
        assert_output 0
        run grep '^ExecStart=' "$unit"
        assert_output 'ExecStart=@udevdir@/vfio-claim-udev --all'
}

# it_hook: run the initramfs-tools hook with hook-functions stubbed, the helper, rule and
# configuration of the test.
it_hook() {
        local hook="$BATS_TEST_TMPDIR/hook" stub="$BATS_TEST_TMPDIR/hook-functions"
        local confdir rules
        confdir=$(sed -n 's/^confdir=//p' "$IT_HOOK")
        rules=$(sed -n 's/^rules=//p' "$IT_HOOK")
        cat > "$stub" <<EOF
copy_exec() { echo "copy_exec \$*" >> "$CALLS"; }
copy_file() { [ -f "\$2" ] || return 2; echo "copy_file \$*" >> "$CALLS"; }
manual_add_modules() { echo "manual_add_modules \$*" >> "$CALLS"; }
EOF
        sed -e "s|/usr/share/initramfs-tools/hook-functions|$stub|" \
                -e "s|$(installed_helper)|$UDEV_HELPER|g" \
                -e "s|^confdir=.*|confdir=$ROOT${confdir}|" \
                -e "s|^rules=.*|rules=$abs_top_srcdir/udev/70-vfio-claim.rules|" \
                "$IT_HOOK" > "$hook"
        DESTDIR="$BATS_TEST_TMPDIR/destdir" VFIO_CLAIM_SYSROOT="$ROOT" sh "$hook" "$@"
}

@test "initramfs-tools hook: nothing without boot devices; helper, rule, config and modules with them" {
        export CALLS
        run it_hook prereqs
        assert_output 'udev'
        run it_hook
        assert_success
        assert_equal "$(cat "$CALLS")" ""
        mkdir -p "$ROOT$VC_CONFDIR/conf.d"
        conf '[device nic]
match = 0000:02:00.0
boot = yes'
        touch "$ROOT$VC_CONFDIR/conf.d/z.conf"
        run it_hook
        assert_success
        run cat "$CALLS"
        assert_line --regexp "^copy_exec $UDEV_HELPER /.*/$"
        assert_line --regexp "^copy_exec /.*/libkmod\.so\.2$"
        assert_line "copy_file config $ROOT$VC_CONFDIR/vfio-claim.conf"
        assert_line "copy_file config $ROOT$VC_CONFDIR/conf.d/z.conf"
        assert_line 'manual_add_modules vfio vfio_iommu_type1 vfio_pci_core vfio_pci'
        [ -f "$BATS_TEST_TMPDIR/destdir/lib/udev/rules.d/70-vfio-claim.rules" ]
        # the host-critical devices of the system it runs on (here the fake root: none)
        [ -f "$BATS_TEST_TMPDIR/destdir$ROOT$VC_CONFDIR/host-critical" ]
        : > "$CALLS"
        printf 'oops\n' >> "$ROOT$VC_CONFDIR/conf.d/z.conf"
        run it_hook
        assert_success
        assert_output --partial 'W: vfio-claim: '
        assert_equal "$(cat "$CALLS")" ""
}

@test "initramfs-tools init-top: mkinitramfs' own ordering puts the pass before udev" {
        hf=/usr/share/initramfs-tools/hook-functions
        [ -r "$hf" ] || skip "initramfs-tools-core is not installed ($hf)"
        conf="$BATS_TEST_TMPDIR/conf" dest="$BATS_TEST_TMPDIR/destdir"
        mkdir -p "$conf/scripts/init-top" "$dest/scripts/init-top"
        for s in udev all_generic_ide blacklist keymap; do
                printf '#!/bin/sh\nPREREQ=""\ncase $1 in prereqs) echo "$PREREQ"; exit 0;; esac\n' \
                        > "$conf/scripts/init-top/$s"
        done
        cp "$IT_TOP" "$conf/scripts/init-top/"
        chmod +x "$conf/scripts/init-top/"*
        cp -p "$conf/scripts/init-top/"* "$dest/scripts/init-top/"
        run sh -c '. "$1"; CONFDIR=$2 verbose=n cache_run_scripts "$3" /scripts/init-top; cat "$3/scripts/init-top/ORDER"' \
                _ "$hf" "$conf" "$dest"
        assert_success
        assert_line --index 0 '/scripts/init-top/00-vfio-claim "$@"'
        run grep -n 'init-top/udev' "$dest/scripts/init-top/ORDER"
        assert_output --regexp '^[0-9]+:/scripts/init-top/udev'
}

@test "initramfs-tools init-top: runs the pass with --kmsg and never fails the boot" {
        script="$BATS_TEST_TMPDIR/top"
        sed "s|$(installed_helper)|$BATS_TEST_TMPDIR/helper|g" "$IT_TOP" > "$script"
        printf '#!/bin/sh\necho "helper $*" >> "%s"\nexit 1\n' "$CALLS" > "$BATS_TEST_TMPDIR/helper"
        chmod +x "$BATS_TEST_TMPDIR/helper"
        run sh "$script" prereqs
        assert_output ''
        run sh "$script"
        assert_success
        run cat "$CALLS"
        assert_output 'helper --all --kmsg'
        rm "$BATS_TEST_TMPDIR/helper"
        run sh "$script"
        assert_success
}
