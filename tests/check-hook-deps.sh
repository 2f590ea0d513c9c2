#!/bin/sh
# The libvirt hook must never load libvirt: libvirtd runs it while holding its own locks, and a
# hook that calls back into the daemon deadlocks it. Check the hook's direct dependencies
# (readelf), everything the dynamic loader would load (ldd), and the symbols it imports.
set -u
hook="${abs_top_builddir:-.}/vfio-claim-hook"
if [ ! -x "$hook" ]; then
        echo "not ok - $hook was not built"
        exit 1
fi
status=0
if ! command -v readelf >/dev/null 2>&1; then
        echo "# readelf missing: skipping"
        exit 77
fi
needed=$(readelf -d "$hook" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [ -z "$needed" ]; then
        echo "not ok - readelf shows no NEEDED entries in $hook (is it a libtool wrapper script?)"
        exit 1
fi
case " $(echo $needed) " in
*libvirt*) echo "not ok - $hook needs libvirt directly: $needed"; status=1 ;;
*) echo "ok - direct dependencies: $(echo $needed)" ;;
esac
if ldd "$hook" 2>/dev/null | grep -q 'libvirt'; then
        echo "not ok - $hook loads libvirt through: $(ldd "$hook" | grep libvirt)"
        status=1
else
        echo "ok - ldd shows no libvirt"
fi
if readelf --dyn-syms -W "$hook" | awk '$7 == "UND" { print $8 }' | grep -q '^vir'; then
        echo "not ok - $hook imports libvirt symbols"
        status=1
else
        echo "ok - no libvirt symbol imported"
fi
exit $status
