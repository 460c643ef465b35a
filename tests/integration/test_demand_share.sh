#!/usr/bin/env bash
# demand-share (vMCA's own first tier, no step size) with real daemons: the
# checks of test_tlp.sh (targets within the pages owned while a guest under
# pressure runs, remote pages reached, the operator's cap honoured, the
# audit balanced at rest).
POLICY_GROUP='policy = { first_tier = "demand-share"; reserve_pages = 512; };' \
POLICY_ASKS="demand above the pages owned" \
    exec bash "$(dirname "$0")/test_tlp.sh"
