#!/usr/bin/env bash
# A CI pipeline around mbg: plan (JSON for review, exit code 2 when changes
# are pending), apply with --yes (never prompts), then plan again to prove the
# server now matches the scripts.
#
#   MBG_URL=http://127.0.0.1:8123 examples/pipeline.sh [DATABASE]
#
# Environment: MBG (the mbg binary, default `mbg` on PATH), MBG_URL,
# MBG_PLAN_OUT (where the plan JSON goes, default ./mbg-plan.json).
# Logs go to stderr; stdout carries only what mbg prints as results.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MBG=${MBG:-mbg}
DB=${1:-${MBG_DATABASE:-default}}
PLAN_OUT=${MBG_PLAN_OUT:-mbg-plan.json}
args=(--database "$DB")

log() { echo "pipeline: $*" >&2; }

log "seeding $DB.orders_1_0"
"$MBG" run "$HERE/pipeline/seed.mbg" "${args[@]}"

log "planning (JSON in $PLAN_OUT)"
status=0
"$MBG" plan "$HERE/pipeline/migrate.mbg" "${args[@]}" --json --detailed-exitcode > "$PLAN_OUT" || status=$?
case $status in
    0) log "nothing to do"; exit 0 ;;
    2) log "changes pending" ;;
    *) log "plan failed (exit $status)"; exit "$status" ;;
esac

log "applying"
"$MBG" run "$HERE/pipeline/migrate.mbg" "${args[@]}" --yes

log "planning again: nothing may be pending"
"$MBG" plan "$HERE/pipeline/migrate.mbg" "${args[@]}" --detailed-exitcode >&2
log "done"
