# Shared by scripts/setup, build, dev, test and bench. Source it; do not run it.
# Everything it starts is recorded and stopped by `stack_stop` (wired to EXIT by callers).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"            # git-ignored: server data, logs, pids
FUNCTIONS=(agent ratelimited-agent kb-ingest webhooks)
mkdir -p "$LOCAL"

# Tool overrides for worker-build: never download from GitHub (the registries are all we have).
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

# Local-only credentials for servers bound to 127.0.0.1; production values are Worker secrets.
PG_PASSWORD="sba-local-dev"
PG_DATABASE="sba"
REDIS_REST_TOKEN="${REDIS_REST_TOKEN:-sba-local-dev-token}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A TCP port nobody listens on right now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_for_port() { # port, name, seconds
  local deadline=$((SECONDS + ${3:-30}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $2 on port $1" >&2; return 1; }
    sleep 0.1
  done
}

STACK_PIDS=()
PG_DATA=""

stack_stop() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STACK_PIDS=()
  # A redis-server started again by scripts/bench's soak (tests/bench/outage.sh) after it
  # stopped the stack's own: not a child of this shell, so stopped by its recorded pid.
  if [[ -n "${SBA_STACK_REDIS_DIR:-}" && -f "$SBA_STACK_REDIS_DIR/restarted.pid" ]]; then
    kill "$(cat "$SBA_STACK_REDIS_DIR/restarted.pid")" 2>/dev/null || true
    rm -f "$SBA_STACK_REDIS_DIR/restarted.pid"
  fi
  if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

redis_start() { # dir, port
  mkdir -p "$1"
  redis-server --bind 127.0.0.1 --port "$2" --dir "$1" --save '' --appendonly no \
    --protected-mode yes --logfile "$1/redis.log" --daemonize no &
  STACK_PIDS+=($!)
  wait_for_port "$2" redis-server
}

rest_start() { # redis port, rest port
  REDIS_REST_TOKEN="$REDIS_REST_TOKEN" "${REST_BIN:-$ROOT/target/debug/redis-rest-server}" \
    --listen "127.0.0.1:$2" --redis "redis://127.0.0.1:$1" >"$LOCAL/redis-rest-$2.log" 2>&1 &
  STACK_PIDS+=($!)
  wait_for_port "$2" redis-rest-server
}

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"

# PostgreSQL refuses to run as root: when we are root, the cluster belongs to `postgres`.
pg_as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() { # data dir, port
  PG_DATA="$1"
  local port="$2"
  mkdir -p "$(dirname "$PG_DATA")"
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$(dirname "$PG_DATA")"; then
    echo "postgres cannot reach $(dirname "$PG_DATA") (a parent folder is private); move the checkout or set SBA_PG_DIR" >&2
    return 1
  fi
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    mkdir -p "$PG_DATA"
    local pwfile="$PG_DATA.pw"
    echo "$PG_PASSWORD" >"$pwfile"
    if [[ $(id -u) == 0 ]]; then chown postgres "$PG_DATA" "$pwfile"; fi
    pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
  fi
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  pg_psql "$port" postgres -tAc "select 1 from pg_database where datname = '$PG_DATABASE'" | grep -q 1 \
    || pg_psql "$port" postgres -c "create database $PG_DATABASE" >/dev/null
}

pg_psql() { # port, database, psql args…
  local port="$1" db="$2"; shift 2
  PGPASSWORD="$PG_PASSWORD" PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

pg_url() { echo "postgres://postgres:$PG_PASSWORD@127.0.0.1:$1/$PG_DATABASE"; }

# Applies supabase/migrations/*.sql in name order, each in one transaction, once.
pg_migrate() { # port
  local port="$1" file version
  pg_psql "$port" "$PG_DATABASE" -c "create schema if not exists sba_meta;
    create table if not exists sba_meta.schema_migrations (version text primary key, applied_at timestamptz not null default now())"
  shopt -s nullglob
  for file in "$ROOT"/supabase/migrations/*.sql; do
    version="$(basename "$file" .sql)"
    if ! pg_psql "$port" "$PG_DATABASE" -tAc "select 1 from sba_meta.schema_migrations where version = '$version'" | grep -q 1; then
      say "migration $version"
      pg_psql "$port" "$PG_DATABASE" -1 -f "$file" \
        -c "insert into sba_meta.schema_migrations (version) values ('$version')"
    fi
  done
  shopt -u nullglob
}

# A throwaway stack on free ports (scripts/test, scripts/bench): data under /tmp, where the
# postgres user can reach it even when the checkout sits in a private home folder. Exports
# the SBA_* variables the native and end-to-end tests read. Stopped on exit.
stack_start_throwaway() { # rest server binary
  local rest_bin="$1"
  RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sba-stack.XXXXXX")"
  chmod 755 "$RUN_DIR"
  trap 'stack_stop; rm -rf "$RUN_DIR"' EXIT
  trap 'exit 130' INT TERM
  local redis_port rest_port pg_port
  redis_port="$(free_port)"; rest_port="$(free_port)"; pg_port="$(free_port)"
  say "local stack: redis $redis_port, REST $rest_port, postgres $pg_port"
  redis_start "$RUN_DIR/redis" "$redis_port"
  # What tests/bench/outage.sh needs to stop and start this redis-server and Postgres again
  # (scripts/bench's soak); nothing else reads these.
  export SBA_STACK_REDIS_PORT="$redis_port" SBA_STACK_REDIS_DIR="$RUN_DIR/redis" SBA_STACK_REDIS_PID="${STACK_PIDS[-1]}"
  export SBA_STACK_PG_DATA="$RUN_DIR/pg"
  REST_BIN="$rest_bin" rest_start "$redis_port" "$rest_port"
  pg_start "$RUN_DIR/pg" "$pg_port"
  pg_migrate "$pg_port"
  export SBA_REDIS_URL="redis://127.0.0.1:$redis_port"
  export SBA_REDIS_REST_URL="http://127.0.0.1:$rest_port"
  export SBA_REDIS_REST_TOKEN="$REDIS_REST_TOKEN"
  export SBA_POSTGRES_URL; SBA_POSTGRES_URL="$(pg_url "$pg_port")"
  export SBA_PG_PORT="$pg_port"
}
