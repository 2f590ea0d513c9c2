#!/bin/bash
# tests/deb/check.sh: build the Debian packages of this tree and check them (debian/, issue 14).
#
#   1. dpkg-buildpackage -us -uc -b in a clean copy of the tree (tracked files only)
#   2. lintian on what it built: no error, no warning (overrides carry their reason)
#   3. the `make dist` tarball as the .orig.tar.xz: dpkg-source -b (3.0 (quilt)), dpkg-source -x,
#      dpkg-buildpackage -b from the extracted source
#   4. in a Debian chroot (debootstrap --variant=minbase of this host's release plus the
#      runtime libraries, built once and cached), piuparts-style: install, remove, purge with a
#      list of every file before and after; boot = yes devices enable the early unit and
#      trigger the initramfs rebuild; an upgrade from the previous package (built from the
#      commit in tests/deb/previous) keeps a claim record readable; remove leaves a
#      claimed group's record alone and says how to give it back; purge leaves nothing behind.
#
# TAP on stdout, progress on stderr, the time of each part at the end. Needs root (chroot) and,
# for the first run only, the host's Debian mirror. Exit 77: cannot run here (says why).
#
#   tests/deb/check.sh [--src DIR] [--cache DIR] [--check]
#     --check   run the package's build-time test suite too (default: DEB_BUILD_OPTIONS=nocheck;
#               CI runs `make check` in its own stage)
#     --debs DIR  skip the builds and lintian (1-3): check the .debs in DIR in the chroot
set -euo pipefail
# One compound command: bash reads it whole before it runs it, so editing this file during a run
# does not change the run.
{

src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VC_DEB_CACHE:-/var/cache/vfio-claim-deb}
nocheck=nocheck
debs=
while [[ $# -gt 0 ]]; do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --check) nocheck=; shift ;;
        --debs) debs=$(cd "$2" && pwd); shift 2 ;;
        *) echo "usage: $0 [--src DIR] [--cache DIR] [--check] [--debs DIR]" >&2; exit 2 ;;
        esac
done

msg() { printf 'deb-check: %s\n' "$*" >&2; }
skip() { msg "skipped: $*"; exit 77; }
for t in dpkg-buildpackage dpkg-source lintian debootstrap chroot; do
        command -v "$t" >/dev/null || skip "$t is not installed (tools/quickstart installs it)"
done
[[ $(id -u) -eq 0 ]] || skip "needs root (chroot)"
[[ -f $src/debian/control ]] || { msg "$src has no debian/"; exit 2; }

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
        local d=$1; shift
        if "$@" >&2; then ok "$d"; else notok "$d"; fi
}
times=()
t0=$SECONDS
lap() { times+=("$1 $((SECONDS - t0))s"); t0=$SECONDS; }

work=$(mktemp -d /tmp/vc-deb.XXXXXX)
cleanup() {
        if [[ $failed -eq 0 ]]; then rm -rf "$work"; else msg "kept $work for inspection"; fi
}
trap cleanup EXIT
export DEB_BUILD_OPTIONS="$nocheck parallel=$(nproc)"
[[ -z $nocheck ]] || export DEB_BUILD_PROFILES=nocheck
export LC_ALL=C.UTF-8

version=$(cd "$src" && dpkg-parsechangelog -S Version)
upstream=${version%-*}

if [[ -n $debs ]]; then
        deb=$(ls "$debs"/vfio-claim_"$version"_*.deb)
        deb_dracut=$debs/vfio-claim-dracut_${version}_all.deb
else
        # ---- 1. the clean tree (tests/deb/build.sh: the lab's stages of the same run install
        # the same build, so whichever comes first builds it)
        mkdir -p "$work/clean" "$work/tree"
        if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
                git -C "$src" ls-files -z | (cd "$src" && tar --null -T - -cf -) | tar -xf - -C "$work/clean"
        else
                (cd "$src" && tar -cf - .) | tar -xf - -C "$work/clean"
        fi
        with_check=()
        [[ -n $nocheck ]] || with_check=(--check)
        if built=$(bash "$src/tests/deb/build.sh" --src "$work/clean" "${with_check[@]}" 2>"$work/build.err"); then
                ok "dpkg-buildpackage -us -uc -b from a clean tree"
                cp "$built"/*.deb "$built"/*.changes "$built"/*.buildinfo "$built/build.log" "$work/tree/"
        else
                cat "$work/build.err" >&2
                notok "dpkg-buildpackage -us -uc -b from a clean tree"
                exit 1
        fi
        deb=$(ls "$work"/tree/vfio-claim_"$version"_*.deb)
        deb_dracut=$work/tree/vfio-claim-dracut_${version}_all.deb
        lap build

        # ---- 2. lintian
        changes=$(ls "$work"/tree/vfio-claim_"$version"_*.changes)
        if lintian --fail-on error,warning --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1; then
                ok "lintian: no error, no warning"
        else
                cat "$work/lintian.log" >&2
                notok "lintian: no error, no warning"
        fi
        lap lintian

        # ---- 3. make dist -> dpkg-source 3.0 (quilt) -> build
        msg "make dist, dpkg-source -b, dpkg-source -x, dpkg-buildpackage -b (log: $work/dist/build.log)"
        mkdir -p "$work/dist"
        dist_ok=1
        (
                set -e
                # The upstream tree without debian/, as a release is made from it.
                cp -a "$work/clean" "$work/dist/up" && cd "$work/dist/up" && rm -rf debian
                autoreconf -fi && ./configure -q && make dist
                cp "vfio-claim-$upstream.tar.xz" "../vfio-claim_$upstream.orig.tar.xz"
                cd .. && tar -xf "vfio-claim_$upstream.orig.tar.xz"
                cp -a "$src/debian" "vfio-claim-$upstream/"
                dpkg-source -b "vfio-claim-$upstream"
                rm -rf "vfio-claim-$upstream" && dpkg-source -x "vfio-claim_$version.dsc" x
                cd x && dpkg-buildpackage -us -uc -b
        ) >"$work/dist/build.log" 2>&1 || dist_ok=0
        if [[ $dist_ok -eq 1 ]] && grep -qx 'Format: 3.0 (quilt)' "$work/dist/vfio-claim_$version.dsc"; then
                ok "make dist tarball -> dpkg-source 3.0 (quilt) -> dpkg-buildpackage -b"
        else
                tail -n 30 "$work/dist/build.log" >&2
                notok "make dist tarball -> dpkg-source 3.0 (quilt) -> dpkg-buildpackage -b"
        fi
        if [[ $dist_ok -eq 1 ]] && lintian --fail-on error,warning "$work/dist/vfio-claim_$version.dsc" >&2; then
                ok "lintian on the source package: no error, no warning"
        else
                notok "lintian on the source package: no error, no warning"
        fi
        lap dist

fi

# ---- the previous package (tests/deb/previous), for the upgrade in 4
prev_commit=$(sed -n 's/^commit \([0-9a-f]\{40\}\)$/\1/p' "$src/tests/deb/previous" 2>/dev/null || true)
prev_debs=
if [[ -n $prev_commit ]] && git -C "$src" cat-file -e "$prev_commit^{commit}" 2>/dev/null; then
        mkdir -p "$work/prev/vfio-claim"
        git -C "$src" archive "$prev_commit" | tar -x -C "$work/prev/vfio-claim"
        if prev_debs=$(bash "$src/tests/deb/build.sh" --src "$work/prev/vfio-claim"); then
                ok "the previous package (${prev_commit:0:12}) builds"
        else
                notok "the previous package (${prev_commit:0:12}) builds"
                prev_debs=
        fi
        lap previous
fi

# ---- 4. the chroot
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*//; s/[[:space:]]//g' | grep -v '^$' | sort -u)
# systemd (the early unit), initramfs-tools (the update-initramfs trigger), dracut-core (the
# dracut module's package); versions come from the host's mirror.
base_pkgs="$deps systemd udev initramfs-tools dracut-core"
key=$(printf '%s\n' "$codename" $base_pkgs | sha256sum | cut -c1-12)
base=$cache/chroot-$codename-$key
if [[ ! -f $base/.done ]]; then
        mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
        [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
        [[ -n $mirror ]] || skip "no Debian mirror in this host's apt sources"
        msg "building the test chroot $base (once; a few minutes)"
        mkdir -p "$cache"
        minbase=$cache/minbase-$codename
        if [[ ! -f $minbase/etc/debian_version ]]; then
                rm -rf "$minbase.tmp"
                debootstrap --variant=minbase "$codename" "$minbase.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
                        skip "debootstrap failed (log: $cache/debootstrap.log)"
                mv "$minbase.tmp" "$minbase"
        fi
        rm -rf "$base.tmp" && cp -a "$minbase" "$base.tmp"
        cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
        # shellcheck disable=SC2086
        chroot "$base.tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                $base_pkgs >>"$cache/debootstrap.log" 2>&1 || skip "apt-get in the chroot failed (log: $cache/debootstrap.log)"
        chroot "$base.tmp" apt-get clean
        touch "$base.tmp/.done" && mv "$base.tmp" "$base"
fi
root=$work/root
cp -a --reflink=auto "$base" "$root"
mkdir -p "$root/debs"
cp "$deb" "$deb_dracut" "$root/debs/"
debname=/debs/${deb##*/}
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
# Every file of the root but dpkg's own database, apt's caches and logs (piuparts' view).
snap() {
        in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /debs \
                -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \) \
                -prune -o -print | sort
}
# dpkg ACTION... with its output kept in $work/out
dpkg_do() { in_root dpkg "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; return 1; }; }
has() { grep -qF -- "$2" "$1" || { msg "missing in $1: $2"; cat "$1" >&2; return 1; }; }
hasnt() { ! grep -qF -- "$2" "$1" || { msg "unexpected in $1: $2"; cat "$1" >&2; return 1; }; }
same() { diff -u "$1" "$2" >&2; }
wants=/etc/systemd/system/sysinit.target.wants/vfio-claim-early.service

snap >"$work/before"

# -- install without boot devices
check "install: dpkg -i succeeds" dpkg_do -i "$debname"
cp "$work/out" "$work/out.install"
check "install: vfio-claim runs" in_root vfio-claim --version
check "install: the libvirt hook link resolves to the hook" \
        test "$(in_root readlink -f /etc/libvirt/hooks/qemu.d/vfio-claim)" = /usr/libexec/vfio-claim/vfio-claim-hook
check "install: vfio-claim.conf is a conffile" \
        has <(in_root dpkg-query -W -f='${Conffiles}\n' vfio-claim) /etc/vfio-claim/vfio-claim.conf
check "install: no boot = yes device, the early unit stays disabled" test ! -L "$root$wants"
check "install: no boot = yes device, no initramfs rebuild" hasnt "$work/out.install" "Processing triggers for initramfs-tools"
check "install: the man pages and the bash completion are in place" test -f "$root/usr/share/man/man8/vfio-claim.8.gz" \
        -a -f "$root/usr/share/man/man5/vfio-claim.conf.5.gz" -a -f "$root/usr/share/bash-completion/completions/vfio-claim"

# -- remove: only the conffiles stay; purge: nothing stays
check "remove: dpkg -r succeeds" dpkg_do -r vfio-claim
snap >"$work/after-remove"
comm -13 "$work/before" "$work/after-remove" >"$work/left-remove"
# The conffile, and deb-systemd-helper's record of the unit's links (purge removes both).
check "remove: only the conffile and the unit's deb-systemd-helper state stay" \
        same <(printf '%s\n' /etc/vfio-claim /etc/vfio-claim/vfio-claim.conf \
                /var/lib/systemd/deb-systemd-helper-enabled/vfio-claim-early.service.dsh-also | sort) \
        "$work/left-remove"
check "purge: dpkg -P succeeds" dpkg_do -P vfio-claim
snap >"$work/after-purge"
check "purge: the file list equals the one before the install" same "$work/before" "$work/after-purge"

# -- with boot = yes devices: the early unit is enabled and the initramfs rebuilt
mkdir -p "$root/etc/vfio-claim/conf.d"
printf '[device nic]\nmatch = 0000:00:03.0\nboot = yes\n' >"$root/etc/vfio-claim/conf.d/nic.conf"
check "boot: dpkg -i succeeds" dpkg_do -i "$debname"
cp "$work/out" "$work/out.boot"
check "boot: the early unit is enabled" test -L "$root$wants"
check "boot: the postinst says so" has "$work/out.boot" "vfio-claim: boot = yes devices are configured: enabled vfio-claim-early.service"
check "boot: the initramfs rebuild is triggered" has "$work/out.boot" "Processing triggers for initramfs-tools"
check "boot: the admin's conf.d file is kept" test -f "$root/etc/vfio-claim/conf.d/nic.conf"
check "dracut: vfio-claim-dracut installs next to dracut-core" dpkg_do -i "/debs/${deb_dracut##*/}"
check "dracut: the module is where dracut reads it" test -x "$root/usr/lib/dracut/modules.d/90vfio-claim/module-setup.sh"

# -- a VM holds a group while the package is upgraded: the record stays and is read.
# The previous package (tests/deb/previous) replaces this one first (the same version number:
# dpkg reinstalls), so the upgrade below runs the previous package's prerm and this one's postinst.
if [[ -n $prev_debs ]]; then
        cp "$prev_debs"/vfio-claim_*.deb "$root/debs/prev.deb"
        cp "$prev_debs"/vfio-claim-dracut_*.deb "$root/debs/prev-dracut.deb"
        check "previous: dpkg -i of the package built from ${prev_commit:0:12} succeeds" \
                dpkg_do -i /debs/prev.deb /debs/prev-dracut.deb
else
        echo "ok $((n + 1)) # SKIP upgrade from the previous package: commit ${prev_commit:-?} of tests/deb/previous is not in this clone's history"
        n=$((n + 1))
fi
mkdir -p "$root/run/vfio-claim"
printf '%s\n' 'group 12' 'owner win11' 'by libvirt hook' 'since 1763771234' 'state claimed' \
        'device 0000:01:00.0 driver=nouveau module=nouveau override=none' >"$root/run/vfio-claim/group-12"
: >"$root/run/vfio-claim/lock"
sum_before=$(sha256sum <"$root/run/vfio-claim/group-12")
if [[ -n $prev_debs ]]; then
        check "previous: the installed version reads the record" has <(in_root vfio-claim status --json) '"owner": "win11"'
fi
# The next version: this tree's files under a higher version number (dpkg runs the installed
# package's prerm upgrade, the new postinst configure OLD-VERSION).
mkdir -p "$work/next"
dpkg-deb -R "$deb" "$work/next/pkg"
sed -i "s/^Version: .*/Version: ${version}+next1/" "$work/next/pkg/DEBIAN/control"
dpkg-deb -b "$work/next/pkg" "$root/debs/next.deb" >/dev/null
check "upgrade: dpkg -i of the next version succeeds" dpkg_do -i /debs/next.deb
cp "$work/out" "$work/out.upgrade"
check "upgrade: the claim record is untouched" test "$(sha256sum <"$root/run/vfio-claim/group-12")" = "$sum_before"
check "upgrade: the new version reads the record" \
        has <(in_root vfio-claim status --json) '"owner": "win11"'
check "upgrade: the early unit stays enabled" test -L "$root$wants"
check "upgrade: no libvirtd restart advice on upgrade" hasnt "$work/out.upgrade" "restart libvirtd"

# -- remove leaves the claimed group alone and says how to give it back
check "remove (claimed): dpkg -r succeeds" dpkg_do -r vfio-claim-dracut vfio-claim
cp "$work/out" "$work/out.remove"
check "remove (claimed): the record stays" test -f "$root/run/vfio-claim/group-12"
check "remove (claimed): it names the group" has "$work/out.remove" "vfio-claim: these IOMMU groups stay claimed by vfio-pci: 12"
check "remove (claimed): it says how to give it back" has "$work/out.remove" "run 'vfio-claim release DEVICE'"
check "remove (claimed): the initramfs is rebuilt without the helper" has "$work/out.remove" "Processing triggers for initramfs-tools"
check "purge (claimed): dpkg -P succeeds" dpkg_do -P vfio-claim-dracut vfio-claim
check "purge: /etc/vfio-claim and /run/vfio-claim are gone" test ! -e "$root/etc/vfio-claim" -a ! -e "$root/run/vfio-claim"
snap >"$work/after-purge2"
check "purge: nothing left behind after boot, upgrade and remove" same "$work/before" "$work/after-purge2"
lap chroot

echo "1..$n"
msg "time: ${times[*]}"
[[ $failed -eq 0 ]]
exit
}
