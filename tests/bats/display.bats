#!/usr/bin/env bats
# A display device's unbind never waits on an open device node (issue 13 item 8): before any
# write, the claim looks for processes that hold the GPU's /dev/dri nodes open (the fake
# /proc/PID/fd links of the tree) and refuses with their names, exit 4, nothing written.

bats_require_minimum_version 1.5.0
load helpers

DOMAINS="$abs_top_srcdir/tests/fixtures/domains"

# The desktop: Xorg and gnome-shell on the passthrough GPU (card1, renderD129), firefox (pid 1000:
# sorted by number, not by name) on its render node, and a bystander on the iGPU (card0).
desktop() {
        fake_root gpu-drm
        holder 812 Xorg /dev/null /dev/dri/card1 'socket:[4711]' /dev/dri/card0
        holder 990 gnome-shell /dev/dri/card1 /dev/dri/renderD129 /dev/dri/card1
        holder 1000 firefox /dev/dri/renderD129 'anon_inode:[eventfd]'
        holder 77 compositor-igpu /dev/dri/card0 /dev/dri/renderD128
}

HOLDERS='0000:01:00.0: /dev/dri/card1 is open by Xorg (pid 812), gnome-shell (pid 990); /dev/dri/renderD129 is open by gnome-shell (pid 990), firefox (pid 1000); stop them first'

@test "enable: a GPU whose DRM nodes are open is refused with exit 4, the holders named, nothing written" {
        desktop
        run vc enable 0000:01:00.0
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        refute_output --partial compositor-igpu
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
        assert_equal "$(fk_override 0000:01:00.0)" ""
        [ ! -e "$CONF/conf.d" ] || [ -z "$(ls "$CONF/conf.d")" ]
        [ -z "$(ls "$STATE" 2>/dev/null | grep group-)" ]
}

@test "enable: the iGPU's holders do not stop the other GPU; once the holders are gone the claim goes through" {
        desktop
        rm -r "$ROOT/proc/812" "$ROOT/proc/990" "$ROOT/proc/1000"
        run vc enable 0000:01:00.0
        assert_success
        assert_line 'IOMMU group 1: claimed for vfio'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
}

@test "enable --force goes on although the nodes are open" {
        desktop
        run vc --force enable 0000:01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        assert_equal "$(fk_driver 0000:01:00.1)" vfio-pci
}

@test "apply: the same refusal for a configured GPU, and the dry run says it too" {
        desktop
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc apply --dry-run
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        run vc apply
        assert_failure 4
        assert_line "vfio-claim: $HOLDERS"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "prepare: the hook fails the start with one line naming the holders, nothing written" {
        desktop
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        printf '[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr hook "$DOMAINS/virt-manager.xml" win11 prepare begin
        assert_failure 1
        assert_equal "$output" ""
        assert_equal "$stderr" "vfio-claim: IOMMU group 1: $HOLDERS; VM \"win11\" was not started"
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        assert_equal "$(fk_driver 0000:01:00.1)" snd_hda_intel
}

# fbcon: the framebuffer console is bound (vtcon1), the dummy console (vtcon0) is not
fbcon() {
        mkdir -p "$ROOT/sys/class/vtconsole/vtcon0" "$ROOT/sys/class/vtconsole/vtcon1"
        echo 0 > "$ROOT/sys/class/vtconsole/vtcon0/bind"
        echo '(S) dummy device' > "$ROOT/sys/class/vtconsole/vtcon0/name"
        echo 1 > "$ROOT/sys/class/vtconsole/vtcon1/bind"
        echo '(M) frame buffer device' > "$ROOT/sys/class/vtconsole/vtcon1/name"
}

vtcon_binds() { echo "$(cat "$ROOT/sys/class/vtconsole/vtcon0/bind") $(cat "$ROOT/sys/class/vtconsole/vtcon1/bind")"; }

@test "console = handoff: the boot VGA driving the console is claimed, fbcon unbound first; release binds it again" {
        fake_root gpu-drm
        fbcon
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc apply
        assert_failure 4
        assert_output --partial '0000:00:02.0: refused: boot VGA driving the active console'
        assert_output --partial 'set "console = handoff" in its entry to hand the console over with it'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(vtcon_binds)" "0 1"

        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_success
        run vc apply
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" vfio-pci
        assert_equal "$(vtcon_binds)" "0 0"
        # the console lets go before the first device write
        run grep -n . "$ROOT/.fakekernel/writes.log"
        assert_line --index 0 --regexp '^1:modprobe:vfio_pci'
        assert_line --index 1 --regexp '^2:sys/class/vtconsole/vtcon1/bind	0	ok$'

        run vc release 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        tail -n 1 "$ROOT/.fakekernel/writes.log" | grep -qx $'sys/class/vtconsole/vtcon1/bind\t1\tok'
}

@test "console = handoff: a claim that fails binds the console again; other guards stay" {
        fake_root gpu-drm
        fbcon
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        fk_fail '4 EIO' # the probe for vfio-pci, after the console's write
        run vc apply
        assert_failure 1
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"

        # a process on the iGPU's card0 still stops it, with console = handoff
        rm "$ROOT/.fakekernel/faults"
        holder 77 compositor-igpu /dev/dri/card0
        run vc apply
        assert_failure 4
        assert_line 'vfio-claim: 0000:00:02.0: /dev/dri/card0 is open by compositor-igpu (pid 77); stop them first'
        assert_equal "$(vtcon_binds)" "0 1"

        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = maybe\n' > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_failure 3
        assert_output --partial 'console: "maybe" is not one of keep, handoff'
}

@test "console = handoff with the hook: prepare unbinds fbcon and claims the boot VGA, release binds fbcon again" {
        fake_root gpu-drm
        fbcon
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        sed "s/bus='0x01'/bus='0x00'/; s/slot='0x00'/slot='0x02'/" "$DOMAINS/gpu-only.xml" > "$BATS_TEST_TMPDIR/igpu.xml"
        # without the handoff: refused for the console, the way out named, nothing written
        printf '[device igpu]\nmatch = 00:02.0\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming prepare begin
        assert_failure
        assert_equal "$stderr" 'vfio-claim: IOMMU group 0: 0000:00:02.0: refused: boot VGA driving the active console; VM "gaming" was not started (set console = handoff in its entry to hand the console over)'
        assert_equal "$(fk_writes)" 0
        assert_equal "$(vtcon_binds)" "0 1"
        printf '[device igpu]\nmatch = 00:02.0\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver 0000:00:02.0)" vfio-pci
        assert_equal "$(vtcon_binds)" "0 0"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming release end
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
}

# efifb: the firmware's framebuffer on the boot VGA, bound to the efi-framebuffer driver (made by
# hand: the fake kernel models bind and unbind of the platform bus, tests/fakekernel/README.md)
efifb() {
        local dev="$ROOT/sys/devices/platform/efi-framebuffer.0" drv="$ROOT/sys/bus/platform/drivers/efi-framebuffer"
        mkdir -p "$dev" "$drv" "$ROOT/sys/bus/platform/devices"
        : > "$drv/bind"
        : > "$drv/unbind"
        ln -sr "$dev" "$ROOT/sys/bus/platform/devices/efi-framebuffer.0"
        ln -sr "$drv" "$dev/driver"
}

fb_driver() {
        local l
        l=$(readlink "$ROOT/sys/devices/platform/efi-framebuffer.0/driver") && basename "$l" || echo none
}

@test "console = handoff: fbcon, then the firmware framebuffer let go before the first device write; release leaves the framebuffer to the GPU's driver" {
        fake_root gpu-drm
        fbcon
        efifb
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        run vc apply
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" vfio-pci
        assert_equal "$(vtcon_binds)" "0 0"
        assert_equal "$(fb_driver)" none
        run grep -n . "$ROOT/.fakekernel/writes.log"
        assert_line --index 1 --regexp '^2:sys/class/vtconsole/vtcon1/bind	0	ok$'
        assert_line --index 2 --regexp '^3:sys/bus/platform/drivers/efi-framebuffer/unbind	efi-framebuffer.0	ok$'
        assert_line --index 3 --regexp '^4:sys/.*/0000:00:02.0/driver_override	vfio-pci	ok$'
        # the record names the console the claim unbound
        run grep -h '^consoles' "$STATE"/group-*
        assert_output 'consoles vtcon1'

        run vc release 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(fb_driver)" none
        [ -z "$(ls "$STATE" | grep group-)" ]
}

@test "console = handoff: a claim that fails binds the firmware framebuffer and fbcon again" {
        fake_root gpu-drm
        fbcon
        efifb
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        fk_fail '5 EIO' # the probe for vfio-pci: console, framebuffer, override, unbind, probe
        run vc apply
        assert_failure 1
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(fk_override 0000:00:02.0)" ""
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(fb_driver)" efi-framebuffer
        [ -z "$(ls "$STATE" | grep group-)" ]
        tail -n 2 "$ROOT/.fakekernel/writes.log" | head -n 1 |
                grep -qx $'sys/bus/platform/drivers/efi-framebuffer/bind\tefi-framebuffer.0\tok'
}

@test "console = handoff: release binds again the consoles the claim unbound, not one the admin unbound, whatever the configuration says now" {
        fake_root gpu-drm
        fbcon
        # a second framebuffer console the admin unbound on purpose
        mkdir -p "$ROOT/sys/class/vtconsole/vtcon2"
        echo 0 > "$ROOT/sys/class/vtconsole/vtcon2/bind"
        echo '(M) frame buffer device' > "$ROOT/sys/class/vtconsole/vtcon2/name"
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        run vc apply
        assert_success
        assert_equal "$(vtcon_binds) $(cat "$ROOT/sys/class/vtconsole/vtcon2/bind")" "0 0 0"

        # the admin goes back to console = keep before the release
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc release 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds) $(cat "$ROOT/sys/class/vtconsole/vtcon2/bind")" "0 1 0"
}

@test "console = handoff: a console that does not bind again fails no release: the GPU is back, a warning says how to bind it" {
        fake_root gpu-drm
        fbcon
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        run vc enable 0000:00:02.0
        assert_success
        assert_equal "$(vtcon_binds)" "0 0"
        fk_fail 'glob:sys/class/vtconsole/vtcon1/bind EINVAL'
        run --separate-stderr vc release 0000:00:02.0
        assert_success
        assert_equal "$stderr" 'vfio-claim: IOMMU group 0 was given back, but vtcon1 was not bound to the framebuffer again (Invalid argument); bind it once fixed: echo 1 > /sys/class/vtconsole/vtcon1/bind'
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 0"
        [ -z "$(ls "$STATE" | grep group-)" ]
}

@test "console = handoff: a claim killed after the console let go; release finishes it and binds the console again" {
        fake_root gpu-drm
        fbcon
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\nconsole = handoff\n' > "$CONF/vfio-claim.conf"
        fk_fail 'glob:sys/bus/pci/drivers/i915/unbind KILL'
        run setsid -w env FK_SHIM="$FK_SHIM" VC_WRAPPER="${VC_WRAPPER:-}" CONF="$CONF" \
                "$BASH" -c "$(declare -f fk vc); vc apply"
        assert_equal "$status" 137
        grep -qx 'state claiming' "$STATE"/group-*
        grep -qx 'consoles vtcon1' "$STATE"/group-*
        assert_equal "$(vtcon_binds)" "0 0"
        : > "$ROOT/.fakekernel/faults"
        printf '[device igpu]\nmatch = 0000:00:02.0\nboot = yes\n' > "$CONF/vfio-claim.conf"
        run vc release 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        [ -z "$(ls "$STATE" | grep group-)" ]
}

# fake_systemd UNIT...: systemd's D-Bus API on a private bus (tests/fakesystemd/fake-systemd.c),
# the UNITs active; its jobs go into the fake kernel's write log.
fake_systemd() {
        SD="$BATS_TEST_TMPDIR/systemd"
        mkdir -p "$SD/units"
        for u in "$@"; do echo active > "$SD/units/$u"; done
        dbus-daemon --session --nofork --address="unix:path=$SD/bus" 3>&- 2>/dev/null &
        DBUS_PID=$!
        for _ in $(seq 600); do [ -S "$SD/bus" ] && break; sleep 0.1; done
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$SD/bus"
        "$abs_top_builddir/tests/fakesystemd/fake-systemd" "$SD" "$ROOT/.fakekernel/writes.log" 3>&- &
        SYSTEMD_PID=$!
        for _ in $(seq 600); do [ -e "$SD/ready" ] && break; sleep 0.1; done
        [ -e "$SD/ready" ]
}

unit_state() { cat "$SD/units/$1"; }

teardown() {
        [ -z "${SYSTEMD_PID:-}" ] || kill "$SYSTEMD_PID" 2>/dev/null || true
        [ -z "${DBUS_PID:-}" ] || kill "$DBUS_PID" 2>/dev/null || true
        fk_teardown
}

# The single-GPU desktop: fbcon on the iGPU, and a display manager (pid 812) holding its card0.
dm_desktop() {
        fake_root gpu-drm
        fbcon
        holder 812 Xorg /dev/dri/card0 /dev/dri/renderD128
        fake_systemd display-manager.service
        echo "$ROOT/proc/812" > "$SD/units/display-manager.service.holds"
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nconsole = handoff\nstop = display-manager.service\n' \
                > "$CONF/vfio-claim.conf"
}

@test "stop = UNIT: the display manager is stopped through systemd before the first write; release binds fbcon, then starts it" {
        dm_desktop
        run vc --dry-run enable 0000:00:02.0
        assert_success
        assert_equal "$(unit_state display-manager.service)" active
        assert_equal "$(fk_writes)" 0

        run vc enable 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" vfio-pci
        assert_equal "$(unit_state display-manager.service)" inactive
        [ ! -e "$ROOT/proc/812" ]
        assert_equal "$(vtcon_binds)" "0 0"
        run grep -n . "$ROOT/.fakekernel/writes.log"
        assert_line --index 1 '2:systemd:stop display-manager.service	done'
        assert_line --index 2 --regexp '^3:sys/class/vtconsole/vtcon1/bind	0	ok$'
        run grep -h '^stopped' "$STATE"/group-*
        assert_output 'stopped display-manager.service'
        # status says what the host gets back with the group besides its drivers
        run vc status
        assert_success
        assert_line '  console handed over: vtcon1 unbound from the framebuffer; bound again when the group is given back'
        assert_line '  stopped display-manager.service; started again when the group is given back'
        run vc status --json
        assert_success
        assert_equal "$(jq -c '.groups[0] | [.console_handoff, .consoles, .stopped_units]' <<< "$output")" \
                '[true,["vtcon1"],["display-manager.service"]]'

        run vc release 0000:00:02.0
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" active
        [ -d "$ROOT/proc/812" ]
        run tail -n 2 "$ROOT/.fakekernel/writes.log"
        assert_line --index 0 $'sys/class/vtconsole/vtcon1/bind\t1\tok'
        assert_line --index 1 $'systemd:start display-manager.service\tdone'
}

@test "stop = UNIT: a stop job that fails refuses the claim with the job's result; nothing else changes" {
        dm_desktop
        touch "$SD/units/display-manager.service.fail-stop"
        run vc enable 0000:00:02.0
        assert_failure 1
        assert_line 'vfio-claim: group 0: failed to stop display-manager.service: systemd'"'"'s job ended "failed"'
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" active
        [ -z "$(ls "$STATE" | grep group-)" ]
        [ -z "$(grep -v -e '^modprobe:' -e '^systemd:' "$ROOT/.fakekernel/writes.log")" ]
}

@test "stop = UNIT: a claim that fails after the stop starts the unit again; a holder it does not own still refuses" {
        dm_desktop
        fk_fail '4 EIO' # the probe for vfio-pci: console, override, unbind, probe
        run vc enable 0000:00:02.0
        assert_failure 1
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" active
        [ -d "$ROOT/proc/812" ]
        tail -n 1 "$ROOT/.fakekernel/writes.log" | grep -qx $'systemd:start display-manager.service\tdone'
        [ -z "$(ls "$STATE" | grep group-)" ]

        # a compositor outside the unit keeps card0 open: refused after the stop, unit started again
        rm "$ROOT/.fakekernel/faults"
        holder 77 compositor /dev/dri/card0
        run vc enable 0000:00:02.0
        assert_failure 4
        assert_line 'vfio-claim: 0000:00:02.0: /dev/dri/card0 is open by compositor (pid 77); stop them first'
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(unit_state display-manager.service)" active
        [ -z "$(ls "$STATE" | grep group-)" ]
}

@test "stop = UNIT: a unit that does not start again fails no release: the GPU and the console are back, a warning names the unit" {
        dm_desktop
        run vc enable 0000:00:02.0
        assert_success
        touch "$SD/units/display-manager.service.fail-start"
        run --separate-stderr vc release 0000:00:02.0
        assert_success
        assert_equal "$stderr" 'vfio-claim: IOMMU group 0 was given back, but display-manager.service did not start again (systemd'"'"'s job ended "failed"); start it once fixed: systemctl start display-manager.service'
        assert_line 'IOMMU group 0: given back to the host drivers'
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" inactive
        [ -z "$(ls "$STATE" | grep group-)" ]
        run vc status
        assert_output 'no group is claimed by vfio-claim'
        # --json: the operation lists it
        echo active > "$SD/units/display-manager.service"
        run vc enable 0000:00:02.0
        assert_success
        run --separate-stderr vc --json release 0000:00:02.0
        assert_success
        assert_equal "$(jq -c '.operations[0] | [.changed, .not_restored]' <<< "$output")" \
                '[true,["display-manager.service did not start again (systemd'"'"'s job ended \"failed\"); start it once fixed: systemctl start display-manager.service"]]'
}

@test "stop = UNIT with the hook: prepare stops the unit and claims the GPU, release gives it back and starts the unit" {
        dm_desktop
        cp "$CONF/vfio-claim.conf" "$BATS_TEST_TMPDIR/vc.conf"
        CONF="$BATS_TEST_TMPDIR/conf"
        mkdir -p "$CONF"
        cp "$BATS_TEST_TMPDIR/vc.conf" "$CONF/vfio-claim.conf"
        sed "s/bus='0x01'/bus='0x00'/; s/slot='0x00'/slot='0x02'/" "$DOMAINS/gpu-only.xml" > "$BATS_TEST_TMPDIR/igpu.xml"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming prepare begin
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver 0000:00:02.0)" vfio-pci
        assert_equal "$(unit_state display-manager.service)" inactive
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming release end
        assert_success
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" active

        # a display manager that fails to start at the VM's stop: the GPU and console are back all the same
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming prepare begin
        assert_success
        touch "$SD/units/display-manager.service.fail-start"
        run --separate-stderr hook "$BATS_TEST_TMPDIR/igpu.xml" gaming release end
        assert_success
        assert_equal "$stderr" ""
        assert_equal "$(fk_driver 0000:00:02.0)" i915
        assert_equal "$(vtcon_binds)" "0 1"
        assert_equal "$(unit_state display-manager.service)" inactive
        [ -z "$(ls "$STATE" | grep group-)" ]
}

@test "stop = UNIT: check-config names a bad unit name with file:line, exit 3" {
        fake_root gpu-drm
        mkdir -p "$CONF"
        printf '[device igpu]\nmatch = 0000:00:02.0\nstop = gdm\n' > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_failure 3
        assert_output --partial 'vfio-claim.conf:3: [device igpu] stop: "gdm" is not a systemd unit name'
        printf '[device igpu]\nmatch = 0000:00:02.0\nstop = gdm.service gdm.service\n' > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_failure 3
        assert_output --partial 'stop: "gdm.service" is listed twice'
        printf '[device igpu]\nmatch = 0000:00:02.0\nstop = gdm.service display-manager.service\n' > "$CONF/vfio-claim.conf"
        run vc check-config
        assert_success
}
