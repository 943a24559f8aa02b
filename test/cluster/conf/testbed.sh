# shellcheck shell=bash
# Shared definition of the rpo Slurm testbed, sourced by up.sh, down.sh and
# check.sh (which set SCRIPT_DIR first). Describes the cluster (nodes,
# partitions, accounts, ports, paths) and holds small helpers.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

# --- where things live -------------------------------------------------------
STATE_DIR=/var/lib/rpo-testbed          # everything the daemons keep
RUN_DIR=$STATE_DIR/run                  # pid files
SPOOL_DIR=$STATE_DIR/spool              # slurmctld state, slurmd spools
DEV_DIR=$STATE_DIR/dev                  # /dev/null symlinks standing in for GPUs
SSH_DIR=$STATE_DIR/ssh                  # sshd config + host key + client key
LOG_DIR=/var/log/rpo-testbed            # all daemon logs
SLURM_ETC=/etc/slurm                    # the default path, so every client finds it
SLURM_CONF=$SLURM_ETC/slurm.conf
TESTBED_DIR=${SCRIPT_DIR:?}/.testbed    # git-ignored: connection.json, key, known_hosts

# --- the cluster ---------------------------------------------------------------
CLUSTER_NAME=rpotestbed
DB_NAME=rpo_testbed_acct_db
SLURMCTLD_PORT=6817
SLURMDBD_PORT=6819
SSH_PORT=${RPO_TESTBED_SSH_PORT:-2222}
CRED_EXPIRE=10 # seconds; also the delay before a requeued job may start again

TEST_USER=rpotest
TEST_HOME=/home/$TEST_USER
WORK_DIR=$TEST_HOME/rpo-work

ACCOUNTS=(default vision nlp speech)
DEFAULT_ACCOUNT=vision

NODE_NAMES=(gpu1 gpu2 gpu3 cpu1 cpu2)
GPU_NODES=(gpu1 gpu2 gpu3)
CPU_NODES=(cpu1 cpu2)
declare -A NODE_PORT=([gpu1]=6831 [gpu2]=6832 [gpu3]=6833 [cpu1]=6834 [cpu2]=6835)
declare -A NODE_CPUS=([gpu1]=8 [gpu2]=8 [gpu3]=8 [cpu1]=16 [cpu2]=16)
declare -A NODE_MEM=([gpu1]=64000 [gpu2]=64000 [gpu3]=32000 [cpu1]=128000 [cpu2]=128000)
declare -A NODE_GPU_TYPE=([gpu1]=a100 [gpu2]=a100 [gpu3]=v100 [cpu1]="" [cpu2]="")
declare -A NODE_GPU_COUNT=([gpu1]=4 [gpu2]=4 [gpu3]=2 [cpu1]=0 [cpu2]=0)
declare -A NODE_FEATURES=([gpu1]="gpu,a100" [gpu2]="gpu,a100" [gpu3]="gpu,v100" [cpu1]="cpu,highmem" [cpu2]="cpu,highmem")

# --- helpers -------------------------------------------------------------------
step() { echo "[rpo-testbed] $*"; }
warn() { echo "[rpo-testbed] WARNING: $*" >&2; }
die() {
  echo "[rpo-testbed] ERROR: $*" >&2
  exit 1
}
# fail_with_log MESSAGE LOGFILE: print the tail of a daemon's log, then die.
fail_with_log() {
  if [[ -f $2 ]]; then
    echo "----- last lines of $2 -----" >&2
    tail -n 40 "$2" >&2
    echo "-----" >&2
  fi
  die "$1 (log: $2)"
}
join_by() {
  local IFS=$1
  shift
  echo "$*"
}
# elapsed START: seconds since START (an $EPOCHREALTIME value), one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# wait_for WHAT SECONDS COMMAND...: poll COMMAND every 0.25s until it succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  while ! "$@"; do
    if ((SECONDS >= deadline)); then
      echo "[rpo-testbed] gave up waiting for $what after ${secs}s" >&2
      return 1
    fi
    sleep 0.25
  done
}

# wait_for_daemon NAME PIDFILE SECONDS COMMAND...: like wait_for, but gives up
# early when the daemon's process is gone (after a 3s grace period for it to
# daemonize and write its pid file).
wait_for_daemon() {
  local name=$1 pidfile=$2 secs=$3
  shift 3
  local start=$SECONDS deadline=$((SECONDS + secs))
  while ! "$@"; do
    if ((SECONDS - start >= 3)) && ! daemon_alive "$name" "$pidfile"; then
      echo "[rpo-testbed] $name is not running (pid file $pidfile)" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "[rpo-testbed] gave up waiting for $name after ${secs}s" >&2
      return 1
    fi
    sleep 0.25
  done
}

# port_owner PORT: "name(pid)" of whatever listens on TCP PORT, empty if free.
port_owner() {
  { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1; } || true
}

# require_free_port PORT WHAT: die if something already listens on PORT.
require_free_port() {
  local owner
  owner=$(port_owner "$1")
  [[ -z $owner ]] || die "port $1 (needed for $2) is already taken by $owner"
}

# daemon_alive NAME PIDFILE: the pid file names a live process called NAME.
daemon_alive() {
  local pid
  [[ -s $2 ]] || return 1
  pid=$(head -n1 "$2" 2>/dev/null | tr -dc 0-9)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]
}

# stop_daemons NAME:PIDFILE...: SIGTERM all of them at once, wait up to 20s,
# then SIGKILL. Only touches processes named in the pid files, and only if
# they carry the expected name.
stop_daemons() {
  local spec name pidfile pid i
  local -a pids=() names=()
  for spec in "$@"; do
    name=${spec%%:*}
    pidfile=${spec#*:}
    if daemon_alive "$name" "$pidfile"; then
      pid=$(head -n1 "$pidfile" | tr -dc 0-9)
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
    rm -f "$pidfile"
  done
  ((${#pids[@]})) || return 0
  for ((i = 0; i < 80; i++)); do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.25
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      warn "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 20s; sending SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    echo "[rpo-testbed] stopped ${names[$i]} (pid ${pids[$i]})"
  done
}
stop_daemon() { stop_daemons "$1:$2"; }

stop_slurm_daemons() {
  local n specs=()
  for n in "${NODE_NAMES[@]}"; do specs+=("slurmd:$RUN_DIR/slurmd-$n.pid"); done
  stop_daemons "${specs[@]}" "slurmctld:$RUN_DIR/slurmctld.pid"
  # slurmdbd last: slurmctld hands its pending accounting records over on exit.
  stop_daemons "slurmdbd:$RUN_DIR/slurmdbd.pid"
}
