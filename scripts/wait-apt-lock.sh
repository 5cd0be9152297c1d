#!/usr/bin/env bash
# Wait until no process holds the apt/dpkg locks, saying who holds them, then return.
#
# A freshly booted Debian or Raspberry Pi OS runs unattended-upgrades (or apt-daily) for
# minutes; apt-get would fail at once on the lock it holds. The holder is found in
# /proc/locks (the locks are POSIX record locks), so no extra tool is needed.
# APT_LOCKS overrides the lock files (for tests); APT_LOCK_WAIT_S caps the wait (default 1800).
set -euo pipefail

read -r -a LOCKS <<< "${APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}"
MAX_WAIT=${APT_LOCK_WAIT_S:-1800}

# holder FILE: "PID (COMMAND)" of a process holding a lock on FILE; fails when none does
holder() {
    local file=$1 ino fields pid
    [[ -e $file ]] || return 1
    ino=$(stat -c %i "$file")
    while read -r -a fields; do
        [[ ${fields[1]} == "->" ]] && continue  # a waiter, not the holder
        pid=${fields[4]}
        [[ ${fields[5]##*:} == "$ino" ]] || continue
        echo "$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo unknown))"
        return 0
    done < /proc/locks
    return 1
}

waited=0
said=""
while :; do
    busy=""
    for lock in "${LOCKS[@]}"; do
        if who=$(holder "$lock"); then
            busy="$lock held by process $who"
            break
        fi
    done
    [[ -z $busy ]] && break
    if [[ $busy != "$said" ]] || ((waited % 30 == 0)); then
        echo "provision: waiting for the package manager: $busy (${waited} s so far; a freshly booted machine runs unattended-upgrades)"
        said=$busy
    fi
    if ((waited >= MAX_WAIT)); then
        echo "provision: gave up after ${waited} s: $busy" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
if ((waited > 0)); then
    echo "provision: the package manager is free after ${waited} s"
fi
