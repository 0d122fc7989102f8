#!/usr/bin/env bash
# Makes sure the command-line tools README's examples use are installed (tests/test_readme.py runs
# them): curl and jq, installed with apt when root and apt is there, else a message saying what to install.
set -euo pipefail

find_missing() {
  missing=()
  for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
}

find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install tools "${missing[@]}"
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
echo "tools: README's examples need ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
exit 1
