#!/usr/bin/env bash
# Stop the rpo Slurm testbed started by up.sh. Idempotent.
#
#   bash test/cluster/down.sh            stop the daemons (state is kept; up.sh resumes it)
#   bash test/cluster/down.sh --purge    also forget all state: Slurm spool and job
#                                        history, the accounting database, the
#                                        generated configs, logs and .testbed/
#
# Only processes named in the testbed's own pid files are stopped (munged only
# if up.sh started it). Installed packages and the rpotest user are left alone.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=conf/testbed.sh
source "$SCRIPT_DIR/conf/testbed.sh"

PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  -h | --help)
    sed -n '2,10p' "$0"
    exit 0
    ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac
[[ $(id -u) -eq 0 ]] || die "down.sh must run as root"

# Cancel what is still queued or running so that no job steps outlive slurmd.
if daemon_alive slurmctld "$RUN_DIR/slurmctld.pid" && command -v squeue >/dev/null; then
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | tr '\n' ' ' || true)
  if [[ -n ${jobs// /} ]]; then
    step "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 40); do
      [[ -z $(timeout 5 squeue -h -o %A 2>/dev/null) ]] && break
      sleep 0.25
    done
  fi
fi

stop_daemon sshd "$RUN_DIR/sshd.pid"
stop_slurm_daemons

# Leftovers: job step daemons (slurmstepd runs with its cwd in our log dir) and
# processes of the test user (jobs, ssh sessions). Both exist only for the testbed.
leftovers=()
for pid in $(pgrep -x slurmstepd || true); do
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$LOG_DIR" ]] && leftovers+=("$pid")
done
if id -u "$TEST_USER" >/dev/null 2>&1; then
  mapfile -t -O "${#leftovers[@]}" leftovers < <(ps -u "$TEST_USER" -o pid= | tr -d ' ')
fi
if ((${#leftovers[@]})); then
  step "stopping leftover job processes: ${leftovers[*]}"
  kill -TERM "${leftovers[@]}" 2>/dev/null || true
  sleep 1
  kill -KILL "${leftovers[@]}" 2>/dev/null || true
fi

if [[ -f $RUN_DIR/munged.ours ]]; then
  stop_daemon munged /run/munge/munged.pid
  rm -f "$RUN_DIR/munged.ours"
fi

if ((PURGE)); then
  step "purging testbed state"
  if command -v mysql >/dev/null; then
    mysql --connect-timeout=3 -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $DB_NAME" 2>/dev/null ||
      mysql --connect-timeout=3 -uroot -e "DROP DATABASE IF EXISTS $DB_NAME" 2>/dev/null ||
      warn "could not drop database $DB_NAME (is MariaDB running?)"
  fi
  # node scratch (TmpFS), modulefiles and stand-in tools are rewritten by up.sh; /etc/hosts,
  # /etc/lmod/modulespath and ~rpotest/.openmpi keep their lines, like the packages
  rm -rf "$SPOOL_DIR" "$RUN_DIR" "$DEV_DIR" "$SSH_DIR" "$LOG_DIR" "$TESTBED_DIR" \
    "$STATE_DIR/tmp" "$STATE_DIR/modulefiles" "$STATE_DIR/tools"
  rmdir "$STATE_DIR" 2>/dev/null || true
  if [[ -f $TEST_HOME/.ssh/authorized_keys ]]; then
    sed -i '/ rpotest@rpo-testbed$/d' "$TEST_HOME/.ssh/authorized_keys"
  fi
  for f in slurm.conf gres.conf slurmdbd.conf; do
    if [[ -f $SLURM_ETC/$f ]] && grep -q 'Managed by rpo test/cluster/up.sh' "$SLURM_ETC/$f"; then
      rm -f "$SLURM_ETC/$f"
    fi
  done
fi
step "testbed stopped"
