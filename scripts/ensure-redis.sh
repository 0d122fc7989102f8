#!/usr/bin/env bash
# Make sure a Redis answers before tests run (the state store's tests and the multi-worker scenarios).
# Order: the Redis named by KOMO_BRAZE_TEST_REDIS_URL (default localhost:6379) if it answers; else a local
# redis-server (installed with apt when root and apt are available); else Docker Compose where an engine
# runs; else stop and say what to install.
# With --with-server, also make sure `redis-server` is installed: the tests that must kill a Redis start
# one of their own on another port (tests/own_redis.py), even when the shared one runs in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/apt.sh
. scripts/apt.sh

install_server() {
  apt_install redis redis-server
}

if [ "${1:-}" = "--with-server" ] && ! command -v redis-server >/dev/null 2>&1; then
  install_server
  command -v redis-server >/dev/null 2>&1 || {
    echo "redis: the tests need redis-server installed (Debian: apt-get install redis-server)" >&2
    exit 1
  }
fi

url="${KOMO_BRAZE_TEST_REDIS_URL:-redis://localhost:6379/0}"
hostport=$(python3 - "$url" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(f"{u.hostname or 'localhost'} {u.port or 6379}")
PY
)
read -r host port <<<"$hostport"

answers() {
  python3 - "$host" "$port" <<'PY'
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(64).startswith((b"+PONG", b"-NOAUTH")) else 1)
except OSError:
    sys.exit(1)
PY
}

wait_for_redis() {
  for _ in $(seq 1 30); do
    if answers; then return 0; fi
    sleep 1
  done
  return 1
}

if answers; then
  echo "redis: Redis answers on $host:$port"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  install_server
fi

if command -v redis-server >/dev/null 2>&1; then
  echo "redis: nothing on $host:$port; starting a local redis-server"
  redis-server --bind "$host" --port "$port" --daemonize yes --save "" --appendonly no >/dev/null
  wait_for_redis && { echo "redis: ready (local redis-server)"; exit 0; }
  echo "redis: redis-server was started but did not answer on $host:$port in 30 s" >&2
  exit 1
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "redis: nothing on $host:$port; starting Redis with Docker Compose"
  docker compose up -d redis
  wait_for_redis && { echo "redis: ready (Docker Compose)"; exit 0; }
  echo "redis: Docker Compose started Redis but it did not answer in 30 s" >&2
  exit 1
fi

cat >&2 <<MSG
redis: no Redis answers on $host:$port and none could be started.
Install one of: Debian's redis-server package ('apt-get install redis-server'), or Docker with Compose
(then 'docker compose up -d redis'), or point KOMO_BRAZE_TEST_REDIS_URL at a Redis.
MSG
exit 1
