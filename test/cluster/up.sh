#!/usr/bin/env bash
# Stand up a single-machine Slurm 22.05 testbed for rpo's integration tests.
#
#   sudo bash test/cluster/up.sh      (must run as root)
#
# Idempotent: every step checks before it acts, so a second run only verifies
# that the daemons are alive and rewrites connection.json. Installs its Debian
# packages itself when they are missing. Daemons are started directly (no
# systemd) and keep running after this script exits; stop them with down.sh.
#
# Result: test/cluster/.testbed/connection.json (see README.md in this folder).
#
# Environment overrides (optional):
#   RPO_TESTBED_SSH_PORT   port of the testbed sshd on 127.0.0.1 (default 2222)
#   RPO_TESTBED_TIMEOUT    seconds to wait for each daemon (default 60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=conf/testbed.sh
source "$SCRIPT_DIR/conf/testbed.sh"

T_START=$EPOCHREALTIME
TIMEOUT="${RPO_TESTBED_TIMEOUT:-60}"

[[ $(id -u) -eq 0 ]] || die "up.sh must run as root (it installs packages and starts daemons)"

# ---------------------------------------------------------------------------
# 1. Packages (only when missing, so the second run is fast)
# ---------------------------------------------------------------------------
PACKAGES=(munge slurmctld slurmd slurmdbd slurm-client slurm-wlm-torque openssh-server mariadb-client)
# Distributed jobs and software environments (slurm-distributed.test.ts): PyTorch for DDP with
# gloo on CPUs, OpenMPI + mpi4py for MPI jobs, Lmod for `module load` in batch scripts.
PACKAGES+=(python3-torch openmpi-bin python3-mpi4py lmod)

missing_packages() {
  # one dpkg-query for all (a dpkg -s per package cost ~2 s of the second run)
  local -A installed=()
  local name status p
  while read -r name status; do
    [[ $status == ii ]] && installed[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do
    [[ -n ${installed[$p]:-} ]] || echo "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]})) || return 0
  step "installing Debian packages: ${missing[*]}"
  # Keep the packages' maintainer scripts from starting the system services
  # (sshd on :22, munge, slurm via init.d): we start our own instances.
  local created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, created by rpo test/cluster/up.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local rc=0 apt_log="$LOG_DIR/apt.log" t0=$EPOCHREALTIME
  {
    # The package lists may be missing on a brand-new machine, or too old.
    apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >"$apt_log" 2>&1 || rc=$?
  if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  if ((rc != 0)); then
    tail -n 30 "$apt_log" >&2
    die "apt-get failed (exit $rc); full log: $apt_log"
  fi
  step "packages installed in $(elapsed "$t0")s"
}

mkdir -p "$LOG_DIR" "$RUN_DIR" "$SPOOL_DIR" "$DEV_DIR" "$SSH_DIR" "$TESTBED_DIR"
chmod 755 "$STATE_DIR" "$LOG_DIR" "$RUN_DIR" "$SPOOL_DIR" "$DEV_DIR"
chmod 700 "$SSH_DIR" "$TESTBED_DIR"
install_packages "${PACKAGES[@]}"
SLURM_VERSION=$(dpkg-query -W -f='${Version}' slurmctld | sed 's/-.*//')
[[ $SLURM_VERSION == 22.05.* ]] || warn "expected Slurm 22.05, found $SLURM_VERSION"

# ---------------------------------------------------------------------------
# 2. Test user, working directory, fake GPU device files
# ---------------------------------------------------------------------------
if ! id -u "$TEST_USER" >/dev/null 2>&1; then
  step "creating user $TEST_USER"
  useradd --create-home --home-dir "$TEST_HOME" --shell /bin/bash "$TEST_USER"
fi
# A '!' (locked) password field makes sshd refuse even key logins when UsePAM
# is off; '*' means "no password can match" but the account is usable.
if [[ $(getent shadow "$TEST_USER" | cut -d: -f2) != '*' ]]; then
  usermod -p '*' "$TEST_USER"
fi
TEST_GID=$(id -g "$TEST_USER")
install -d -o "$TEST_USER" -g "$TEST_GID" -m 755 "$TEST_HOME" "$WORK_DIR"
install -d -o "$TEST_USER" -g "$TEST_GID" -m 700 "$TEST_HOME/.ssh"

# Stand-ins for GPU device files. slurmd drops GPUs without File=, and wants a
# character device behind each (a plain file works but logs "not a valid
# character or block device" and then sets no CUDA_VISIBLE_DEVICES), so each
# is a symlink to /dev/null. Nothing opens them: task/none, no cgroups.
for n in "${NODE_NAMES[@]}"; do
  count=${NODE_GPU_COUNT[$n]}
  for ((i = 0; i < count; i++)); do
    [[ -L "$DEV_DIR/$n-nvidia$i" ]] || ln -sfn /dev/null "$DEV_DIR/$n-nvidia$i"
  done
done

# ---------------------------------------------------------------------------
# 2b. Multi-node jobs and environment modules
# ---------------------------------------------------------------------------
# A launcher that rendezvouses on the first host of SLURM_JOB_NODELIST (torchrun --master_addr,
# mpirun's orted) must resolve the node names; every node is this machine.
HOSTS_LINE="127.0.0.1 $(join_by ' ' "${NODE_NAMES[@]}") # rpo-testbed node names"
if ! grep -qxF "$HOSTS_LINE" /etc/hosts; then
  step "adding the node names to /etc/hosts"
  # /etc/hosts may be a bind mount (containers): rewrite it in place, never replace the file
  hosts_kept=$(grep -v '# rpo-testbed node names$' /etc/hosts || true)
  printf '%s\n%s\n' "$hosts_kept" "$HOSTS_LINE" >/etc/hosts
fi

# OpenMPI's shared-memory transport (vader) names its segments after the hostname, which all
# five nodes share here: two ranks on one node beside two on another collide and segfault in
# mca_btl_vader_poll_handle_frag. The test user's ranks talk TCP over loopback instead (the user's
# file replaces the system's btl line, so it repeats Debian's exclusions from
# /etc/openmpi/openmpi-mca-params.conf). Real clusters don't need it.
OMPI_USER_PARAMS="$TEST_HOME/.openmpi/mca-params.conf"
OMPI_PARAMS_TEXT='# Managed by rpo test/cluster/up.sh: all testbed nodes share one hostname, so no vader.
btl = ^vader,uct,openib,ofi'
if [[ $(cat "$OMPI_USER_PARAMS" 2>/dev/null) != "$OMPI_PARAMS_TEXT" ]]; then
  step "disabling OpenMPI's vader transport for $TEST_USER"
  install -d -o "$TEST_USER" -g "$TEST_GID" -m 755 "$TEST_HOME/.openmpi"
  printf '%s\n' "$OMPI_PARAMS_TEXT" >"$OMPI_USER_PARAMS"
  chown "$TEST_USER:$TEST_GID" "$OMPI_USER_PARAMS"
fi

# srun --mpi=pmix: Debian's Slurm plugin dlopens pmix2/lib/libpmix.so, the development symlink
# that only libpmix-dev ships (with its autotools dependencies); without it every pmix step fails
# with "can not load PMIx library". slurmd loads the plugin at start, so it restarts when this is new.
TMPFS_DIR=$STATE_DIR/tmp
for n in "${NODE_NAMES[@]}"; do
  [[ -d $TMPFS_DIR/$n ]] || install -d -m 1777 "$TMPFS_DIR/$n"
done
PMIX_LIB_DIR=/usr/lib/x86_64-linux-gnu/pmix2/lib
PMIX_LINKED=0
if [[ -e $PMIX_LIB_DIR/libpmix.so.2 && ! -e $PMIX_LIB_DIR/libpmix.so ]]; then
  step "linking $PMIX_LIB_DIR/libpmix.so (for srun --mpi=pmix)"
  ln -s libpmix.so.2 "$PMIX_LIB_DIR/libpmix.so"
  PMIX_LINKED=1
fi

# Lmod modulefiles the tests load. The site path goes into Lmod's own list
# (/etc/lmod/modulespath), which /etc/profile.d/lmod.sh reads, as a site admin would do it.
MODULES_DIR=$STATE_DIR/modulefiles
MODULES_CHANGED=0
write_if_changed() { # path mode, content on stdin
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return; fi
  install -D -m "$2" "$tmp" "$1"
  rm -f "$tmp"
  MODULES_CHANGED=1
}
for version in 1.0 2.0; do
  write_if_changed "$MODULES_DIR/rpotool/$version.lua" 644 <<EOF
-- Managed by rpo test/cluster/up.sh: a stand-in tool with a version, for module tests.
whatis("rpotool $version: rpo testbed stand-in tool")
setenv("RPOTOOL_VERSION", "$version")
setenv("RPOTOOL_HOME", "$STATE_DIR/tools/rpotool-$version")
prepend_path("PATH", "$STATE_DIR/tools/rpotool-$version/bin")
append_path("RPO_MODULE_ORDER", "rpotool/$version")
EOF
  write_if_changed "$STATE_DIR/tools/rpotool-$version/bin/rpotool" 755 <<EOF
#!/bin/sh
# Managed by rpo test/cluster/up.sh: prints which rpotool ran.
echo "rpotool $version"
EOF
done
write_if_changed "$MODULES_DIR/rpodata/1.0.lua" 644 <<EOF
-- Managed by rpo test/cluster/up.sh: a second module, to see the load order.
whatis("rpodata 1.0: rpo testbed data location")
setenv("RPODATA_DIR", "$STATE_DIR/tools/rpodata")
append_path("RPO_MODULE_ORDER", "rpodata/1.0")
EOF
if [[ -f /etc/lmod/modulespath ]] && ! grep -qxF "$MODULES_DIR" /etc/lmod/modulespath; then
  step "adding $MODULES_DIR to /etc/lmod/modulespath"
  echo "$MODULES_DIR" >>/etc/lmod/modulespath
fi
((MODULES_CHANGED == 0)) || step "wrote the testbed modulefiles under $MODULES_DIR"

# ---------------------------------------------------------------------------
# 3. Configuration files (rewritten every run; daemons restart only if changed)
# ---------------------------------------------------------------------------
HOST_SHORT=$(hostname -s 2>/dev/null || hostname)
[[ -n $HOST_SHORT ]] || die "cannot determine this machine's hostname"

# MariaDB: the machine image runs it on 127.0.0.1:3306 (root, empty password).
mysql_ok() { mysql --connect-timeout=3 -uroot "$@" -e 'SELECT 1' >/dev/null 2>&1; }
DB_HOST=""
ensure_mariadb() {
  if mysql_ok -h127.0.0.1 -P3306; then DB_HOST=127.0.0.1; return; fi
  if mysql_ok; then DB_HOST=localhost; return; fi # unix socket (root via unix_socket auth)
  if [[ ! -x /usr/sbin/mariadbd ]]; then
    install_packages mariadb-server
  fi
  step "starting MariaDB"
  install -d -o mysql -g mysql -m 755 /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if mysql_ok -h127.0.0.1 -P3306; then DB_HOST=127.0.0.1; return; fi
    if mysql_ok; then DB_HOST=localhost; return; fi
    sleep 0.5
  done
  die "MariaDB is not reachable as root on 127.0.0.1:3306 (nor via its socket) after ${TIMEOUT}s"
}
ensure_mariadb

NEW_CONF_DIR=$(mktemp -d)
trap 'rm -rf "$NEW_CONF_DIR"' EXIT

{
  cat <<EOF
# Managed by rpo test/cluster/up.sh -- rewritten on every run, do not edit.
ClusterName=$CLUSTER_NAME
SlurmctldHost=$HOST_SHORT(127.0.0.1)
SlurmctldPort=$SLURMCTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
# Requeued jobs get BeginTime = now + cred_expire + 1 (default 120s): keep it short.
AuthInfo=cred_expire=$CRED_EXPIRE

StateSaveLocation=$SPOOL_DIR/slurmctld
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmctldDebug=info
# One slurmd per node name on this one machine: %n = node name.
SlurmdSpoolDir=$SPOOL_DIR/slurmd-%n
SlurmdPidFile=$RUN_DIR/slurmd-%n.pid
SlurmdLogFile=$LOG_DIR/slurmd-%n.log
SlurmdDebug=info
# Nodes declare more CPUs/memory/GPUs than this machine has.
SlurmdParameters=config_overrides

# No cgroups in a container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobAcctGatherParams=OverMemoryKill
MpiDefault=none
# Per-node job scratch: srun --mpi=pmix makes its client dir <TmpFS>/spmix_appdir_<uid>_<job>.<step>
# on every node, and with one /tmp for all nodes the second node's step fails with "File exists".
TmpFS=$TMPFS_DIR/%n
SwitchType=switch/none
LaunchType=launch/slurm

# Scheduling: small cluster, fast turnaround.
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,sched_interval=2,sched_min_interval=0,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
PriorityType=priority/basic
ReturnToService=2
JobRequeue=1
MinJobAge=300
KillWait=5
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
CompleteWait=0

# Accounting through slurmdbd (MariaDB).
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$SLURMDBD_PORT
AccountingStorageEnforce=associations
AccountingStorageTRES=gres/gpu,gres/gpu:a100,gres/gpu:v100
JobCompType=jobcomp/none

GresTypes=gpu

EOF
  for n in "${NODE_NAMES[@]}"; do
    gres=""
    ((NODE_GPU_COUNT[$n] > 0)) && gres=" Gres=gpu:${NODE_GPU_TYPE[$n]}:${NODE_GPU_COUNT[$n]}"
    echo "NodeName=$n NodeHostname=$HOST_SHORT NodeAddr=127.0.0.1 Port=${NODE_PORT[$n]} CPUs=${NODE_CPUS[$n]} RealMemory=${NODE_MEM[$n]}${gres} Features=${NODE_FEATURES[$n]} State=UNKNOWN"
  done
  echo
  echo "PartitionName=cpu Nodes=$(join_by , "${CPU_NODES[@]}") Default=YES MaxTime=INFINITE State=UP"
  echo "PartitionName=gpu Nodes=$(join_by , "${GPU_NODES[@]}") MaxTime=INFINITE State=UP"
  echo "PartitionName=all Nodes=ALL MaxTime=INFINITE State=UP"
} >"$NEW_CONF_DIR/slurm.conf"

{
  echo "# Managed by rpo test/cluster/up.sh -- rewritten on every run, do not edit."
  echo "# Symlinks to /dev/null stand in for the GPU devices: slurmd drops GPUs without File=."
  echo "AutoDetect=off"
  for n in "${NODE_NAMES[@]}"; do
    count=${NODE_GPU_COUNT[$n]}
    ((count > 0)) || continue
    echo "NodeName=$n Name=gpu Type=${NODE_GPU_TYPE[$n]} File=$DEV_DIR/$n-nvidia[0-$((count - 1))]"
  done
} >"$NEW_CONF_DIR/gres.conf"

# NB: no StoragePass line at all -- an empty "StoragePass=" is a parse error.
cat >"$NEW_CONF_DIR/slurmdbd.conf" <<EOF
# Managed by rpo test/cluster/up.sh -- rewritten on every run, do not edit.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$SLURMDBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=$DB_HOST
StoragePort=3306
StorageUser=root
StorageLoc=$DB_NAME
EOF

# Refuse to clobber a slurm.conf that someone else wrote.
if [[ -f $SLURM_CONF ]] && ! grep -q 'Managed by rpo test/cluster/up.sh' "$SLURM_CONF"; then
  [[ ${RPO_TESTBED_FORCE:-0} == 1 ]] ||
    die "$SLURM_CONF exists and was not written by this script; move it away or set RPO_TESTBED_FORCE=1"
fi

CONF_CHANGED=0
install_conf() { # name mode
  local src="$NEW_CONF_DIR/$1" dst="$SLURM_ETC/$1"
  if ! cmp -s "$src" "$dst"; then
    install -m "$2" -o root -g root "$src" "$dst"
    CONF_CHANGED=1
  fi
  chmod "$2" "$dst"
}
mkdir -p "$SLURM_ETC"
install_conf slurm.conf 644
install_conf gres.conf 644
install_conf slurmdbd.conf 600 # slurmdbd insists on 600, owned by SlurmUser

for n in "${NODE_NAMES[@]}"; do mkdir -p "$SPOOL_DIR/slurmd-$n"; done
mkdir -p "$SPOOL_DIR/slurmctld"

((PMIX_LINKED == 0)) || CONF_CHANGED=1
if ((CONF_CHANGED)) && { daemon_alive slurmctld "$RUN_DIR/slurmctld.pid" || daemon_alive slurmdbd "$RUN_DIR/slurmdbd.pid"; }; then
  step "configuration changed: restarting the Slurm daemons"
  stop_slurm_daemons
fi

# ---------------------------------------------------------------------------
# 4. munge
# ---------------------------------------------------------------------------
munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if [[ ! -s /etc/munge/munge.key ]]; then
  step "creating munge key"
  install -d -o munge -g munge -m 700 /etc/munge
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! munge_works; then
  step "starting munged"
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/log/munge
  install -d -o munge -g munge -m 711 /var/lib/munge
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --num-threads=8 </dev/null >>"$LOG_DIR/munged.out" 2>&1 ||
    { tail -n 20 /var/log/munge/munged.log >&2 2>/dev/null; die "munged failed to start (log: /var/log/munge/munged.log)"; }
  touch "$RUN_DIR/munged.ours" # down.sh stops munged only if we started it
  wait_for "munged" 20 munge_works || die "munge does not work; see /var/log/munge/munged.log"
fi

# ---------------------------------------------------------------------------
# 5. slurmdbd + accounting objects
# ---------------------------------------------------------------------------
dbd_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster >/dev/null 2>&1; }
if ! daemon_alive slurmdbd "$RUN_DIR/slurmdbd.pid"; then
  require_free_port "$SLURMDBD_PORT" slurmdbd
  step "starting slurmdbd"
  /usr/sbin/slurmdbd </dev/null >>"$LOG_DIR/slurmdbd.out" 2>&1 || fail_with_log "slurmdbd failed to start" "$LOG_DIR/slurmdbd.log"
fi
wait_for_daemon slurmdbd "$RUN_DIR/slurmdbd.pid" "$TIMEOUT" dbd_ok || fail_with_log "slurmdbd not answering after ${TIMEOUT}s" "$LOG_DIR/slurmdbd.log"

sacctmgr_q() { timeout 20 sacctmgr -n -P "$@"; }
sacctmgr_do() {
  local out
  out=$(timeout 30 sacctmgr -i "$@" 2>&1) || die "'sacctmgr $*' failed: $out"
}
if [[ -z $(sacctmgr_q show cluster "$CLUSTER_NAME" format=cluster) ]]; then
  step "registering cluster $CLUSTER_NAME in slurmdbd"
  sacctmgr_do add cluster "$CLUSTER_NAME"
fi
existing_accounts=$(sacctmgr_q show account format=account)
for a in "${ACCOUNTS[@]}"; do
  if ! grep -qx "$a" <<<"$existing_accounts"; then
    sacctmgr_do add account "$a" Cluster="$CLUSTER_NAME" Description="rpo test account $a" Organization=rpo
  fi
done
if [[ -z $(sacctmgr_q show user "$TEST_USER" format=user) ]]; then
  sacctmgr_do add user "$TEST_USER" Account="$(join_by , "${ACCOUNTS[@]}")" DefaultAccount="$DEFAULT_ACCOUNT" Cluster="$CLUSTER_NAME"
fi
user_accounts=$(sacctmgr_q show assoc where cluster="$CLUSTER_NAME" user="$TEST_USER" format=account)
for a in "${ACCOUNTS[@]}"; do
  if ! grep -qx "$a" <<<"$user_accounts"; then
    sacctmgr_do add user "$TEST_USER" Account="$a" Cluster="$CLUSTER_NAME"
  fi
done
if [[ $(sacctmgr_q show user "$TEST_USER" format=defaultaccount) != "$DEFAULT_ACCOUNT" ]]; then
  sacctmgr_do modify user "$TEST_USER" set DefaultAccount="$DEFAULT_ACCOUNT"
fi

# ---------------------------------------------------------------------------
# 6. slurmctld and one slurmd per node
# ---------------------------------------------------------------------------
ctld_ok() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }
if ! daemon_alive slurmctld "$RUN_DIR/slurmctld.pid"; then
  require_free_port "$SLURMCTLD_PORT" slurmctld
  step "starting slurmctld"
  /usr/sbin/slurmctld </dev/null >>"$LOG_DIR/slurmctld.out" 2>&1 || fail_with_log "slurmctld failed to start" "$LOG_DIR/slurmctld.log"
fi
wait_for_daemon slurmctld "$RUN_DIR/slurmctld.pid" "$TIMEOUT" ctld_ok || fail_with_log "slurmctld not responding after ${TIMEOUT}s" "$LOG_DIR/slurmctld.log"

for n in "${NODE_NAMES[@]}"; do
  if ! daemon_alive slurmd "$RUN_DIR/slurmd-$n.pid"; then
    require_free_port "${NODE_PORT[$n]}" "slurmd -N $n"
    step "starting slurmd -N $n"
    /usr/sbin/slurmd -N "$n" </dev/null >>"$LOG_DIR/slurmd-$n.out" 2>&1 || fail_with_log "slurmd -N $n failed to start" "$LOG_DIR/slurmd-$n.log"
  fi
done

# Nodes left down/drained by an earlier run (e.g. "Kill task failed") are resumed.
NODES_WAIT_START=$SECONDS
nodes_ready() {
  local out bad n
  if ((SECONDS - NODES_WAIT_START >= 3)); then
    for n in "${NODE_NAMES[@]}"; do
      daemon_alive slurmd "$RUN_DIR/slurmd-$n.pid" || fail_with_log "slurmd -N $n is not running" "$LOG_DIR/slurmd-$n.log"
    done
  fi
  out=$(timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null | sort -u) || return 1
  [[ $(wc -l <<<"$out") -eq ${#NODE_NAMES[@]} ]] || return 1
  bad=$(awk '$2 !~ /^(idle|mix|alloc|comp)$/ {print $1}' <<<"$out")
  [[ -z $bad ]] && return 0
  local b
  for b in $bad; do
    if grep -Eq "^$b (down|drain|drng|fail)" <<<"$out"; then
      scontrol update NodeName="$b" State=RESUME >/dev/null 2>&1 || true
    fi
  done
  return 1
}
if ! wait_for "all ${#NODE_NAMES[@]} nodes" "$TIMEOUT" nodes_ready; then
  sinfo -N -l >&2 || true
  for n in "${NODE_NAMES[@]}"; do echo "--- $LOG_DIR/slurmd-$n.log" >&2; tail -n 8 "$LOG_DIR/slurmd-$n.log" >&2 2>/dev/null || true; done
  fail_with_log "not all nodes came up after ${TIMEOUT}s" "$LOG_DIR/slurmctld.log"
fi

# ---------------------------------------------------------------------------
# 7. sshd for the test user (own config, own host key, 127.0.0.1 only)
# ---------------------------------------------------------------------------
[[ -f "$SSH_DIR/ssh_host_ed25519_key" ]] || ssh-keygen -q -t ed25519 -N '' -C "rpo-testbed-host" -f "$SSH_DIR/ssh_host_ed25519_key"
[[ -f "$SSH_DIR/client_id_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C "rpotest@rpo-testbed" -f "$SSH_DIR/client_id_ed25519"
PUBKEY=$(cat "$SSH_DIR/client_id_ed25519.pub")
AUTH_KEYS="$TEST_HOME/.ssh/authorized_keys"
if ! grep -qxF "$PUBKEY" "$AUTH_KEYS" 2>/dev/null; then
  echo "$PUBKEY" >>"$AUTH_KEYS"
fi
chown "$TEST_USER:$TEST_GID" "$AUTH_KEYS"
chmod 600 "$AUTH_KEYS"

cat >"$NEW_CONF_DIR/sshd_config" <<EOF
# Managed by rpo test/cluster/up.sh -- rewritten on every run, do not edit.
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $RUN_DIR/sshd.pid
AllowUsers $TEST_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
MaxSessions 64
MaxStartups 100
MaxAuthTries 10
LoginGraceTime 30
ClientAliveInterval 30
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
SSHD_CONF_CHANGED=0
if ! cmp -s "$NEW_CONF_DIR/sshd_config" "$SSH_DIR/sshd_config"; then
  install -m 600 "$NEW_CONF_DIR/sshd_config" "$SSH_DIR/sshd_config"
  SSHD_CONF_CHANGED=1
fi
install -d -m 755 /run/sshd # privilege separation directory
/usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd rejects $SSH_DIR/sshd_config"
if ((SSHD_CONF_CHANGED)) && daemon_alive sshd "$RUN_DIR/sshd.pid"; then
  stop_daemon sshd "$RUN_DIR/sshd.pid"
fi
sshd_ok() { timeout 5 ssh-keyscan -T 3 -t ed25519 -p "$SSH_PORT" 127.0.0.1 2>/dev/null | grep -q ssh-ed25519; }
if ! daemon_alive sshd "$RUN_DIR/sshd.pid"; then
  owner=$(port_owner "$SSH_PORT")
  [[ -z $owner ]] || die "port $SSH_PORT is already taken by $owner; set RPO_TESTBED_SSH_PORT to use another"
  step "starting sshd on 127.0.0.1:$SSH_PORT"
  /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$LOG_DIR/sshd.log" </dev/null >>"$LOG_DIR/sshd.out" 2>&1 ||
    fail_with_log "sshd failed to start (port $SSH_PORT taken?)" "$LOG_DIR/sshd.log"
fi
wait_for_daemon sshd "$RUN_DIR/sshd.pid" 20 sshd_ok || fail_with_log "sshd not answering on 127.0.0.1:$SSH_PORT" "$LOG_DIR/sshd.log"

# ---------------------------------------------------------------------------
# 8. Client files for the tests: key, known_hosts, connection.json
# ---------------------------------------------------------------------------
install -m 600 "$SSH_DIR/client_id_ed25519" "$TESTBED_DIR/id_ed25519"
install -m 644 "$SSH_DIR/client_id_ed25519.pub" "$TESTBED_DIR/id_ed25519.pub"
HOST_PUB=$(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")
printf '[127.0.0.1]:%s %s\n[localhost]:%s %s\n' "$SSH_PORT" "$HOST_PUB" "$SSH_PORT" "$HOST_PUB" >"$TESTBED_DIR/known_hosts"
chmod 644 "$TESTBED_DIR/known_hosts"

json_str_array() { local out="" x; for x in "$@"; do out+="${out:+, }\"$x\""; done; printf '[%s]' "$out"; }
{
  echo "{"
  echo "  \"host\": \"127.0.0.1\","
  echo "  \"port\": $SSH_PORT,"
  echo "  \"user\": \"$TEST_USER\","
  echo "  \"privateKeyPath\": \"$TESTBED_DIR/id_ed25519\","
  echo "  \"knownHostsPath\": \"$TESTBED_DIR/known_hosts\","
  echo "  \"hostKey\": \"$HOST_PUB\","
  echo "  \"clusterName\": \"$CLUSTER_NAME\","
  echo "  \"slurmVersion\": \"$SLURM_VERSION\","
  echo "  \"slurmConfPath\": \"$SLURM_CONF\","
  echo "  \"gresConfPath\": \"$SLURM_ETC/gres.conf\","
  echo "  \"slurmdbdConfPath\": \"$SLURM_ETC/slurmdbd.conf\","
  echo "  \"workDir\": \"$WORK_DIR\","
  echo "  \"homeDir\": \"$TEST_HOME\","
  echo "  \"logDir\": \"$LOG_DIR\","
  echo "  \"defaultPartition\": \"cpu\","
  echo "  \"partitions\": ["
  echo "    {\"name\": \"cpu\", \"default\": true, \"nodes\": $(json_str_array "${CPU_NODES[@]}")},"
  echo "    {\"name\": \"gpu\", \"default\": false, \"nodes\": $(json_str_array "${GPU_NODES[@]}")},"
  echo "    {\"name\": \"all\", \"default\": false, \"nodes\": $(json_str_array "${NODE_NAMES[@]}")}"
  echo "  ],"
  echo "  \"defaultAccount\": \"$DEFAULT_ACCOUNT\","
  echo "  \"accounts\": $(json_str_array "${ACCOUNTS[@]}"),"
  echo "  \"nodes\": ["
  last=$((${#NODE_NAMES[@]} - 1))
  for i in "${!NODE_NAMES[@]}"; do
    n=${NODE_NAMES[$i]}
    if ((NODE_GPU_COUNT[$n] > 0)); then gt="\"${NODE_GPU_TYPE[$n]}\""; else gt=null; fi
    sep=","; ((i == last)) && sep=""
    IFS=, read -ra feats <<<"${NODE_FEATURES[$n]}"
    echo "    {\"name\": \"$n\", \"cpus\": ${NODE_CPUS[$n]}, \"memoryMb\": ${NODE_MEM[$n]}, \"gpuType\": $gt, \"gpuCount\": ${NODE_GPU_COUNT[$n]}, \"features\": $(json_str_array "${feats[@]}")}$sep"
  done
  echo "  ]"
  echo "}"
} >"$TESTBED_DIR/connection.json.tmp"
mv "$TESTBED_DIR/connection.json.tmp" "$TESTBED_DIR/connection.json"
chmod 644 "$TESTBED_DIR/connection.json"

printf '[rpo-testbed] ready in %ss: ssh -i %s -o UserKnownHostsFile=%s -p %s %s@127.0.0.1\n' \
  "$(elapsed "$T_START")" "$TESTBED_DIR/id_ed25519" "$TESTBED_DIR/known_hosts" "$SSH_PORT" "$TEST_USER"
echo "[rpo-testbed] connection details: $TESTBED_DIR/connection.json"
