#!/usr/bin/env bats
# What a new user meets first: output that fits the terminal, help that fits 80 columns,
# usage errors that show the verb's synopsis, options a verb does not take refused.

load helpers

# on_terminal COLUMNS ARGS...: vfio-claim on a pseudo-terminal COLUMNS wide; its screen output
# (stdout and stderr) in $output, carriage returns removed.
on_terminal() {
        local cols=$1
        shift
        local cmd
        printf -v cmd '%q ' "$abs_top_builddir/vfio-claim" --sysroot "$ROOT" "$@"
        run fk script -qec "stty cols $cols rows 50; $VC_WRAPPER $cmd" /dev/null
        output=${output//$'\r'/}
        mapfile -t lines <<<"$output"
}

longest_line() {
        awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }' <<<"$1"
}

@test "list on an 80-column terminal: no line is longer than 80, columns dropped, never wrapped" {
        fake_root gpu-audio
        run vc list
        assert_success
        wide=$(longest_line "$output")
        [ "$wide" -gt 80 ] # the full table is wider: the terminal case must really cut
        assert_line --index 0 --regexp '^GROUP +ADDRESS +CLASS +ID +DRIVER +OVERRIDE +CONFIG +CLAIMED +NOTE +DESCRIPTION$'

        on_terminal 80 list
        assert_success
        [ "$(longest_line "$output")" -le 80 ]
        assert_line --index 0 --regexp '^GROUP +ADDRESS +DRIVER +CONFIG +CLAIMED +NOTE +DESCRIPTION$'
        assert_line --regexp '^1 +0000:01:00\.0 +nouveau +'
        # every device is still one line
        assert_equal "$(grep -c '^[0-9-]' <<<"$output")" "$(grep -c '^[0-9-]' <<<"$(vc list)")"

        on_terminal 40 list
        assert_success
        [ "$(longest_line "$output")" -le 40 ]
        assert_line --regexp '^1 +0000:01:00\.0 +nouveau'
}

@test "list: a critical device's reason is printed under the table" {
        fake_root lone-nic
        nic=$(basename "$(dirname "$(grep -l 0x10d3 "$ROOT"/sys/bus/pci/devices/*/device)")")
        default_route_nic "$nic"
        run vc list
        assert_success
        assert_line --regexp "^[0-9]+ +$nic .* critical "
        assert_line "$nic is critical: NIC of the default route (eth0)"
}
