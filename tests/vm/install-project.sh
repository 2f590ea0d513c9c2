#!/bin/bash
# install-project.sh [--no-libs] SRC DESTDIR
# Build the project from the source tree SRC (a clean copy is built in the
# cache, so SRC is never modified and an in-tree build there does not matter)
# and install it with its own `make install DESTDIR=...`, plus every shared
# library its ELF files need (what ldd lists, and the dynamic loader), unless
# --no-libs (the Debian-route guest has its own, from the same release). Also
# tests/bench/bare-claim and cpu-bench, into /usr/libexec/vc-lab-bench (the lab's bench).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

libs_too=1
if [[ ${1:-} == --no-libs ]]; then libs_too=0; shift; fi
src=$(cd "${1:?usage: install-project.sh SRC DESTDIR}" && pwd)
dest=${2:?usage: install-project.sh SRC DESTDIR}
[[ -f $src/configure.ac ]] || die "$src: not a vfio-claim source tree (no configure.ac)"
need_tools make autoreconf tar ldd

bdir=$VC_LAB_CACHE/build/$(printf '%s' "$src" | sha256sum | cut -c1-12)
mkdir -p "$bdir/src"
# One build of this source path at a time (two lab runs of one tree, e.g. check-vm beside
# bench-vm, would configure and make in the same directory at once).
exec 8>"$bdir/.lock"
flock 8
copy_sources "$src" "$bdir/src"
cd "$bdir/src"
log=$bdir/build.log
: >"$log"
if [[ ! -x configure || configure.ac -nt configure ]]; then
        msg "autoreconf in $bdir/src"
        autoreconf -fi >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "autoreconf failed (log: $log)"; }
fi
if [[ ! -f config.status ]]; then
        msg "configure (prefix /usr, sysconfdir /etc)"
        ./configure -q --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
                --runstatedir=/run --libexecdir=/usr/libexec >>"$log" 2>&1 ||
                { tail -n 30 "$log" >&2; die "configure failed (log: $log)"; }
fi
make -j"$(nproc)" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "make failed (log: $log)"; }
rm -rf "$dest"
make install DESTDIR="$dest" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "make install failed (log: $log)"; }
# The lab's bench (scenarios/bench-claim.sh, `make bench-vm`): the bare sysfs writes and the
# CPU meter of `make bench`, built by the same build and put where no package puts anything.
make tests/bench/bare-claim tests/bench/cpu-bench >>"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "building the bench programs failed (log: $log)"; }
install -D -m 0755 tests/bench/bare-claim "$dest/usr/libexec/vc-lab-bench/bare-claim"
install -D -m 0755 tests/bench/cpu-bench "$dest/usr/libexec/vc-lab-bench/cpu-bench"

# Shared libraries of every installed ELF file, copied to the same paths.
declare -A libs=()
if ((libs_too)); then
while IFS= read -r -d '' f; do
        [[ $(head -c4 "$f" | od -An -c | tr -d ' ') == 177ELF ]] || continue
        while read -r lib; do
                libs[$lib]=1
        done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}')
done < <(find "$dest" -type f -print0)
for lib in "${!libs[@]}"; do
        mkdir -p "$dest$(dirname "$lib")"
        cp -L --remove-destination "$lib" "$dest$lib"
done
fi
msg "installed $(git -C "$src" describe --always --dirty 2>/dev/null || echo "$src") into $dest (${#libs[@]} shared libraries)"
