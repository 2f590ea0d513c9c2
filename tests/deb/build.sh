#!/bin/bash
# tests/deb/build.sh [--src DIR] [--cache DIR] [--check]: build the Debian packages of a source tree
# (dpkg-buildpackage -us -uc -b, without the build-time test suite unless --check) and print the directory
# that holds the .debs, the .changes and the build log. The lab installs them in its guests
# (tests/vm/run-debian.sh, the boot stage), as an admin would, instead of `make install`;
# tests/deb/check.sh checks the same build (lintian, chroot).
#
# The build is cached under the sources' content: one build serves every lab stage of a CI run
# (they share one snapshot of the tree), and a second build of the same sources waits on the
# first (flock) instead of repeating it. The tree is built from a copy (SRC stays untouched):
# tracked and untracked-but-not-ignored files of a git work tree, or the whole tree less build
# products for a plain copy (tests/vm/lib.sh, copy_sources).
# Exit: 0 built (or found in the cache), 1 the build failed (its log is named), 77 cannot build
# here (dpkg-buildpackage missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/lib.sh" # copy_sources, msg, die

src=$(cd "$here/../.." && pwd)
cache=${VC_LAB_CACHE:-/var/cache/vfio-claim-lab}/debs
opts=nocheck
while (($#)); do
        case $1 in
        --src) src=$(cd "$2" && pwd); shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --check) opts=check; shift ;;
        *) echo "usage: $0 [--src DIR] [--cache DIR] [--check]" >&2; exit 2 ;;
        esac
done
command -v dpkg-buildpackage >/dev/null 2>&1 || skip "dpkg-buildpackage is not installed (tools/quickstart installs it)"
[[ -f $src/debian/control ]] || die "$src has no debian/"

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
copy_sources "$src" "$tmp/tree/vfio-claim"
# The key: every file's name and content (not times: two snapshots of one commit build once).
key=$(cd "$tmp/tree/vfio-claim" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
        sha256sum | cut -c1-16)-$opts
out=$cache/$key
exec 9>"$cache/.lock"
flock 9
if [[ ! -e $out/done ]]; then
        msg "dpkg-buildpackage -us -uc -b of $src (log: $out.log)"
        rm -rf "$out"
        profiles=
        [[ $opts == check ]] || profiles=nocheck
        if ! (cd "$tmp/tree/vfio-claim" && DEB_BUILD_OPTIONS="${profiles} parallel=$(nproc)" \
                DEB_BUILD_PROFILES=$profiles LC_ALL=C.UTF-8 dpkg-buildpackage -us -uc -b) >"$out.log" 2>&1; then
                tail -n 30 "$out.log" >&2
                die "dpkg-buildpackage failed (log: $out.log)"
        fi
        mkdir -p "$out"
        mv "$tmp"/tree/*.deb "$tmp"/tree/*.changes "$tmp"/tree/*.buildinfo "$out/"
        cp "$out.log" "$out/build.log"
        touch "$out/done"
        # Keep the newest few builds only (this tree's, the previous package's, another run's).
        ls -1dt "$cache"/*/ 2>/dev/null | tail -n +7 | xargs -r rm -rf
fi
echo "$out"
