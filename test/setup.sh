#!/usr/bin/env bash
# Everything rpo's tests need, on a fresh Debian 12 machine or on one where it is already there:
# Node packages, the Debian packages of the live suites (PyTorch, scikit-learn), PostgreSQL with a
# `test` database reachable without a password, and the Slurm testbed (test/cluster/up.sh).
#
#   sudo bash test/setup.sh          set up (idempotent; a second run only checks)
#   sudo bash test/setup.sh --run    set up, then run the tests (`npm test`) against it
#
# `npm run test:all` is the second form; CI (.ci/run) calls it. Anything that cannot be set up makes
# it fail with what is missing: the suites never skip for lack of a service.
#
# PostgreSQL: a server already answering on 127.0.0.1:5432 as `postgres` without a password is used
# as it is (RPO_TEST_PG_URL overrides). Otherwise the machine's own server is left alone and a
# private instance with trust auth runs from test/.services/pg on 127.0.0.1:55432, started here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUN_TESTS=0
case "${1:-}" in
  "") ;;
  --run) RUN_TESTS=1 ;;
  -h | --help)
    sed -n '2,15p' "$0"
    exit 0
    ;;
  *)
    echo "test/setup.sh: unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'test/setup.sh: %s\n' "$*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages and starts the testbed's daemons): sudo bash test/setup.sh"

APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  step "installing Debian packages: ${missing[*]}"
  if ((APT_UPDATED == 0)); then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

step "node $(node --version), npm $(npm --version)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node 20.19 or newer is needed (found $(node --version))"
if [[ ! -d node_modules/vitest || ! -d dist ]]; then
  npm ci --no-audit --no-fund
fi

step "Debian packages of the live suites (PyTorch, scikit-learn, procps, util-linux), of the report pictures (librsvg2-bin) and of the metrics test (prometheus)"
apt_install python3-torch python3-sklearn python3-joblib python3-numpy procps util-linux librsvg2-bin prometheus
/usr/bin/python3 -c 'import torch, sklearn' || die "PyTorch/scikit-learn are not importable by /usr/bin/python3"

step "PostgreSQL (store suites)"
pg_trusts() { # $1 port: answers as postgres without a password
  PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -w -Atqc 'SELECT 1' >/dev/null 2>&1
}
ensure_test_db() { # $1 port
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -w -Atqc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -w -qc 'CREATE DATABASE test'
}
PG_URL="${RPO_TEST_PG_URL:-}"
if [[ -z $PG_URL ]]; then
  command -v psql >/dev/null || apt_install postgresql-client
  if ! pg_trusts 5432 && [[ -d /etc/postgresql ]] && [[ -n $(ls /etc/postgresql 2>/dev/null) ]]; then
    # the machine's server is installed but stopped (e.g. after a reboot): start it as it is configured
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if pg_trusts 5432; then
    ensure_test_db 5432
    PG_URL=postgres://postgres@127.0.0.1:5432/test
  else
    # no server we may use without a password: run a private one for the tests only
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    data="$ROOT/test/.services/pg"
    if [[ ! -f $data/PG_VERSION ]]; then
      install -d -o postgres -g postgres -m 700 "$data"
      runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    if ! pg_trusts 55432; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p 55432 -c unix_socket_directories=$data" start >/dev/null
    fi
    pg_trusts 55432 || die "the private PostgreSQL in $data did not start (see $data/server.log)"
    ensure_test_db 55432
    PG_URL=postgres://postgres@127.0.0.1:55432/test
  fi
fi
export RPO_TEST_PG_URL="$PG_URL"
echo "RPO_TEST_PG_URL=$RPO_TEST_PG_URL"

step "Slurm testbed (test/cluster/up.sh)"
bash test/cluster/up.sh

if ((RUN_TESTS)); then
  step "tests (npm test)"
  exec npm test
fi
step "ready: run \`RPO_TEST_PG_URL=$RPO_TEST_PG_URL npm test\`"
