#!/usr/bin/env bats
# release and disable decide whether a VM holds a group on the record read under the lock: libvirt
# is asked first (without our lock: libvirtd may be starting a VM whose hook waits for it), and a
# record whose owner changed meanwhile is checked again. The race is made by holding the lock,
# letting the CLI ask libvirt and start waiting, then writing an owner into the record (as a
# hook "prepare" does) and letting go.

bats_require_minimum_version 1.5.0
load helpers

# node_with 'DOMAIN XML': a libvirt test-driver node holding this domain; prints its URI
node_with() {
        printf '<node>%s</node>\n' "$1" > "$BATS_TEST_TMPDIR/node.xml"
        echo "test://$BATS_TEST_TMPDIR/node.xml"
}
WIN11_RUNNING="<domain type='test'><name>win11</name><memory>1048576</memory><os><type>hvm</type></os></domain>"
WIN11_STOPPED="<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>win11</name><memory>1048576</memory><os><type>hvm</type></os><test:runstate>5</test:runstate></domain>"

# race SED-SCRIPT VERB...: hold the lock; run "vfio-claim VERB..." in the background; once it
# waits for the lock, edit the record of group 1 with SED-SCRIPT (as a hook "prepare" taking the
# group for a VM would) and let go. The CLI's exit status and output land in $status, $output
# and $lines.
race() {
        local edit=$1 T=$BATS_TEST_TMPDIR
        shift
        rm -f "$T/held" "$T/go"
        flock -x "$STATE/lock" -c "touch '$T/held'; while [ ! -e '$T/go' ]; do sleep 0.02; done; sed -i '$edit' '$STATE/group-1'" 3>&- &
        local holder=$!
        wait_for "[ -e '$T/held' ]"
        (exec env LD_PRELOAD="$FK_SHIM" "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" "$@" > "$T/out" 2>&1 3>&-) &
        local cli=$! waited=0
        wait_for "lock_open_by $cli || [ ! -e /proc/$cli ]" && waited=1
        touch "$T/go"
        wait "$holder"
        status=0
        wait "$cli" || status=$?
        output=$(cat "$T/out")
        mapfile -t lines < "$T/out"
        echo "exit status $status: $output"
        [ "$waited" = 1 ]
}

@test "release: a VM that takes the group while release waits for the lock keeps it" {
        fake_root gpu-audio
        vc enable 01:00.0
        uri=$(node_with "$WIN11_RUNNING")
        race '/^group /a owner win11' --connect "$uri" release group:1
        [ "$status" -eq 4 ]
        assert_line --partial 'IOMMU group 1: its holder changed from none to VM "win11" while this command waited for the lock; asking libvirt again'
        assert_line --partial 'IOMMU group 1 is held by the running VM "win11"; stop the VM first'
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        grep -qx 'owner win11' "$STATE/group-1"
}

@test "disable: a VM that takes the group while disable waits for the lock keeps it, and the configuration stays" {
        fake_root gpu-audio
        vc enable 01:00.0
        uri=$(node_with "$WIN11_RUNNING")
        race '/^group /a owner win11' --connect "$uri" disable 01:00.0
        [ "$status" -eq 4 ]
        assert_line --partial 'IOMMU group 1 is held by the running VM "win11"; stop the VM first'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
        [ -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "release: a holder that changed to a stopped VM while release waited is checked again, then taken back" {
        fake_root gpu-audio
        vc enable 01:00.0
        uri=$(node_with "$WIN11_STOPPED")
        race '/^group /a owner win11' --connect "$uri" release group:1
        [ "$status" -eq 0 ]
        assert_line --partial 'its holder changed from none to VM "win11"'
        assert_line --partial 'libvirt ('"$uri"') says it is not running: a stale hold, taken back'
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
        [ ! -e "$STATE/group-1" ]
}

@test "a holder libvirt does not know at the --connect URI is taken back, and the message names the URI" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner ghost' "$STATE/group-1"
        uri=$(node_with "$WIN11_RUNNING")
        run vc --connect "$uri" release group:1
        assert_success
        assert_output --partial "IOMMU group 1: its record names VM \"ghost\" as the holder, but libvirt at $uri knows no VM of that name: a stale hold, taken back (if the VM is defined under another libvirt connection, that was the wrong --connect URI)"
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

# A VM being started: its hook's prepare recorded the libvirtd that runs the start ("starter PID
# START", lib/state.h), and libvirt may report such a domain shut off until it runs. The libvirtd
# is a process of the tree's /proc here: libvirtd_stat PID START writes its stat line.
libvirtd_stat() {
        mkdir -p "$ROOT/proc/$1"
        echo "$1 (libvirtd) S 1 $1 $1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 $2 0 0" > "$ROOT/proc/$1/stat"
}

@test "a starting VM's hold is live while the libvirtd starting it runs, whatever libvirt says" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11\nstarter 4242 1000' "$STATE/group-1"
        libvirtd_stat 4242 1000
        uri=$(node_with "$WIN11_STOPPED")
        run vc --connect "$uri" release group:1
        [ "$status" -eq 4 ]
        assert_output --partial 'IOMMU group 1 is held by VM "win11", which libvirtd (pid 4242) is starting; stop the VM first'
        run vc --connect "$uri" disable 01:00.0
        [ "$status" -eq 4 ]
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "vfio-pci vfio-pci"
        grep -qx 'starter 4242 1000' "$STATE/group-1"
        [ -e "$CONF/conf.d/0000-01-00.0.conf" ]
}

@test "a starting VM's hold whose libvirtd is gone is decided by libvirt: shut off is stale, running is live" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11\nstarter 4242 1000' "$STATE/group-1"
        # Another process under the PID (it was reused): not the libvirtd that started the VM.
        libvirtd_stat 4242 1001
        run vc --connect "$(node_with "$WIN11_RUNNING")" release group:1
        [ "$status" -eq 4 ]
        assert_output --partial 'IOMMU group 1 is held by the running VM "win11"; stop the VM first'
        rm -r "$ROOT/proc/4242"
        run vc --connect "$(node_with "$WIN11_STOPPED")" release group:1
        assert_success
        assert_output --partial 'VM "win11" was being started by libvirtd (pid 4242), which is gone; asking libvirt'
        assert_output --partial 'says it is not running: a stale hold, taken back'
        assert_equal "$(fk_driver 0000:01:00.0) $(fk_driver 0000:01:00.1)" "nouveau snd_hda_intel"
        [ ! -e "$STATE/group-1" ]
}

@test "release: a VM started again while release waited for the lock is checked again" {
        fake_root gpu-audio
        vc enable 01:00.0
        sed -i '/^group /a owner win11' "$STATE/group-1"
        libvirtd_stat 4242 1000
        # libvirt reports win11 shut off: the hold looks stale; meanwhile a libvirtd starts it again.
        race '/^owner /a starter 4242 1000' --connect "$(node_with "$WIN11_STOPPED")" release group:1
        [ "$status" -eq 4 ]
        assert_line --partial 'its holder changed from VM "win11" to VM "win11" (starting) while this command waited for the lock'
        assert_line --partial 'IOMMU group 1 is held by VM "win11", which libvirtd (pid 4242) is starting; stop the VM first'
        assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci
}
