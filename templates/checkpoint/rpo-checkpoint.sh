# rpo-checkpoint.sh — rpo checkpoint protocol version 1, shell variant (bash). Source it:
#
#   . "$(dirname "$0")/rpo-checkpoint.sh"            # rpo copies it next to the job
#   rpo_checkpoint_trap 'my_solver --write-restart "$TMPDIR/restart.bin" && rpo_checkpoint_commit "$TMPDIR/restart.bin" "$step"'
#   rpo_checkpoint_run my_solver --restart "$(rpo_checkpoint_latest || true)"
#
# Contract (docs/checkpointing.md):
# - rpo_checkpoint_trap CMD installs a trap on $RPO_CHECKPOINT_SIGNAL (default USR2). On the signal the
#   trap eval's CMD (the task's own save command) in the job shell. CMD succeeds → the script exits 85
#   ("checkpointed, please resume"), after stopping a child started by rpo_checkpoint_run. CMD fails →
#   the script exits 1 (an ordinary failure: rpo's retry policy decides, from the previous checkpoint).
# - bash runs a trap only between commands: a long foreground command delays it until that command
#   ends. Start long work with rpo_checkpoint_run (background + wait, which the trap interrupts); its
#   pid is $RPO_CHILD_PID while it runs, for a save command that signals the program itself.
# - rpo_checkpoint_commit FILE STEP publishes FILE as the checkpoint for STEP: copied into
#   $RPO_CHECKPOINT_DIR atomically (temp file, fsync, rename, fsync dir) with its sha256 in manifest.json,
#   pruned to $RPO_CHECKPOINT_KEEP. rpo_checkpoint_latest prints the newest checkpoint whose sha256
#   verifies (falling back past corrupt ones, reported on stderr and in events.jsonl) or returns 3 when
#   none. Both run rpo_checkpoint.py (Python 3 standard library only: ${RPO_PYTHON:-python3}).
# - rpo_checkpoint_resuming: status 0 when this start is a resume (RPO_RESUME=1 or a restart count > 0).
# Nothing here changes shell options (set -e/-u are the caller's); every name starts with rpo_ or _rpo_.

RPO_CHECKPOINT_PROTOCOL_VERSION=1
RPO_CHECKPOINT_EXIT_RESUME=85
_rpo_ckpt_home=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
_rpo_ckpt_save_cmd=
RPO_CHILD_PID=

rpo_checkpoint_log() { printf 'rpo-checkpoint: %s\n' "$*" >&2; }

rpo_checkpoint_signal_name() {
  local sig=${RPO_CHECKPOINT_SIGNAL:-USR2}
  sig=${sig#SIG}
  printf '%s\n' "$sig"
}

rpo_checkpoint_resuming() {
  [ "${RPO_RESUME:-0}" = 1 ] || [ "${RPO_RESTART_COUNT:-0}" -gt 0 ] 2>/dev/null || [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] 2>/dev/null
}

# one JSON line in $RPO_CHECKPOINT_DIR/events.jsonl (values here are rpo's own: no quoting needed beyond names)
_rpo_checkpoint_event() {
  [ -n "${RPO_CHECKPOINT_DIR:-}" ] && [ -d "$RPO_CHECKPOINT_DIR" ] || return 0
  local attempt=${RPO_ATTEMPT:-1} restart=${SLURM_RESTART_COUNT:-${RPO_RESTART_COUNT:-0}} job=null
  case $attempt in '' | *[!0-9]*) attempt=1 ;; esac
  case $restart in '' | *[!0-9]*) restart=0 ;; esac
  case ${SLURM_JOB_ID:-${PBS_JOBID:-}} in '' | *[!A-Za-z0-9._-]*) ;; *) job="\"${SLURM_JOB_ID:-${PBS_JOBID:-}}\"" ;; esac
  printf '{"protocol": 1, "time": "%s", "event": "%s", "attempt": %s, "restart": %s, "job_id": %s, "pid": %s, "shell": true%s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$attempt" "$restart" "$job" "$$" "${2:-}" \
    >>"$RPO_CHECKPOINT_DIR/events.jsonl" 2>/dev/null || true
}

rpo_checkpoint_trap() {
  if [ $# -ne 1 ] || [ -z "$1" ]; then
    rpo_checkpoint_log "usage: rpo_checkpoint_trap 'save command'"
    return 2
  fi
  _rpo_ckpt_save_cmd=$1
  trap _rpo_checkpoint_on_signal "$(rpo_checkpoint_signal_name)"
}

_rpo_checkpoint_on_signal() {
  local sig rc=0
  sig=$(rpo_checkpoint_signal_name)
  trap '' "$sig"  # a second signal while saving is ignored
  rpo_checkpoint_log "received SIG$sig: running the save command"
  _rpo_checkpoint_event checkpoint:signal ", \"signal\": \"SIG$sig\""
  eval "$_rpo_ckpt_save_cmd" || rc=$?
  if [ "$rc" -ne 0 ]; then
    rpo_checkpoint_log "the save command failed (exit $rc); exiting with 1"
    _rpo_checkpoint_event checkpoint:save-failed ", \"reason\": \"save command exit $rc\""
    _rpo_checkpoint_stop_child
    exit 1
  fi
  _rpo_checkpoint_stop_child
  rpo_checkpoint_log "checkpointed; exiting with $RPO_CHECKPOINT_EXIT_RESUME (resume me)"
  _rpo_checkpoint_event checkpoint:exit ", \"code\": $RPO_CHECKPOINT_EXIT_RESUME"
  exit "$RPO_CHECKPOINT_EXIT_RESUME"
}

_rpo_checkpoint_stop_child() {
  local pid=$RPO_CHILD_PID
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# run a command in the background and wait for it, so the checkpoint trap runs while it works;
# returns the command's exit status
rpo_checkpoint_run() {
  local rc=0
  "$@" &
  RPO_CHILD_PID=$!
  while :; do
    rc=0
    wait "$RPO_CHILD_PID" || rc=$?
    # wait returns >128 when a trapped signal interrupted it; the child may still be running
    if [ "$rc" -gt 128 ] && kill -0 "$RPO_CHILD_PID" 2>/dev/null; then
      continue
    fi
    break
  done
  RPO_CHILD_PID=
  return "$rc"
}

rpo_checkpoint_commit() {
  if [ $# -ne 2 ]; then
    rpo_checkpoint_log "usage: rpo_checkpoint_commit FILE STEP"
    return 2
  fi
  "${RPO_PYTHON:-python3}" "$_rpo_ckpt_home/rpo_checkpoint.py" commit --step "$2" -- "$1" >/dev/null
}

rpo_checkpoint_latest() {
  "${RPO_PYTHON:-python3}" "$_rpo_ckpt_home/rpo_checkpoint.py" latest "$@"
}
