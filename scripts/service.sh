# Sourced by scripts/ensure-broker.sh and scripts/ensure-redis.sh (ensure-prometheus.sh uses the address
# and the wait): where the service a URL names listens, whether it answers there, its server installed.
# service_address URL DEFAULT_PORT: sets host and port from URL (localhost, DEFAULT_PORT where it has none).
# service_answers PROTOCOL: whether a RabbitMQ (amqp) or a Redis (redis) answers on $host:$port.
# wait_until SECONDS COMMAND...: runs COMMAND once a second until it succeeds, at most SECONDS times.
# need_server LABEL PROGRAM [ALSO_AT]: unless PROGRAM is on PATH (or executable at ALSO_AT), installs the
#   Debian package of that name (scripts/apt.sh) or stops, saying what to install.

# shellcheck source=scripts/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

service_address() {
  local hostport
  hostport=$(python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(f"{u.hostname or 'localhost'} {u.port or sys.argv[2]}")
PY
)
  read -r host port <<<"$hostport"
}

service_answers() {
  python3 - "$host" "$port" "$1" <<'PY'
import socket, sys
# what to send, and how an answer that shows the service is there begins (b"": any answer at all)
hello, answers = {
    "amqp": (b"AMQP\x00\x00\x09\x01", (b"",)),
    "redis": (b"PING\r\n", (b"+PONG", b"-NOAUTH")),
}[sys.argv[3]]
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
        s.sendall(hello)
        answer = s.recv(64)
except OSError:
    sys.exit(1)
sys.exit(0 if answer and answer.startswith(answers) else 1)
PY
}

wait_until() {
  local seconds=$1
  shift
  for _ in $(seq 1 "$seconds"); do
    if "$@"; then return 0; fi
    sleep 1
  done
  return 1
}

need_server() {
  local label=$1 program=$2 also_at=${3:-}
  if command -v "$program" >/dev/null 2>&1 || { [ -n "$also_at" ] && [ -x "$also_at" ]; }; then
    return 0
  fi
  apt_install "$label" "$program"
  command -v "$program" >/dev/null 2>&1 || {
    echo "$label: the tests need $program installed (Debian: apt-get install $program)" >&2
    exit 1
  }
}
