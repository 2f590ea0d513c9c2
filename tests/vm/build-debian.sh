#!/bin/bash
# build-debian.sh: build (or reuse) the Debian-route guest for scenarios that
# need systemd, udev, libvirtd or dracut (issues 5 and 6). Prints the image
# directory: vmlinuz, initrd.img (dracut, made inside the root), root.img
# (ext4, boot it through a throw-away qcow2 overlay), manifest.
#
# debootstrap --variant=minbase against the mirror this host's apt uses (read
# from /etc/apt/sources.list* at run time; no mirror name lives in the repo),
# then apt-get in a chroot, then `mke2fs -d` (no loop device). Needs root
# (chroot, mounts). The project is NOT in the image: run-debian.sh delivers it
# per run through fw_cfg and installs it at boot, so a warm run rebuilds nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_tools debootstrap chroot mke2fs apt-cache sha256sum
[[ $(id -u) -eq 0 ]] || skip "the Debian route needs root (debootstrap, chroot)"

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $codename ]] || skip "cannot tell this host's Debian release from /etc/os-release"

mirror=$(mirror_of_host "$codename" | head -n1) || true
[[ -n $mirror ]] || skip "no '$codename' deb source in /etc/apt/sources.list*"

# Packages of the root, minus what minbase has. Versions of the big ones go
# into the cache key.
# driverctl and strace: `make bench-vm` compares the CLI with driverctl's
# overrides and counts the CLI's system calls (tests/vm/scenarios/bench-claim.sh).
pkgs=(systemd-sysv udev kmod dracut iproute2 jq pciutils procps busybox
      libvirt-daemon-system libvirt-clients qemu-system-x86
      libinih1 libxml2 libkmod2 libudev1 libvirt0 driverctl strace)
kpkg=$(kernel_pkg)
[[ -n $kpkg ]] || skip "apt knows no kernel package behind linux-image-amd64"
vers=$(apt-cache policy "$kpkg" dracut systemd libvirt-daemon-system qemu-system-x86 2>/dev/null |
        awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }')
scripts_hash=$(cat "$VC_LAB_DIR/build-debian.sh" "$VC_LAB_DIR"/guest/debian/* | sha256sum | cut -c1-16)
key=debian-$(printf '%s\n' "$codename" "${pkgs[*]}" "$vers" "$scripts_hash" | sha256sum | cut -c1-16)
img=$VC_LAB_CACHE/images/$key
if [[ -f $img/done ]]; then
        touch "$img/done"
        msg "reusing Debian guest image $img"
        echo "$img"
        exit 0
fi

msg "building Debian guest image $img ($codename, $kpkg; several minutes)"
mkdir -p "$VC_LAB_CACHE/images"
work=$(mktemp -d "$VC_LAB_CACHE/images/.build.XXXXXX")
root=$work/root
mounted=()
cleanup() {
        local m
        for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
        rm -rf --one-file-system "$work"
}
trap cleanup EXIT
log=$work/build.log

t0=$SECONDS
debootstrap --variant=minbase "$codename" "$root" "$mirror" >"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "debootstrap failed"; }
msg "debootstrap: $((SECONDS - t0)) s"

# Same sources as the host (security updates included: the same kernel as
# the busybox route), no daemons started inside the chroot.
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
cp /etc/apt/sources.list.d/*.list "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[[ -r /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
for m in proc sys dev dev/pts; do
        mount --bind "/$m" "$root/$m"
        mounted+=("$root/$m")
done
# dracut builds a generic initramfs (a chroot is no model of the guest).
mkdir -p "$root/etc/dracut.conf.d"
printf 'hostonly="no"\nadd_drivers+=" virtio_pci virtio_blk ext4 "\ncompress="gzip"\n' \
        >"$root/etc/dracut.conf.d/10-vc-lab.conf"
t1=$SECONDS
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
{
        in_root apt-get update -q &&
        in_root apt-get install -y -q --no-install-recommends "${pkgs[@]}" &&
        in_root apt-get install -y -q --no-install-recommends "$kpkg"
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "apt-get in the chroot failed (log: $log)"; }
in_root apt-get clean
msg "packages: $((SECONDS - t1)) s"

kver=$(ls "$root/lib/modules" | head -n1)
[[ -f $root/boot/initrd.img-$kver ]] ||
        in_root dracut -f "/boot/initrd.img-$kver" "$kver" >>"$log" 2>&1 ||
        die "dracut failed (log: $log)"

# The guest side: a root password-less console, networking on the virtio NIC,
# and the units that install the project and run the scenarios.
echo vc-debian >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
in_root passwd -d root >/dev/null
install -D -m 0644 "$VC_LAB_DIR/guest/debian/10-virtio.network" "$root/etc/systemd/network/10-virtio.network"
install -D -m 0755 "$VC_LAB_DIR/guest/debian/vc-lab-install" "$root/usr/lib/vc-lab/vc-lab-install"
install -D -m 0755 "$VC_LAB_DIR/guest/debian/vc-lab-run" "$root/usr/lib/vc-lab/vc-lab-run"
install -D -m 0644 "$VC_LAB_DIR/guest/debian/vc-lab-install.service" "$root/etc/systemd/system/vc-lab-install.service"
install -D -m 0644 "$VC_LAB_DIR/guest/debian/vc-lab-run.service" "$root/etc/systemd/system/vc-lab-run.service"
in_root systemctl enable systemd-networkd.service vc-lab-install.service vc-lab-run.service >>"$log" 2>&1
# The serial console carries the framed results: no login prompt on it.
in_root systemctl mask serial-getty@ttyS0.service >>"$log" 2>&1
echo qemu_fw_cfg >"$root/etc/modules-load.d/vc-lab.conf"

for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
mounted=()
rm -f "$root/usr/sbin/policy-rc.d"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
t2=$SECONDS
mke2fs -q -F -t ext4 -L vcroot -d "$root" "$work/root.img" 4G >/dev/null
msg "root image: $((SECONDS - t2)) s"
{
        echo "codename=$codename"
        echo "kernel_release=$kver"
        echo "$vers"
        echo "scripts_hash=$scripts_hash"
} >"$work/manifest"
mv "$log" "$work/build.log.keep"
rm -rf --one-file-system "$root"
touch "$work/done"
rm -rf "$img"
mv "$work" "$img"
trap - EXIT
msg "Debian guest image ready: $img ($((SECONDS - t0)) s)"
echo "$img"
