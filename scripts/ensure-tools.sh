#!/usr/bin/env bash
# Makes sure the command-line tools README's examples use are installed (tests/test_readme.py runs
# them): curl and jq, installed with apt when root and apt is there, else a message saying what to install.
set -euo pipefail

missing=()
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tools: installing ${missing[*]} with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "tools: README's examples need ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
exit 1
