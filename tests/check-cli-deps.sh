#!/bin/sh
# vfio-claim must start without libvirt: every command would otherwise pay for loading it and
# its fifty libraries, list and status included (docs/PERFORMANCE.md, "Start of the CLI").
# src/virt-load.c loads it when a command first talks to libvirt (vm-edit.bats checks those).
set -u
if ! command -v readelf >/dev/null 2>&1; then
        echo "# readelf missing: skipping"
        exit 77
fi
bin="${abs_top_builddir:-.}/vfio-claim"
if [ ! -x "$bin" ] || ! readelf -h "$bin" >/dev/null 2>&1; then
        echo "not ok - $bin is missing or not an ELF program"
        exit 1
fi
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
# Nor libkmod (lib/modules.c opens it when a module is first loaded or looked up, doctor's
# module inspection included), libxml2 (and through it ICU and libstdc++: lib/xml-load.c opens it
# when a domain XML is first read or written, which list and status never do) or libudev
# (lib/root.c opens it for the hwdb's device names: list, show, doctor; status and apply never
# ask for them).
for lib in libvirt libkmod libxml2 libudev; do
        case "$needed" in
        *"$lib"*) echo "not ok - vfio-claim needs $lib at start: $needed"; exit 1 ;;
        esac
done
echo "ok - vfio-claim needs: $needed"
if ldd "$bin" 2>/dev/null | grep -q libvirt; then
        echo "not ok - vfio-claim loads libvirt at start: $(ldd "$bin" | grep libvirt | tr -s ' \t' ' ')"
        exit 1
fi
echo "ok - ldd shows no libvirt"
# Nor may the fake kernel's shim (tests/fakekernel/shim.c), preloaded into the programs the suite
# and make bench run: each of them would load libkmod and, through it, libcrypto, and make
# bench's figures and their anchors alike would carry that cost (docs/PERFORMANCE.md).
shim="${abs_top_builddir:-.}/.libs/libfakekernel.so"
if [ -f "$shim" ]; then
        case "$(readelf -d "$shim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" in
        *libkmod*) echo "not ok - the fake kernel's shim needs libkmod: $shim"; exit 1 ;;
        esac
        echo "ok - the fake kernel's shim does not need libkmod"
fi
