#!/bin/sh
# The libvirt hook must never load libvirt: libvirtd runs it while holding its own locks, and a
# hook that calls back into the daemon can deadlock it. Check both programs of the hook: their
# direct dependencies (readelf), everything the dynamic loader would load (ldd), and the
# symbols they import. The front, vfio-claim-hook, may be static (no dynamic section at all).
set -u
if ! command -v readelf >/dev/null 2>&1; then
        echo "# readelf missing: skipping"
        exit 77
fi
status=0
for prog in vfio-claim-hook vfio-claim-hook-worker; do
        bin="${abs_top_builddir:-.}/$prog"
        if [ ! -x "$bin" ] || ! readelf -h "$bin" >/dev/null 2>&1; then
                echo "not ok - $bin is missing or not an ELF program"
                status=1
                continue
        fi
        if ! readelf -d "$bin" | grep -q '(NEEDED)'; then
                if [ "$prog" = vfio-claim-hook ]; then
                        echo "ok - $prog is linked statically"
                        continue
                fi
                echo "not ok - $prog has no dynamic dependencies at all (a libtool wrapper?)"
                status=1
                continue
        fi
        needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
        case "$needed" in
        *libvirt*) echo "not ok - $prog needs libvirt directly: $needed"; status=1 ;;
        *) echo "ok - $prog needs: $needed" ;;
        esac
        if ldd "$bin" 2>/dev/null | grep -q libvirt; then
                echo "not ok - $prog loads libvirt indirectly: $(ldd "$bin" | grep libvirt | tr -s ' \t' ' ')"
                status=1
        else
                echo "ok - $prog: ldd shows no libvirt"
        fi
        if readelf --dyn-syms -W "$bin" | awk '$7 == "UND" { print $8 }' | grep -q '^vir'; then
                echo "not ok - $prog imports libvirt symbols"
                status=1
        fi
        # The front runs for every operation of every domain: none of the heavy libraries.
        if [ "$prog" = vfio-claim-hook ] && echo "$needed" | grep -Eq 'libxml2|libkmod|libudev|libinih'; then
                echo "not ok - $prog must need only the C library (and sanitizer runtimes), needs: $needed"
                status=1
        fi
done
exit $status
