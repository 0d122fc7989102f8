# Sourced by the scripts/ensure-*.sh scripts: install Debian packages the tests need.
# apt_install LABEL PACKAGE...: with apt as root, installs the packages (without recommends), waiting for
# another apt run on this machine rather than failing on its lock; elsewhere it does nothing, and the
# caller says what to install. The package lists are refreshed before a script's first install.

apt_install() {
  local label=$1
  shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 0
  fi
  echo "$label: installing $* with apt"
  if [ -z "${apt_lists_updated:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_lists_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$@" >/dev/null
}
