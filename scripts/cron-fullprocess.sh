#!/usr/bin/env bash
# Cron wrapper for `drs fullprocess`: runs from the project folder, appends JSON-line logs,
# and never lets two runs overlap (the program holds a lock file too; flock is a second guard).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p logs
exec 9>logs/.cron.lock
if ! flock -n 9; then
  echo "$(date -Is) previous run still going; skipped" >> logs/fullprocess.log
  exit 0
fi
# cron runs with a minimal PATH
export PATH="/usr/local/bin:/usr/bin:/bin:${PATH:-}"
NODE="${NODE:-$(command -v node)}"
[ -f dist/main.js ] || npm run build >> logs/fullprocess.log 2>&1
"$NODE" dist/main.js fullprocess --json "$@" >> logs/fullprocess.jsonl 2>> logs/fullprocess.log
