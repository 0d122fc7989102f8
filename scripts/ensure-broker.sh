#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers before tests or the demo run.
# Order: the broker named by KOMO_BRAZE_AMQP_URL (default localhost:5672) if it answers; else Docker
# Compose where an engine runs; else a local rabbitmq-server (installed with apt when root and apt
# are available); else stop and say what to install.
# With --with-server, also make sure `rabbitmq-server` is installed: the tests that must break a broker
# start a node of their own (tests/own_broker.py), even when the shared broker runs in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/apt.sh
. scripts/apt.sh

install_server() {
  apt_install broker rabbitmq-server
}

if [ "${1:-}" = "--with-server" ] && ! command -v rabbitmq-server >/dev/null 2>&1 \
    && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  install_server
  command -v rabbitmq-server >/dev/null 2>&1 || {
    echo "broker: the tests need rabbitmq-server installed (Debian: apt-get install rabbitmq-server)" >&2
    exit 1
  }
fi

url="${KOMO_BRAZE_AMQP_URL:-amqp://guest:guest@localhost:5672/}"
hostport=$(python3 - "$url" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(f"{u.hostname or 'localhost'} {u.port or 5672}")
PY
)
read -r host port <<<"$hostport"

answers() {
  python3 - "$host" "$port" <<'PY'
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
        s.sendall(b"AMQP\x00\x00\x09\x01")
        sys.exit(0 if s.recv(8) else 1)
except OSError:
    sys.exit(1)
PY
}

wait_for_broker() {
  for _ in $(seq 1 90); do
    if answers; then return 0; fi
    sleep 1
  done
  return 1
}

if answers; then
  echo "broker: RabbitMQ answers on $host:$port"
  exit 0
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "broker: nothing on $host:$port; starting RabbitMQ with Docker Compose"
  docker compose up -d rabbitmq
  wait_for_broker && { echo "broker: ready (Docker Compose)"; exit 0; }
  echo "broker: Docker Compose started RabbitMQ but it did not answer in 90 s" >&2
  exit 1
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  install_server
fi

if command -v rabbitmq-server >/dev/null 2>&1; then
  echo "broker: nothing on $host:$port; starting a local rabbitmq-server"
  rabbitmq-server -detached || true
  wait_for_broker && { echo "broker: ready (local rabbitmq-server)"; exit 0; }
  echo "broker: rabbitmq-server was started but did not answer on $host:$port in 90 s" >&2
  exit 1
fi

cat >&2 <<MSG
broker: no RabbitMQ answers on $host:$port and none could be started.
Install one of: Docker with Compose (then 'docker compose up -d rabbitmq'), or Debian's
rabbitmq-server package ('apt-get install rabbitmq-server'), or point KOMO_BRAZE_AMQP_URL at a broker.
MSG
exit 1
