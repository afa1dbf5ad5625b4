# Shared set-up for scripts/test, scripts/run and scripts/bench: Debian packages, the virtualenv, and a
# throwaway PostgreSQL server of our own on 127.0.0.1.

# Start the private server. Sets PG_URL (server-level URL, database "postgres") and stops and removes the server on exit.
# Arguments: extra server options, e.g. "-c fsync=off" for tests.
start_private_postgres() {
  local opts="${1:-}"
  PG_BIN=$(dirname "$(compgen -G "/usr/lib/postgresql/*/bin/initdb" | sort -V | tail -n1)")
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fanzha-pg.XXXXXX")
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; fi
  trap stop_private_postgres EXIT
  _as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U fanzha -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start \
    -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 $opts" >/dev/null
  PG_URL="postgresql+psycopg://fanzha@127.0.0.1:$PG_PORT/postgres"
  echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

stop_private_postgres() {
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

_as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Start a throwaway Redis of our own on 127.0.0.1 (no persistence). Sets REDIS_URL; stops and removes it on exit
# (added to any EXIT trap already set, so call it after start_private_postgres).
start_private_redis() {
  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fanzha-redis.XXXXXX")
  REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  _add_exit_trap stop_private_redis
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$REDIS_DIR" --save '' \
    --appendonly no --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" >/dev/null
  local i
  for i in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { cat "$REDIS_DIR/redis.log"; return 1; }
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  echo "== Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$REDIS_PORT"
}

stop_private_redis() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$REDIS_DIR"
}

_add_exit_trap() {
  local previous
  previous=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
  # shellcheck disable=SC2064
  trap "${previous:+$previous; }$1" EXIT
}

# Install the Debian packages named, if missing (root, or sudo).
ensure_debian_packages() {
  [ $# -gt 0 ] || return 0
  echo "== installing $*"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
  local log; log=$(mktemp)
  # This machine's pip config names local wheel folders that may be absent: those warnings are noise.
  if ! python -m pip install -q --disable-pip-version-check -e "${1:-.}" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; echo "pip install failed" >&2; return 1
  fi
  grep -v -i "warning" "$log" || true
  rm -f "$log"
}
