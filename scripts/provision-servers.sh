#!/usr/bin/env bash
# Make sure the real servers used by the integration tests are installed (idempotent).
#
# The tests start their own private instances on free loopback ports with temporary
# data directories, so any system-wide service the packages may have started is
# neither needed nor touched.
set -euo pipefail

# binary name -> Debian package that ships it
declare -A PKG_OF=(
    [mosquitto]=mosquitto
    [influxd]=influxdb
    [victoria-metrics]=victoria-metrics
)
BINARIES=(mosquitto influxd victoria-metrics)

# mosquitto lives in /usr/sbin, which is not on a normal user's PATH.
find_bin() {
    local name=$1 dir
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        return 0
    fi
    for dir in /usr/sbin /usr/local/sbin /sbin; do
        if [[ -x "$dir/$name" ]]; then
            echo "$dir/$name"
            return 0
        fi
    done
    return 1
}

missing_pkgs=()
for bin in "${BINARIES[@]}"; do
    if ! find_bin "$bin" >/dev/null; then
        missing_pkgs+=("${PKG_OF[$bin]}")
    fi
done

if ((${#missing_pkgs[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "provision-servers: installing ${missing_pkgs[*]}"
        bash "$(dirname "$0")/wait-apt-lock.sh"
        apt-get -o DPkg::Lock::Timeout=600 update
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing_pkgs[@]}"
    else
        echo "provision-servers: missing Debian packages: ${missing_pkgs[*]}" >&2
        echo "install them with:" >&2
        echo "    sudo apt-get install mosquitto influxdb victoria-metrics" >&2
        exit 1
    fi
fi

# One line per server. The package version is reported because the victoria-metrics
# Debian build prints an empty version string.
for bin in "${BINARIES[@]}"; do
    path=$(find_bin "$bin") || {
        echo "provision-servers: $bin still not found after install" >&2
        exit 1
    }
    pkg=${PKG_OF[$bin]}
    version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo unknown)
    echo "provision-servers: $bin $version ($path)"
done
