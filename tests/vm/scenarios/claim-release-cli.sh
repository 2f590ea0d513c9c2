# The claim-release scenario with the project's own binary doing the work: `vfio-claim enable`
# and `vfio-claim release` on the same groups, asserting the same end states.
VC_CLAIM_WITH=cli
. "$VC_LIB/scenarios/claim-release.sh"
# `vfio-claim release` keeps the conf.d files `enable` wrote; `disable` of the released groups
# removes them (later scenarios start with no configuration).
for a in "$vga" "$e1k"; do
        c=$(vc_conf_of "$a")
        out=$(timeout -s KILL 60 vfio-claim disable "$a" 2>&1); rc=$?
        [ $rc -eq 0 ] && [ ! -e "$c" ] && vc_ok "disable of the released group of $a removes $c" ||
                { echo "$out"; vc_not_ok "disable of the released group of $a: exit $rc, $c $([ -e "$c" ] && echo still there || echo gone)"; }
done
