# The claim-release scenario with the project's own binary doing the work: `vfio-claim enable`
# and `vfio-claim release` on the same groups, asserting the same end states.
VC_CLAIM_WITH=cli
. "$VC_LIB/scenarios/claim-release.sh"
