#!/usr/bin/env bash
# Make sure `docker-compose` is here: the tests validate docker-compose.yml with `docker-compose config`
# (no Docker engine is needed for that). Debian's docker-compose package, installed with apt when root
# and apt are available.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install compose docker-compose
command -v docker-compose >/dev/null 2>&1 || {
  echo "compose: the tests need docker-compose (Debian: apt-get install docker-compose)" >&2
  exit 1
}
