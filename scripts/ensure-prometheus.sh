#!/usr/bin/env bash
# Make sure the monitoring tools the tests use are here:
# - `prometheus` and `promtool` (Debian's prometheus package, installed with apt when root and apt are
#   available): `promtool check metrics|rules`, `promtool test rules`, and the scrape test that starts
#   a Prometheus of its own on loopback;
# - RabbitMQ's own Prometheus plugin on the broker the tests use (port 15692), which the alert rules
#   and the dashboard read queue depth and consumers from. Enabling a plugin changes no queue or
#   connection: `rabbitmq-plugins enable rabbitmq_prometheus` starts one more listener on the node.
set -euo pipefail

# shellcheck source=scripts/service.sh
. "$(dirname "$0")/service.sh"

prometheus_bin() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
}

if ! prometheus_bin; then
  apt_install prometheus prometheus
  prometheus_bin || {
    echo "prometheus: the tests need prometheus and promtool (Debian: apt-get install prometheus)" >&2
    exit 1
  }
fi

# the broker the tests use: KOMO_BRAZE_AMQP_URL's host (default localhost), plugin port 15692
service_address "${KOMO_BRAZE_AMQP_URL:-amqp://guest:guest@localhost:5672/}" 5672

plugin_answers() {
  python3 - "$host" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:15692/metrics", timeout=3) as r:
        sys.exit(0 if r.status == 200 else 1)
except OSError:
    sys.exit(1)
PY
}

if plugin_answers; then
  echo "prometheus: RabbitMQ's prometheus plugin answers on $host:15692"
  exit 0
fi
# rabbitmq-plugins changes the node on this machine: only when the tests' broker is that node
if { [ "$host" = localhost ] || [ "$host" = 127.0.0.1 ]; } && command -v rabbitmq-plugins >/dev/null 2>&1; then
  echo "prometheus: enabling RabbitMQ's prometheus plugin (rabbitmq-plugins enable rabbitmq_prometheus)"
  rabbitmq-plugins enable rabbitmq_prometheus >/dev/null
  wait_until 30 plugin_answers && exit 0
fi
cat >&2 <<MSG
prometheus: RabbitMQ's prometheus plugin does not answer on $host:15692.
Enable it on the broker: rabbitmq-plugins enable rabbitmq_prometheus
MSG
exit 1
