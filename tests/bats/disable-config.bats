#!/usr/bin/env bats
# What disable does to the configuration: a file enable wrote, unchanged since, is removed whole;
# anywhere else only the [device] sections of the group go, and every other byte (comments,
# [global], other sections) stays; when that cannot be done safely, the admin is told what to
# edit and nothing changes, not even the claim.

bats_require_minimum_version 1.5.0
load helpers

GPU=0000:01:00.0
AUDIO=0000:01:00.1

@test "disable removes a file enable wrote, unchanged since" {
        fake_root gpu-audio
        run vc enable $GPU
        assert_success
        [ -e "$CONF/conf.d/0000-01-00.0.conf" ]
        run vc --dry-run disable $GPU
        assert_success
        assert_line "remove ${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf"
        [ -e "$CONF/conf.d/0000-01-00.0.conf" ]
        run vc disable $GPU
        assert_success
        assert_line "configuration: removed ${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf"
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
        assert_equal "$(fk_driver $GPU)" nouveau
}

@test "disable keeps a hand-written conf.d file with [global] and comments: only the group's sections go" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        cat > "$CONF/conf.d/passthrough.conf" <<'EOF'
# My passthrough setup; see the wiki page.
[global]
release = keep   ; the VMs come and go
log-level = debug

# The GPU and its audio function
[device gpu]
match = 0000:01:00.0
; keep the id guard
id = 10de:2204

[device gpu-audio]
match = 0000:01:00.1
# trailing notes about the disk below
EOF
        chmod 0640 "$CONF/conf.d/passthrough.conf"
        run vc enable gpu
        assert_success
        assert_equal "$(fk_driver $GPU)" vfio-pci
        run vc disable gpu
        assert_success
        assert_line "configuration: ${CONF#"$ROOT"}/conf.d/passthrough.conf: removed [device gpu] (lines 7-10)"
        assert_line "configuration: ${CONF#"$ROOT"}/conf.d/passthrough.conf: removed [device gpu-audio] (lines 12-13)"
        assert_equal "$(fk_driver $GPU) $(fk_driver $AUDIO)" "nouveau snd_hda_intel"
        assert_equal "$(cat "$CONF/conf.d/passthrough.conf")" "# My passthrough setup; see the wiki page.
[global]
release = keep   ; the VMs come and go
log-level = debug

# The GPU and its audio function

# trailing notes about the disk below"
        assert_equal "$(stat -c %a "$CONF/conf.d/passthrough.conf")" 640
        run vc check-config
        assert_success
}

@test "disable drops only the group's sections from a file that configures other devices, and from vfio-claim.conf" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[global]\nprotect = no\n\n[device gpu]\nmatch = 01:00.0\nboot = no\n\n[device disk]\nmatch = 02:00.0\nboot = no\n' \
                > "$CONF/vfio-claim.conf"
        printf '# audio\n[device audio]\nmatch = 10de:1aef\n' > "$CONF/conf.d/audio.conf"
        run vc enable gpu
        assert_success
        run vc --dry-run disable gpu
        assert_success
        assert_line "edit ${CONF#"$ROOT"}/vfio-claim.conf: remove [device gpu] (lines 4-6)"
        assert_line "edit ${CONF#"$ROOT"}/conf.d/audio.conf: remove [device audio] (lines 2-3)"
        assert_equal "$(fk_driver $GPU)" vfio-pci
        run vc disable gpu
        assert_success
        assert_equal "$(cat "$CONF/vfio-claim.conf")" "$(printf '[global]\nprotect = no\n\n\n[device disk]\nmatch = 02:00.0\nboot = no')"
        assert_equal "$(cat "$CONF/conf.d/audio.conf")" "# audio"
        assert_equal "$(fk_driver $GPU)" nouveau
        assert_equal "$(fk_driver 0000:02:00.0)" nvme
}

@test "a file enable wrote but the admin edited is the admin's: its sections go, the edit stays" {
        fake_root gpu-audio
        run vc enable $GPU
        assert_success
        f="$CONF/conf.d/0000-01-00.0.conf"
        sed -i '1a # checked on 2026-12-01' "$f"
        run vc disable $GPU
        assert_success
        [ -e "$f" ]
        assert_equal "$(cat "$f")" '# Written by "vfio-claim enable"; "vfio-claim disable" removes this file.
# checked on 2026-12-01
# The whole IOMMU group moves, so every endpoint of it is listed.'
        # an added key is an edit too
        rm "$f"
        run vc enable $GPU
        assert_success
        f="$CONF/conf.d/0000-01-00.0.conf"
        echo "reset = auto" >> "$f"
        run vc disable $GPU
        assert_success
        [ -e "$f" ]
        ! grep -q '^\[device' "$f"
}

@test "an entry that also selects a device outside the group: the admin is told what to edit, nothing changes" {
        fake_root twin-nics
        fk_host "$FK_OP" modprobe e1000e
        mkdir -p "$CONF"
        printf '# both NICs by id\n[device nics]\nmatch = 8086:10d3\n' > "$CONF/vfio-claim.conf"
        run vc enable 0000:01:00.0
        assert_success
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        n=$(fk_writes)
        run vc disable 0000:01:00.0
        assert_failure 1
        assert_output --partial "${CONF#"$ROOT"}/vfio-claim.conf:2: [device nics] also selects 0000:02:00.0, which is in IOMMU group 5; change its match lines by hand so that they select only what to keep configured, then run this again; nothing was changed"
        assert_equal "$(fk_writes)" "$n"
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        [ -e "$STATE/group-3" ]
        assert_equal "$(cat "$CONF/vfio-claim.conf")" "$(printf '# both NICs by id\n[device nics]\nmatch = 8086:10d3')"
}

@test "a configuration file that is a symbolic link is not rewritten: the admin is told, nothing changes" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d" "$BATS_TEST_TMPDIR/elsewhere"
        printf '[global]\nprotect = yes\n[device gpu]\nmatch = 01:00.0\n[device audio]\nmatch = 01:00.1\n' \
                > "$BATS_TEST_TMPDIR/elsewhere/gpu.conf"
        ln -s "$BATS_TEST_TMPDIR/elsewhere/gpu.conf" "$CONF/conf.d/gpu.conf"
        run vc enable gpu
        assert_success
        run vc disable gpu
        assert_failure 1
        assert_output --partial "${CONF#"$ROOT"}/conf.d/gpu.conf: cannot edit it safely"
        assert_output --partial "nothing was changed"
        [ -L "$CONF/conf.d/gpu.conf" ]
        assert_equal "$(fk_driver $GPU)" vfio-pci
}

# A failure halfway through the edits (the second file cannot be written: immutable here) leaves
# no file half edited: the ones edited before are put back, and so is the group's claim (a group
# given back with its entries still there would be claimed again at the next boot).
@test "a configuration file that cannot be edited: the files edited before it and the claim are put back" {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d"
        printf '[global]\nprotect = no\n\n[device gpu]\nmatch = 01:00.0\nboot = no\n\n[device disk]\nmatch = 02:00.0\nboot = no\n' \
                > "$CONF/vfio-claim.conf"
        printf '# audio\n[device audio]\nmatch = 10de:1aef\n' > "$CONF/conf.d/audio.conf"
        run vc enable gpu
        assert_success
        cp "$CONF/vfio-claim.conf" "$BATS_TEST_TMPDIR/before"
        chattr +i "$CONF/conf.d/audio.conf" 2>/dev/null || skip "no immutable files here (chattr +i)"
        run vc disable gpu
        chattr -i "$CONF/conf.d/audio.conf"
        assert_failure 1
        assert_output --partial "conf.d/audio.conf: cannot write it"
        assert_output --partial "vfio-claim.conf: put back as it was"
        assert_output --partial "IOMMU group 1: put back as it was"
        cmp "$CONF/vfio-claim.conf" "$BATS_TEST_TMPDIR/before"
        assert_equal "$(cat "$CONF/conf.d/audio.conf")" $'# audio\n[device audio]\nmatch = 10de:1aef'
        assert_equal "$(fk_driver $GPU) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        grep -qx 'state claimed' "$STATE/group-1"
}

# A card taken out of the host (or moved to another slot) leaves its entry behind: disable by the
# entry's name drops it, as disable of a present device would, and the udev rule follows.
@test "disable NAME of an entry whose device is gone: the entry goes, nothing else changes" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '# my host\n[global]\nprotect = no\n\n[device old-nic]\nmatch = 0000:07:00.0\nboot = yes\n\n[device gpu]\nmatch = 01:00.0\nboot = no\n' \
                > "$CONF/vfio-claim.conf"
        run vc apply
        assert_success
        pci_rule_runs 0000:07:00.0
        run vc --dry-run disable old-nic
        assert_success
        assert_output "old-nic: no device present matches it (${CONF#"$ROOT"}/vfio-claim.conf:5); nothing to give back
edit ${CONF#"$ROOT"}/vfio-claim.conf: remove [device old-nic] (lines 5-7)"
        grep -q '^\[device old-nic\]' "$CONF/vfio-claim.conf"
        run vc disable old-nic
        assert_success
        assert_output "old-nic: no device present matches it (${CONF#"$ROOT"}/vfio-claim.conf:5); nothing to give back
configuration: ${CONF#"$ROOT"}/vfio-claim.conf: removed [device old-nic] (lines 5-7)
the boot = yes entries changed: rebuild the initramfs, which carries a copy of the configuration: dracut -f, or update-initramfs -u on Debian and Ubuntu"
        assert_equal "$(cat "$CONF/vfio-claim.conf")" "$(printf '# my host\n[global]\nprotect = no\n\n\n[device gpu]\nmatch = 01:00.0\nboot = no')"
        run pci_rule_runs 0000:07:00.0
        assert_failure 1
        assert_equal "$(fk_writes)" 0
        assert_equal "$(fk_driver $GPU) $(fk_driver $AUDIO)" "nouveau snd_hda_intel"
        # a name configured nowhere is still a usage error
        run vc disable old-nic
        assert_failure 2
}

@test "disable NAME after the group enable claimed was taken out: the file enable wrote goes whole" {
        fake_root gpu-audio
        run vc enable $GPU
        assert_success
        fk_sh "echo 1 > '$ROOT/sys/bus/pci/devices/$AUDIO/remove'; echo 1 > '$ROOT/sys/bus/pci/devices/$GPU/remove'"
        [ ! -e "$ROOT/sys/bus/pci/devices/$GPU" ]
        run vc disable 0000-01-00.0
        assert_success
        assert_output "0000-01-00.0: no device present matches it (${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf:4); nothing to give back
0000-01-00.1: no device present matches it either, and enable wrote it with 0000-01-00.0 (${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf:9)
configuration: removed ${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf"
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "disable --all also drops the entries of devices that are gone" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '[device old-nic]\nmatch = 0000:07:00.0\n\n[device gpu]\nmatch = 01:00.0\n' > "$CONF/vfio-claim.conf"
        run vc enable gpu
        assert_success
        run vc disable --all
        assert_success
        assert_line "old-nic: no device present matches it (${CONF#"$ROOT"}/vfio-claim.conf:1); nothing to give back"
        assert_line 'disable --all: 1 group, 1 done, 0 failed'
        ! grep -q '^\[device' "$CONF/vfio-claim.conf"
        assert_equal "$(fk_driver $GPU) $(fk_driver $AUDIO)" "nouveau snd_hda_intel"
}

# The entries enable wrote for a group go together: the first absent one takes the file, and
# disable --all finds the second one gone with it, which is not an error.
@test "disable --all after the group enable claimed was taken out: the file goes once, exit 0" {
        fake_root gpu-audio
        run vc enable $GPU
        assert_success
        fk_sh "echo 1 > '$ROOT/sys/bus/pci/devices/$AUDIO/remove'; echo 1 > '$ROOT/sys/bus/pci/devices/$GPU/remove'"
        run vc disable --all
        assert_success
        assert_line "configuration: removed ${CONF#"$ROOT"}/conf.d/0000-01-00.0.conf"
        refute_output --partial "no longer configured"
        [ ! -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "disable --all gives back both groups of an entry whose ids select two cards, and drops it" {
        fake_root two-big-gpus
        mkdir -p "$CONF"
        printf '[device gpus]\nmatch = 10de:2236\n' > "$CONF/vfio-claim.conf"
        run vc enable gpus
        assert_success
        run vc disable --all
        assert_success
        assert_output --partial "disable --all: 2 groups, 2 done, 0 failed"
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:02:00.0)" "nouveau nouveau"
        run ! grep -q 'device gpus' "$CONF/vfio-claim.conf"
}

@test "disable of an entry on line 1 of a file that starts with a UTF-8 byte order mark" {
        fake_root gpu-audio
        mkdir -p "$CONF"
        printf '\xef\xbb\xbf[device gpu]\nmatch = 0000:01:00.0\nmatch = 0000:01:00.1\n\n[device nvme]\nmatch = 0000:02:00.0\n' \
                > "$CONF/vfio-claim.conf"
        run vc enable gpu
        assert_success
        run vc disable gpu
        assert_success
        assert_equal "$(fk_driver $GPU)" nouveau
        run ! grep -q 'device gpu' "$CONF/vfio-claim.conf"
        grep -q 'device nvme' "$CONF/vfio-claim.conf"
        # the mark stays, and the file still reads
        assert_equal "$(head -c 3 "$CONF/vfio-claim.conf" | od -An -tx1 | tr -d ' ')" efbbbf
        run vc check-config
        assert_success
}
