#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers before tests or the demo run.
# Order: the broker named by KOMO_BRAZE_AMQP_URL (default localhost:5672) if it answers; else Docker
# Compose where an engine runs; else a local rabbitmq-server (installed with apt when root and apt
# are available); else stop and say what to install.
# With --with-server, also make sure `rabbitmq-server` is installed: the tests that must break a broker
# start a node of their own (tests/own_broker.py), even when the shared broker runs in Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/service.sh
. scripts/service.sh

if [ "${1:-}" = "--with-server" ]; then
  need_server broker rabbitmq-server /usr/lib/rabbitmq/bin/rabbitmq-server
fi

service_address "${KOMO_BRAZE_AMQP_URL:-amqp://guest:guest@localhost:5672/}" 5672

if service_answers amqp; then
  echo "broker: RabbitMQ answers on $host:$port"
  exit 0
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo "broker: nothing on $host:$port; starting RabbitMQ with Docker Compose"
  docker compose up -d rabbitmq
  wait_until 90 service_answers amqp && { echo "broker: ready (Docker Compose)"; exit 0; }
  echo "broker: Docker Compose started RabbitMQ but it did not answer in 90 s" >&2
  exit 1
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  apt_install broker rabbitmq-server
fi

if command -v rabbitmq-server >/dev/null 2>&1; then
  echo "broker: nothing on $host:$port; starting a local rabbitmq-server"
  rabbitmq-server -detached || true
  wait_until 90 service_answers amqp && { echo "broker: ready (local rabbitmq-server)"; exit 0; }
  echo "broker: rabbitmq-server was started but did not answer on $host:$port in 90 s" >&2
  exit 1
fi

cat >&2 <<MSG
broker: no RabbitMQ answers on $host:$port and none could be started.
Install one of: Docker with Compose (then 'docker compose up -d rabbitmq'), or Debian's
rabbitmq-server package ('apt-get install rabbitmq-server'), or point KOMO_BRAZE_AMQP_URL at a broker.
MSG
exit 1
