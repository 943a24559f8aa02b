#!/usr/bin/env bash
# `npm test`: the two vitest projects of vitest.config.ts at the same time, in two vitest processes,
# then one merged report with the coverage of both and its thresholds.
#
# Why not one `vitest run`: vitest 4 puts a project with `fileParallelism: false` (`cluster`) in a
# group of its own that starts only after every other file has finished, so in one process the
# `unit` files (one worker on a 2-core machine) and the live `cluster` files run one after the
# other, never side by side, although the cluster files mostly wait on Slurm. Each project still
# runs as vitest.config.ts says (`cluster` one file at a time).
#
#   bash test/run-projects.sh [extra vitest options]   e.g. --bail=1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

REPORTS=.vitest-reports # git-ignored: one blob per project, read by the merge
rm -rf "$REPORTS" coverage

# dist/ once, here: the global setup of two processes would otherwise build it into one folder at once
if [[ ${RPO_TEST_PREBUILT:-} != 1 ]]; then
  node node_modules/typescript/bin/tsc -p tsconfig.build.json
fi
export RPO_TEST_PREBUILT=1

# one project: its live report prefixed with its name, its results and raw coverage in a blob; no
# coverage threshold here (each project alone covers less than both): the merge checks it
run_project() {
  npx vitest run --project "$1" --coverage --coverage.reportsDirectory="coverage/.$1" \
    --coverage.thresholds.lines=0 --reporter=default --reporter=blob --outputFile.blob="$REPORTS/$1.json" \
    "${@:2}" 2>&1 | sed -u "s/^/[$1] /"
  return "${PIPESTATUS[0]}"
}

run_project cluster "$@" &
cluster_pid=$!
# two unit workers, where vitest would give one on a 2-core machine: the unit files mostly wait on
# child processes, timers and databases, and so does the cluster project beside them
run_project unit --maxWorkers=2 "$@" &
unit_pid=$!
unit_rc=0 cluster_rc=0
wait "$unit_pid" || unit_rc=$?
wait "$cluster_pid" || cluster_rc=$?

printf '\n==> both projects (unit exit %s, cluster exit %s): merged report and coverage\n' "$unit_rc" "$cluster_rc"
merge_rc=0
npx vitest run --merge-reports="$REPORTS" --coverage --reporter=dot || merge_rc=$?
# a project that died before writing its blob is missing from the merge: its own exit code counts too
((unit_rc == 0 && cluster_rc == 0 && merge_rc == 0))
