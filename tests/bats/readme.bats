#!/usr/bin/env bats
# The examples of README.md and vfio-claim.conf(5) run as written: each `vfio-claim ...` line of
# the README's command blocks is taken from the file and run against the fake kernel (the test
# adds only --sysroot, and --connect to libvirt's test driver for the verbs that ask libvirt),
# and each configuration example of the man page passes check-config.

bats_require_minimum_version 1.5.0
load helpers

README="$abs_top_srcdir/README.md"

# block HEADING_REGEX: the vfio-claim lines of the first ``` block after the line matching
# HEADING_REGEX, comments stripped, one per line.
block() {
        awk -v re="$1" '
                $0 ~ re { found = 1; next }
                found && !inblock && /^```/ { inblock = 1; next }
                inblock && /^```/ { exit }
                inblock && /^vfio-claim / { sub(/[[:space:]]+#.*$/, ""); print }
        ' "$README"
}

# node with a shut-off domain win11, for add (libvirt's test driver)
win11_node() {
        NODE="$BATS_TEST_TMPDIR/node.xml"
        cat > "$NODE" <<XML
<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>win11</name><memory>1048576</memory><os><type>hvm</type></os><devices/>
  <test:runstate>5</test:runstate>
</domain>
</node>
XML
        URI="test://$NODE"
}

# run_line 'vfio-claim ARGS...': the line as written, with the test's root (and libvirt node)
run_line() {
        local words
        read -r -a words <<<"$1"
        [ "${words[0]}" = vfio-claim ] || return 99
        local connect=()
        case " ${words[*]} " in # the verbs that ask libvirt
        *" add "* | *" remove "* | *" doctor "* | *" release "* | *" disable "*) connect=(${URI:+--connect "$URI"}) ;;
        esac
        run --separate-stderr vc "${connect[@]}" "${words[@]:1}"
}

@test "README 'Using it': every line runs as written, in order, and does what its comment says" {
        fake_root gpu-audio
        mapfile -t lines < <(block '^## Using it')
        [ "${#lines[@]}" -ge 8 ]
        for line in "${lines[@]}"; do
                run_line "$line"
                echo "# $line -> $status" >&3
                case $line in
                *" doctor"*) [ "$status" -le 1 ] ;; # 1: a finding failed on this fake host
                *) assert_success ;;
                esac
                case $line in
                *"enable 01:00.0 --boot --name gpu") grep -qx 'boot = yes' "$CONF/conf.d/gpu.conf"
                                                      assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci ;;
                *"release gpu") assert_equal "$(fk_driver 0000:01:00.0)" nouveau ;;
                *"apply") assert_equal "$(fk_driver 0000:01:00.0)" vfio-pci ;;
                *"disable gpu") assert_equal "$(fk_driver 0000:01:00.0)" nouveau
                                [ ! -e "$CONF/conf.d/gpu.conf" ] ;;
                esac
        done
}

@test "README 'With virsh': enable, then add, run as written" {
        fake_root gpu-audio
        win11_node
        mapfile -t lines < <(block '^With virsh')
        [ "${#lines[@]}" -eq 2 ]
        for line in "${lines[@]}"; do
                run_line "$line"
                assert_success
        done
        assert_output --partial "win11"
}

@test "README 'Diagnosing a host' and 'Uninstall': the doctor and status lines run" {
        fake_root gpu-audio
        win11_node
        run vc enable 01:00.0
        assert_success
        mapfile -t lines < <(block '^## Diagnosing a host'; block '^## Uninstall')
        [ "${#lines[@]}" -ge 5 ]
        for line in "${lines[@]}"; do
                line=${line//group:N/group:1}
                run_line "$line"
                case $line in
                *" doctor"*) [ "$status" -le 1 ] ;;
                *) assert_success ;;
                esac
        done
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "vfio-claim.conf(5) EXAMPLES: each configuration passes check-config" {
        fake_root gpu-audio
        # the .EX blocks after .SH EXAMPLES, troff escapes removed
        awk '/^\.SH EXAMPLES/ { on = 1; next } on && /^\.SH/ { exit }
             on && /^\.EX/ { n++; inex = 1; next } on && /^\.EE/ { inex = 0; next }
             inex { gsub(/\\-/, "-"); print > (dir "/example-" n ".conf") }' \
                dir="$BATS_TEST_TMPDIR" "$abs_top_srcdir/man/vfio-claim.conf.5"
        n=0
        for f in "$BATS_TEST_TMPDIR"/example-*.conf; do
                grep -q '^\[' "$f" || continue # the shell example
                rm -rf "$CONF"
                mkdir -p "$CONF"
                cp "$f" "$CONF/vfio-claim.conf"
                run vc check-config
                assert_success
                n=$((n + 1))
        done
        [ "$n" -eq 2 ]
}
