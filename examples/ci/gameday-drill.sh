#!/usr/bin/env bash
# Run one gameday drill unattended against the account a var file names, for cron or a
# systemd timer. Usage: gameday-drill.sh [EXPERIMENT] (default region-evacuation).
#
# The run directory (report.html, summary.json, junit.xml, journal, ledgers) stays under
# $GAMEDAY_REPORTS, and so does history.jsonl, the report history `gameday report --history`
# reads: keep that directory (or sync it to a bucket) and the history carries on.
# Exits as `gameday run` does: 0 every objective met, 1 one missed, 2 the drill could not
# run; 1 as well when a fault could not be reverted afterwards.
set -uo pipefail

experiment=${1:-region-evacuation}
var_file=${GAMEDAY_VAR_FILE:-/etc/gameday/staging.json}
reports=${GAMEDAY_REPORTS:-/var/lib/gameday/reports}
mkdir -p "$reports"

gameday run "$experiment" --var-file "$var_file" --unattended --out "$reports"
code=$?

# Whatever a killed run left behind is reverted now, not at the next drill. (No ledger
# yet, when nothing was ever injected, is not a failure of the drill.)
if [ -e "${GAMEDAY_FAULT_LEDGER:-${XDG_STATE_HOME:-$HOME/.local/state}/gameday/faults.jsonl}" ]; then
    if ! gameday recover && [ "$code" -eq 0 ]; then
        code=1
    fi
fi
exit "$code"
