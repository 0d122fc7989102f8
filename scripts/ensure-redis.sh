#!/usr/bin/env bash
# Make sure a Redis answers before tests run (the state store's tests and the multi-worker scenarios).
# Order: the Redis named by KOMO_BRAZE_TEST_REDIS_URL (default localhost:6379) if it answers; else a local
# redis-server (installed with apt when root and apt are available); else Docker Compose where an engine
# runs; else stop and say what to install.
# With --with-server, also make sure `redis-server` is installed: the tests that must kill a Redis start
# one of their own on another port (tests/own_redis.py), even when the shared one runs in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/service.sh
. scripts/service.sh

if [ "${1:-}" = "--with-server" ]; then
  need_server redis redis-server
fi

service_address "${KOMO_BRAZE_TEST_REDIS_URL:-redis://localhost:6379/0}" 6379

if service_answers redis; then
  echo "redis: Redis answers on $host:$port"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis redis-server
fi

if command -v redis-server >/dev/null 2>&1; then
  echo "redis: nothing on $host:$port; starting a local redis-server"
  redis-server --bind "$host" --port "$port" --daemonize yes --save "" --appendonly no >/dev/null
  wait_until 30 service_answers redis && { echo "redis: ready (local redis-server)"; exit 0; }
  echo "redis: redis-server was started but did not answer on $host:$port in 30 s" >&2
  exit 1
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "redis: nothing on $host:$port; starting Redis with Docker Compose"
  docker compose up -d redis
  wait_until 30 service_answers redis && { echo "redis: ready (Docker Compose)"; exit 0; }
  echo "redis: Docker Compose started Redis but it did not answer in 30 s" >&2
  exit 1
fi

cat >&2 <<MSG
redis: no Redis answers on $host:$port and none could be started.
Install one of: Debian's redis-server package ('apt-get install redis-server'), or Docker with Compose
(then 'docker compose up -d redis'), or point KOMO_BRAZE_TEST_REDIS_URL at a Redis.
MSG
exit 1
