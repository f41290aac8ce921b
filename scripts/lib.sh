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

# Warns when the checkout's file system has less than $1 GB free: a first `scripts/test` from
# a clean clone writes about 4 GB (target/ 2.5, fuzz/target 0.9, node_modules 0.4), and a full
# disk shows up later as scattered ENOSPC failures that do not say what went wrong.
warn_low_disk() {
  local need_gb="$1" free_kb
  free_kb="$(df -Pk "$ROOT" 2>/dev/null | awk 'NR == 2 { print $4 }')"
  [[ -n "$free_kb" ]] || return 0
  if ((free_kb < need_gb * 1024 * 1024)); then
    printf '\033[1;33m==> warning: %s GB free on the file system of %s; a first run needs about %s GB (cargo clean or delete old clones)\033[0m\n' \
      "$((free_kb / 1024 / 1024))" "$ROOT" "$need_gb" >&2
  fi
}

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

# Where scripts/dev keeps the data of the servers that run as `postgres` (Postgres, PgBouncer):
# .local/, or, when we are root and postgres cannot reach .local/ (a checkout in /root or another
# private home), a folder under /var/tmp named after the checkout's path, so one checkout always
# finds its own data again. SBA_PG_DIR overrides Postgres' data folder.
dev_server_dir() {
  mkdir -p "$LOCAL"
  if [[ $(id -u) == 0 ]] && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
    local dir
    dir="/var/tmp/sba-dev-$(printf %s "$ROOT" | sha256sum | cut -c1-12)"
    mkdir -p "$dir" && chmod 755 "$dir"
    echo "$dir"
  else
    echo "$LOCAL"
  fi
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

# PgBouncer in front of Postgres, pooling as Cloudflare Hyperdrive does in production: a Worker
# opens a connection per request, but Postgres sees a few warm server connections, each lent
# for one transaction (pool_mode = transaction: named prepared statements and session state do
# not survive a transaction, so Worker code uses unnamed statements only). SBA_PGBOUNCER_POOL_MODE
# (default transaction) overrides the mode. Extra `key = value` settings for [pgbouncer]
# (e.g. a bench's) follow the ports and win over the defaults above them.
PGBOUNCER_POOL_SIZE=20
pgbouncer_start() { # dir, port, postgres port (or any upstream speaking the protocol), [key=value…]
  local dir="$1" port="$2" pg_port="$3"; shift 3
  command -v pgbouncer >/dev/null || { echo "pgbouncer is not installed (scripts/setup installs it)" >&2; return 1; }
  mkdir -p "$dir"
  # Descriptors: one per client plus the server connections; room for a burst of 10,000 Worker
  # connections when the hard limit allows (the soft limit is raised to it below).
  local nofile max_client
  nofile="$(ulimit -Hn)"; [[ "$nofile" == unlimited ]] && nofile=65536
  max_client=$((nofile - 256 < 12000 ? nofile - 256 : 12000))
  ((max_client >= 10000)) || echo "pgbouncer: max_client_conn $max_client (ulimit -Hn $nofile): a burst of 10,000 connections will be refused" >&2
  # The postgres user's SCRAM secret exactly as Postgres stores it (pg_authid), not the clear
  # password: from a clear password PgBouncer derives the salted key anew for every client login
  # (4,096 PBKDF2 rounds, ~3.5 ms of its one thread: a burst of 10,000 Worker connections would
  # queue behind 35 s of it). With the same secret as the server's, PgBouncer logs in to
  # Postgres with the keys of the client's own SCRAM exchange (SCRAM pass-through).
  local secret
  secret="$(pg_psql "$pg_port" postgres -tAc "select rolpassword from pg_authid where rolname = 'postgres'")"
  [[ "$secret" == SCRAM-SHA-256\$* ]] || { echo "pgbouncer: no SCRAM secret for postgres in pg_authid (got '${secret:0:16}…')" >&2; return 1; }
  printf '"postgres" "%s"\n' "$secret" >"$dir/userlist.txt"
  {
    echo "[databases]"
    echo "* = host=127.0.0.1 port=$pg_port"
    echo "[pgbouncer]"
    echo "listen_addr = 127.0.0.1"
    echo "listen_port = $port"
    echo "unix_socket_dir ="
    echo "pool_mode = ${SBA_PGBOUNCER_POOL_MODE:-transaction}"
    echo "default_pool_size = $PGBOUNCER_POOL_SIZE"
    echo "max_client_conn = $max_client"
    echo "listen_backlog = 4096"
    echo "auth_type = scram-sha-256"
    echo "auth_file = $dir/userlist.txt"
    # SHOW POOLS / SHOW STATS on the console: database `pgbouncer`, same user and password.
    echo "admin_users = postgres"
    echo "stats_users = postgres"
    # Sent by drivers (pgjdbc, psycopg, asyncpg…) and harmless to drop; tokio-postgres and
    # node-postgres send only what PgBouncer tracks (client_encoding, application_name).
    echo "ignore_startup_parameters = extra_float_digits"
    # A restarted Postgres is tried again after 1 s, not 15 (tests/bench/outage.sh).
    echo "server_login_retry = 1"
    # Errors only: no line per login, disconnection or minute of statistics.
    echo "log_connections = 0"
    echo "log_disconnections = 0"
    echo "log_stats = 0"
    local setting
    for setting in "$@"; do echo "${setting%%=*} = ${setting#*=}"; done
  } >"$dir/pgbouncer.ini"
  chmod 600 "$dir/userlist.txt" "$dir/pgbouncer.ini"
  local as=()
  # PgBouncer refuses to run as root: it drops to the cluster's owner itself (-u).
  if [[ $(id -u) == 0 ]]; then
    chown -R postgres "$dir"
    as=(-u postgres)
  fi
  ( ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
    exec pgbouncer "${as[@]}" "$dir/pgbouncer.ini" ) </dev/null >>"$dir/pgbouncer.log" 2>&1 &
  STACK_PIDS+=($!)
  local pid=$!
  wait_for_port "$port" pgbouncer 10 || { cat "$dir/pgbouncer.log" >&2; return 1; }
  kill -0 "$pid" 2>/dev/null || { echo "pgbouncer exited:" >&2; cat "$dir/pgbouncer.log" >&2; return 1; }
}

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
# postgres user can reach it even when the checkout sits in a private home folder; PgBouncer in
# front of Postgres (pgbouncer_start). Exports the SBA_* variables the native and end-to-end
# tests read. Stopped on exit.
stack_start_throwaway() { # rest server binary
  local rest_bin="$1"
  RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sba-stack.XXXXXX")"
  chmod 755 "$RUN_DIR"
  trap 'stack_stop; rm -rf "$RUN_DIR"' EXIT
  trap 'exit 130' INT TERM
  local redis_port rest_port pg_port pool_port
  redis_port="$(free_port)"; rest_port="$(free_port)"; pg_port="$(free_port)"; pool_port="$(free_port)"
  say "local stack: redis $redis_port, REST $rest_port, postgres $pg_port, pgbouncer $pool_port (${SBA_PGBOUNCER_POOL_MODE:-transaction})"
  redis_start "$RUN_DIR/redis" "$redis_port"
  # What tests/bench/outage.sh needs to stop and start this redis-server and Postgres again
  # (scripts/bench's soak); nothing else reads these.
  export SBA_STACK_REDIS_PORT="$redis_port" SBA_STACK_REDIS_DIR="$RUN_DIR/redis" SBA_STACK_REDIS_PID="${STACK_PIDS[-1]}"
  export SBA_STACK_PG_DATA="$RUN_DIR/pg"
  REST_BIN="$rest_bin" rest_start "$redis_port" "$rest_port"
  pg_start "$RUN_DIR/pg" "$pg_port"
  pg_migrate "$pg_port"
  pgbouncer_start "$RUN_DIR/pgbouncer" "$pool_port" "$pg_port"
  export SBA_REDIS_URL="redis://127.0.0.1:$redis_port"
  export SBA_REDIS_REST_URL="http://127.0.0.1:$rest_port"
  export SBA_REDIS_REST_TOKEN="$REDIS_REST_TOKEN"
  # Direct (native tests, migrations, psql, assertions that count backends) and pooled (what
  # every Worker's Hyperdrive binding gets, as deployed).
  export SBA_POSTGRES_URL; SBA_POSTGRES_URL="$(pg_url "$pg_port")"
  export SBA_POSTGRES_POOLED_URL; SBA_POSTGRES_POOLED_URL="$(pg_url "$pool_port")"
  export SBA_PG_PORT="$pg_port" SBA_PGBOUNCER_PORT="$pool_port"
}
