#!/usr/bin/env bash
# An outage of the throwaway stack's redis-server or Postgres, for tests/bench/soak.mjs:
# stops the service, keeps it down HOLD seconds, starts it again exactly as scripts/lib.sh
# started it (same port, folder and options), and returns once it accepts connections.
#
#   tests/bench/outage.sh redis|postgres [HOLD seconds, default 0]
#
# Needs the SBA_STACK_* variables stack_start_throwaway exports. Prints one line per phase
# ("stopped <epoch ms>", "started <epoch ms>") on stdout.
#   - redis-server: SIGTERM to its pid (the stack's own, or the one a previous outage started,
#     recorded in $SBA_STACK_REDIS_DIR/restarted.pid, which stack_stop stops at the end), then
#     lib.sh's redis_start (no persistence: a restarted Redis is empty, as in production with
#     persistence off).
#   - Postgres: `pg_ctl restart -m fast` as the cluster's owner (it reuses the options of the
#     running server, postmaster.opts) when HOLD is 0; else `pg_ctl stop -m fast`, HOLD
#     seconds, and `pg_ctl start -o` with the options read back from postmaster.opts. The
#     stack's PgBouncer in front of it keeps running: while Postgres is down it refuses
#     clients ("server login has been failing"), and it logs in again on the next client
#     once Postgres is back (server_login_retry = 1 s).
source "$(dirname "$0")/../../scripts/lib.sh"

service="${1:?redis or postgres}"
hold="${2:-0}"
now_ms() { date +%s%3N; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$service" in
  redis)
    : "${SBA_STACK_REDIS_PORT:?not set: run under stack_start_throwaway}" "${SBA_STACK_REDIS_DIR:?}" "${SBA_STACK_REDIS_PID:?}"
    dir="$SBA_STACK_REDIS_DIR"; port="$SBA_STACK_REDIS_PORT"
    pid="$SBA_STACK_REDIS_PID"
    [[ -f "$dir/restarted.pid" ]] && pid="$(cat "$dir/restarted.pid")"
    kill -TERM "$pid"
    echo "stopped $(now_ms)"
    # The stack's own redis-server is a child of scripts/bench's shell: it stays a zombie
    # until that shell reaps it, so wait for the port, not the pid.
    for _ in $(seq 1 100); do port_open "$port" || break; sleep 0.1; done
    if port_open "$port"; then echo "redis-server on $port did not stop" >&2; exit 1; fi
    rm -f "$dir/restarted.pid"
    sleep "$hold"
    # Detached from this script's stdout (node waits for it to close) and outliving it.
    redis_start "$dir" "$port" </dev/null >>"$dir/restart.log" 2>&1
    echo "${STACK_PIDS[-1]}" >"$dir/restarted.pid"
    echo "started $(now_ms)"
    ;;
  postgres)
    : "${SBA_STACK_PG_DATA:?not set: run under stack_start_throwaway}"
    data="$SBA_STACK_PG_DATA"
    if [[ "$hold" == 0 ]]; then
      echo "stopped $(now_ms)"
      pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w restart -l "$data/server.log" >/dev/null
    else
      # The running server's command line: the binary, then -D <dir>, then the options
      # lib.sh's pg_start gave with -o.
      eval "opts=($(cat "$data/postmaster.opts"))"
      options=("${opts[@]:3}")
      pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      echo "stopped $(now_ms)"
      sleep "$hold"
      pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -w -l "$data/server.log" -o "${options[*]}" start >/dev/null
    fi
    echo "started $(now_ms)"
    ;;
  *)
    echo "usage: $0 redis|postgres [hold seconds]" >&2
    exit 2
    ;;
esac
