#!/usr/bin/env bash
# A non-Python job using the shell variant: counts to N, one short child process per step, and
# checkpoints its counter on the signal through the task's own save command.
#   RPO_CHECKPOINT_DIR=/tmp/ck bash count_shell.sh 200 0.02
# Prints {"final": N, "start": S, "executed": E} at the end; appends every executed step to
# $RPO_CHECKPOINT_DIR/executed-steps.log.
set -eu
here=$(cd -- "$(dirname -- "$0")" && pwd)
. "$here/../rpo-checkpoint.sh"

total=${1:-200}
delay=${2:-0.02}
mkdir -p "$RPO_CHECKPOINT_DIR"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

i=0
if latest=$(rpo_checkpoint_latest); then
  i=$(cat "$latest")
fi
start=$i

# the task's own save command: write the state, publish it as the checkpoint for step $i
rpo_checkpoint_trap 'printf "%s\n" "$i" >"$scratch/counter" && rpo_checkpoint_commit "$scratch/counter" "$i"'

echo "{\"event\": \"started\", \"start_step\": $start}"
while [ "$i" -lt "$total" ]; do
  rpo_checkpoint_run sleep "$delay"
  # log, then count: a signal between the two redoes this step (never skips one)
  echo "$((i + 1))" >>"$RPO_CHECKPOINT_DIR/executed-steps.log"
  i=$((i + 1))
  if [ $((i % 25)) -eq 0 ]; then echo "{\"event\": \"progress\", \"step\": $i}"; fi
done
echo "{\"event\": \"finished\", \"final\": $i, \"start\": $start, \"executed\": $((i - start))}"
