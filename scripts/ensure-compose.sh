#!/usr/bin/env bash
# Make sure `docker-compose` is here: the tests validate docker-compose.yml with `docker-compose config`
# (no Docker engine is needed for that). Debian's docker-compose package, installed with apt when root
# and apt are available.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "compose: installing Debian's docker-compose package with apt"
  # wait for another apt run on this machine rather than fail on its lock
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends docker-compose >/dev/null
fi
command -v docker-compose >/dev/null 2>&1 || {
  echo "compose: the tests need docker-compose (Debian: apt-get install docker-compose)" >&2
  exit 1
}
