#!/usr/bin/env bash
# Make sure the firmware's toolchain and simulator are installed (idempotent), as
# provision-servers.sh does for the servers: gcc-avr and avr-libc build the ATmega328P
# firmware, simavr with libsimavr-dev and libelf-dev build board-sim, which runs it.
set -euo pipefail

PKGS=(gcc-avr avr-libc simavr libsimavr-dev libelf-dev)

missing=()
for pkg in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "provision-firmware: installing ${missing[*]}"
        # another apt (unattended upgrades, a parallel provisioning) may hold the lock: wait for it
        bash "$(dirname "$0")/wait-apt-lock.sh"
        apt-get -o DPkg::Lock::Timeout=600 update
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
            --no-install-recommends "${missing[@]}"
    else
        echo "provision-firmware: missing Debian packages: ${missing[*]}" >&2
        echo "install them with:" >&2
        echo "    sudo apt-get install ${PKGS[*]}" >&2
        exit 1
    fi
fi

for pkg in "${PKGS[@]}"; do
    echo "provision-firmware: $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
done
