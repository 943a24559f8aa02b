#!/usr/bin/env bash
# Smoke-test the running testbed the way rpo uses it: over ssh, as the test user.
#
#   bash test/cluster/check.sh
#
# Reads test/cluster/.testbed/connection.json (written by up.sh). Exits non-zero
# on the first failed check, printing what it saw.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=conf/testbed.sh
source "$SCRIPT_DIR/conf/testbed.sh"

CONN="$TESTBED_DIR/connection.json"
[[ -f $CONN ]] || die "$CONN not found: run test/cluster/up.sh first"
json_field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$CONN"; }
HOST=$(json_field host)
PORT=$(json_field port)
USER_=$(json_field user)
KEY=$(json_field privateKeyPath)
KNOWN=$(json_field knownHostsPath)
WORK=$(json_field workDir)/testbed-check # check.sh keeps its job output here
[[ -n $HOST && -n $PORT && -n $USER_ && -f $KEY && -f $KNOWN ]] || die "incomplete $CONN"

SSH=(ssh -i "$KEY" -o UserKnownHostsFile="$KNOWN" -o StrictHostKeyChecking=yes -o BatchMode=yes
  -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR -p "$PORT" "$USER_@$HOST")
remote() { "${SSH[@]}" "$@"; }

T0=$EPOCHREALTIME
PASSED=0
ok() {
  PASSED=$((PASSED + 1))
  printf '  ok   %-52s %6ss\n' "$1" "$(elapsed "$2")"
}
fail() {
  printf '  FAIL %s\n' "$1" >&2
  shift
  [[ $# -gt 0 ]] && printf '%s\n' "$@" | sed 's/^/       /' >&2
  printf '[rpo-testbed] check FAILED after %s ok\n' "$PASSED" >&2
  exit 1
}

# wait_done JOBIDS SECONDS: wait until squeue no longer lists the jobs.
wait_done() {
  remote "for i in \$(seq 1 $(($2 * 5))); do squeue -h -j $1 -o %i 2>/dev/null | grep -q . || exit 0; sleep 0.2; done; exit 1"
}
# sacct_fields JOBID FORMAT: allocation line(s), polled until the record is final
# (sacct can lag slurmctld by a moment).
sacct_fields() {
  remote "for i in \$(seq 1 50); do out=\$(sacct -n -X -P -j $1 -o $2); grep -qE 'PENDING|RUNNING|COMPLETING' <<<\"\$out\" || [ -z \"\$out\" ] || { echo \"\$out\"; exit 0; }; sleep 0.2; done; echo \"\$out\""
}

echo "[rpo-testbed] checking $USER_@$HOST:$PORT"

t=$EPOCHREALTIME
out=$(remote "id -un; mkdir -p $WORK") || fail "ssh login as $USER_" "$out"
[[ $(head -n1 <<<"$out") == "$USER_" ]] || fail "ssh login as $USER_" "$out"
ok "ssh login (strict host key checking)" "$t"

t=$EPOCHREALTIME
expected=$(printf '%s idle\n' "${NODE_NAMES[@]}" | sort)
for _ in $(seq 1 60); do
  nodes=$(remote "sinfo -h -N -o '%N %t' | sort -u") || fail "sinfo" "$nodes"
  [[ $nodes == "$expected" ]] && break
  sleep 0.5
done
[[ $nodes == "$expected" ]] || fail "sinfo: all ${#NODE_NAMES[@]} nodes idle" "$nodes"
gres=$(remote "sinfo -h -N -p gpu -o '%N %G' | sort -u | tr '\n' ' '")
ok "sinfo: ${#NODE_NAMES[@]} nodes idle; $gres" "$t"

t=$EPOCHREALTIME
a=$(remote "cd $WORK && sbatch --parsable --wrap hostname") || fail "sbatch --wrap hostname" "$a"
b=$(remote "cd $WORK && sbatch --parsable --dependency=afterok:$a --gres=gpu:a100:2 -p gpu --wrap 'echo CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES'") ||
  fail "sbatch --dependency=afterok:$a --gres=gpu:a100:2 -p gpu" "$b"
ok "submitted job $a and dependent GPU job $b" "$t"

t=$EPOCHREALTIME
wait_done "$a,$b" 60 || fail "jobs $a,$b finish within 60s" "$(remote "squeue -j $a,$b -o '%i %T %r'")"
ok "jobs $a -> $b finished" "$t"

t=$EPOCHREALTIME
acct=$(sacct_fields "$a,$b" 'JobID,State,ExitCode,AllocTRES,Start,End')
sa=$(grep "^$a|" <<<"$acct" || true)
sb=$(grep "^$b|" <<<"$acct" || true)
[[ $sa == "$a|COMPLETED|0:0|"* ]] || fail "sacct: job $a COMPLETED" "$acct"
[[ $sb == "$b|COMPLETED|0:0|"* ]] || fail "sacct: job $b COMPLETED" "$acct"
[[ $sb == *gres/gpu=2* ]] || fail "sacct: job $b AllocTRES has gres/gpu=2" "$acct"
gap=$(($(date -d "$(cut -d'|' -f5 <<<"$sb")" +%s) - $(date -d "$(cut -d'|' -f6 <<<"$sa")" +%s)))
cuda=$(remote "cat $WORK/slurm-$b.out")
ok "sacct: both COMPLETED, $b has gres/gpu=2 ($cuda)" "$t"
echo "       dependent job started ${gap}s after its upstream ended"

t=$EPOCHREALTIME
h=$(remote "cd $WORK && sbatch --parsable --hold --wrap true") || fail "sbatch --hold" "$h"
reason=$(remote "squeue -h -j $h -o '%T %r'")
[[ $reason == "PENDING JobHeldUser" ]] || fail "held job $h pending with JobHeldUser" "$reason"
remote "scontrol release $h" || fail "scontrol release $h"
wait_done "$h" 60 || fail "released job $h finishes" "$(remote "squeue -j $h -o '%i %T %r'")"
st=$(sacct_fields "$h" State)
[[ $st == COMPLETED ]] || fail "released job $h COMPLETED" "$st"
ok "hold ($reason) / release -> COMPLETED" "$t"

t=$EPOCHREALTIME
m=$(remote "cd $WORK && sbatch --parsable -N2 -p gpu --wrap 'srun hostname'") || fail "sbatch -N2 -p gpu" "$m"
wait_done "$m" 60 || fail "2-node job $m finishes"
st=$(sacct_fields "$m" 'State,NNodes')
[[ $st == 'COMPLETED|2' ]] || fail "2-node srun job $m COMPLETED on 2 nodes" "$st"
hosts=$(remote "wc -l <$WORK/slurm-$m.out")
[[ $hosts == 2 ]] || fail "srun in 2-node job $m ran 2 tasks" "$(remote "cat $WORK/slurm-$m.out")"
ok "2-node job: srun ran on both nodes" "$t"

# what slurm-distributed.test.ts needs: Lmod in a non-login batch shell, MPI ranks across two nodes
t=$EPOCHREALTIME
mpi_script='#!/bin/bash
. /etc/profile.d/lmod.sh && module load rpotool/1.0 && rpotool || exit 3
hello="import os; from mpi4py import MPI; c = MPI.COMM_WORLD; print(\"rank\", c.rank, os.environ[\"SLURMD_NODENAME\"], c.allreduce(1))"
mpirun /usr/bin/python3 -c "$hello" && srun --mpi=pmix /usr/bin/python3 -c "$hello"'
p=$(remote "cd $WORK && printf '%s\n' '$mpi_script' >rpo-check-mpi.sh && sbatch --parsable -N2 --ntasks-per-node=2 -p gpu rpo-check-mpi.sh") ||
  fail "sbatch -N2 --ntasks-per-node=2 (mpirun)" "$p"
wait_done "$p" 60 || fail "mpirun job $p finishes" "$(remote "squeue -j $p -o '%i %T %r'")"
st=$(sacct_fields "$p" 'State')
out=$(remote "cat $WORK/slurm-$p.out")
[[ $st == COMPLETED ]] || fail "mpirun job $p COMPLETED" "$st" "$out"
[[ $(head -n1 <<<"$out") == 'rpotool 1.0' ]] || fail "module load rpotool/1.0 in the batch shell" "$out"
[[ $(grep -c ' 4$' <<<"$out") == 8 && $(grep '^rank' <<<"$out" | cut -d' ' -f3 | sort -u | wc -l) == 2 ]] ||
  fail "mpirun, then srun --mpi=pmix: 4 ranks on 2 nodes each, allreduce 4" "$out"
ok "Lmod module load; mpirun, srun --mpi=pmix: 4 ranks on 2 nodes" "$t"

t=$EPOCHREALTIME
if bad=$(remote "cd $WORK && sbatch -A nosuchaccount --wrap true" 2>&1); then
  fail "sbatch -A nosuchaccount is rejected" "$bad"
fi
[[ $bad == *"Invalid account"* ]] || fail "sbatch -A nosuchaccount is rejected with 'Invalid account'" "$bad"
ok "sbatch -A nosuchaccount rejected" "$t"

t=$EPOCHREALTIME
q=$(remote "cd $WORK && printf '#!/bin/bash\nhostname\n' >rpo-check-qsub.sh && qsub -N rpocheck rpo-check-qsub.sh") || fail "qsub (torque wrapper)" "$q"
q=$(tr -dc 0-9 <<<"$q")
[[ -n $q ]] || fail "qsub printed a job id"
qs=$(remote "qstat") || fail "qstat (torque wrapper)" "$qs"
wait_done "$q" 60 || fail "qsub job $q finishes"
ok "torque wrappers: qsub -> job $q, qstat" "$t"

printf '[rpo-testbed] all %s checks ok in %ss\n' "$PASSED" "$(elapsed "$T0")"
