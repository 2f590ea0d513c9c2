# Common helpers of the real-kernel lab (sourced by the host-side scripts; bash).
# shellcheck shell=bash

VC_LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ -z ${VC_LAB_CACHE:-} ]]; then
        if [[ -n ${XDG_CACHE_HOME:-} ]]; then
                VC_LAB_CACHE=$XDG_CACHE_HOME/vfio-claim-lab
        elif [[ $(id -u) -eq 0 ]]; then
                VC_LAB_CACHE=/var/cache/vfio-claim-lab
        else
                VC_LAB_CACHE=$HOME/.cache/vfio-claim-lab
        fi
fi

# Kernel modules the busybox guest carries. Dependencies are resolved from
# modules.dep at build time; this list names only what the scenarios load.
VC_LAB_MODULES=(
        virtio_pci virtio_blk virtio_net ext4 crc32c_generic
        qemu_fw_cfg
        vfio vfio_pci vfio_pci_core vfio_iommu_type1
        e1000 e1000e 8139cp 8139too
        bochs snd_hda_intel snd_hda_codec_generic
        xhci_pci ahci lpc_ich i2c_i801
)

msg()  { printf 'vm-lab: %s\n' "$*" >&2; }
die()  { printf 'vm-lab: error: %s\n' "$*" >&2; exit 1; }
# Exit status 77 is automake's "skipped".
skip() { printf 'vm-lab: SKIP: %s\n' "$*" >&2; exit 77; }

need_tools() {
        local t missing=()
        for t in "$@"; do
                command -v "$t" >/dev/null 2>&1 || missing+=("$t")
        done
        ((${#missing[@]} == 0)) || skip "missing host tools: ${missing[*]}"
}

# The versioned kernel image package behind the linux-image-amd64 metapackage.
kernel_pkg() {
        if [[ -n ${VC_LAB_KERNEL_PKG:-} ]]; then
                echo "$VC_LAB_KERNEL_PKG"
                return
        fi
        apt-cache depends linux-image-amd64 2>/dev/null |
                sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1
}

# Fetch one package with apt-get download (no install) and unpack it into $2.
fetch_unpack() {
        local pkg=$1 dest=$2 dl
        dl=$(mktemp -d)
        # apt drops privileges to _apt; let it write the download directory.
        chmod 0777 "$dl"
        (cd "$dl" && apt-get download -q "$pkg" >/dev/null 2>"$dl/apt.err") ||
                { cat "$dl/apt.err" >&2; rm -rf "$dl"; skip "cannot download Debian package $pkg (apt-get download failed)"; }
        mkdir -p "$dest"
        dpkg -x "$dl"/*.deb "$dest"
        rm -rf "$dl"
}
