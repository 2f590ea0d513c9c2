# vc-timeout: 600
# Debian route, `run-debian.sh --install deb` (the default) puts this first: install the
# packages built from this tree (tests/deb/build.sh) as an admin does on a running host, with
# `apt-get install ./vfio-claim_*.deb`, and do what the package says (restart libvirtd). Every
# later scenario of the boot runs against the installed package, not a `make install`.
debs=/usr/lib/vc-lab/debs
set -- "$debs"/vfio-claim_*.deb "$debs"/vfio-claim-dracut_*.deb
# libvirtd is socket activated and exits after 120 s without a client; the install takes longer
# than that under TCG, so a client stays connected through it (an admin's virt-manager would):
# the postinst then sees libvirtd running, as on a host in use.
libvirtd_ran=no
virsh -q event --all --loop >/dev/null 2>&1 &
client=$!
vc_wait 60 sh -c 'pidof libvirtd virtqemud' >/dev/null && libvirtd_ran=yes
if [ -e /usr/sbin/vfio-claim ]; then
        vc_not_ok "/usr/sbin/vfio-claim exists before the install (the image must not carry the project)"
fi
# The guest has no network: every dependency is in the image already, apt downloads nothing.
# (No --no-download: apt 2.6 then refuses the .deb paths, "Pathname to install is not absolute".)
vc_check_for 300 "apt-get install ./vfio-claim_*.deb ./vfio-claim-dracut_*.deb" \
        sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
                >/tmp/apt.out 2>&1' sh "$@"
sed 's/^/apt: /' /tmp/apt.out | tail -n 40
kill "$client" 2>/dev/null; wait "$client" 2>/dev/null
vc_check "dpkg lists vfio-claim and vfio-claim-dracut as installed" \
        sh -c '[ "$(dpkg-query -W -f "\${Status}" vfio-claim vfio-claim-dracut)" = "install ok installedinstall ok installed" ]'
pkgver=$(dpkg-query -W -f '${Version}' vfio-claim)
vc_check "vfio-claim --version is the package's upstream version (${pkgver%-*})" \
        sh -c 'vfio-claim --version | grep -qF "$1"' sh "${pkgver%-*}"
vc_check "the CLI, the udev helper and the hook belong to the package" \
        dpkg -S /usr/sbin/vfio-claim /lib/udev/vfio-claim-udev /lib/udev/rules.d/70-vfio-claim.rules \
        /etc/libvirt/hooks/qemu.d/vfio-claim
vc_check "the libvirt hook resolves to an executable" test -x /etc/libvirt/hooks/qemu.d/vfio-claim
vc_check "the configuration is a conffile" \
        sh -c 'dpkg-query -W -f "\${Conffiles}" vfio-claim | grep -q " /etc/vfio-claim/vfio-claim.conf "'
vc_check "no boot = yes device: the early unit stays disabled" \
        sh -c '[ "$(systemctl is-enabled vfio-claim-early.service)" = disabled ]'
if [ "$libvirtd_ran" = yes ]; then
        vc_check "with libvirtd running, the package says to restart it" \
                grep -q "restart it to use the vfio-claim hook" /tmp/apt.out
else
        vc_diag "libvirtd was not running at the install (socket activation, idle): no restart advice expected"
fi
# What the package told the admin to do: libvirtd reads /etc/libvirt/hooks/qemu.d at start.
vc_check_for 120 "systemctl restart libvirtd" systemctl restart libvirtd.service
vc_check "libvirtd is active again" systemctl is-active -q libvirtd.service
