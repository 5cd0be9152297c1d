#!/usr/bin/env bash
# Install (or remove) battwatch as a hardened systemd service on a Raspberry Pi; idempotent.
#
#   sudo scripts/install-pi.sh                 install or update from this checkout
#   sudo scripts/install-pi.sh --uninstall     remove service, udev rule, venv and user;
#                                              keep /etc/battwatch and /var/lib/battwatch
#   sudo scripts/install-pi.sh --uninstall --purge     ... and delete those too
#   scripts/install-pi.sh --root /tmp/scratch  everything under /tmp/scratch; no system
#                                              command is run, each one is printed instead
#
# What it does: a `battwatch` system user in `dialout`; a virtual environment in
# /opt/battwatch with this checkout pip-installed; /etc/battwatch/battwatch.toml from
# config/battwatch.example.toml (only if missing, checked with `battwatch check-config`);
# /etc/battwatch/credentials (root only, for LoadCredential=); the unit and the udev rule from
# systemd/; a /usr/local/bin/battwatch link; then systemctl daemon-reload, enable, (re)start
# and udevadm reload. Running it again changes only what differs.

set -euo pipefail
# The service user must be able to read the venv and the unit: a root umask of 077 (hardened
# systems) would make /opt/battwatch unreadable to it. Modes that matter are set explicitly.
umask 022

usage() {
    cat <<'EOF'
usage: install-pi.sh [--root DIR] [--source DIR] [--python PY] [--vehicle ID]
                     [--no-venv] [--pure] [--no-start] [--uninstall [--purge]]

  --root DIR     install into DIR instead of / (for tests and images); system commands
                 (useradd, chown, systemctl, udevadm) are printed, not run
  --source DIR   battwatch checkout to install (default: the one this script is in)
  --python PY    Python 3.11+ for the virtual environment (default: python3)
  --vehicle ID   vehicle id for a new configuration (default: the host name)
  --no-venv      skip the virtual environment (files only)
  --pure         leave the core as plain Python instead of compiling it with mypyc
                 (the default below 1 GB of RAM, e.g. a Pi Zero 2 W: the build needs
                 about 350 MB and gcc; only replay and report speed differ)
  --no-start     enable the service but do not (re)start it
  --uninstall    remove the service, udev rule, virtual environment and user
  --purge        with --uninstall: also delete /etc/battwatch and /var/lib/battwatch
EOF
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=""
SRC=$(cd "$SCRIPT_DIR/.." && pwd)
PYTHON=python3
VEHICLE=""
WITH_VENV=1
PURE=auto
START=1
ACTION=install
PURGE=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
        --source) SRC=${2:?--source needs a directory}; shift 2 ;;
        --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
        --vehicle) VEHICLE=${2:?--vehicle needs an id}; shift 2 ;;
        --no-venv) WITH_VENV=0; shift ;;
        --pure) PURE=1; shift ;;
        --no-start) START=0; shift ;;
        --uninstall) ACTION=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-pi.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "install-pi.sh: $*" >&2; exit 1; }

if [[ $PURGE -eq 1 && $ACTION != uninstall ]]; then die "--purge goes with --uninstall"; fi
if [[ -n "$VEHICLE" && ! "$VEHICLE" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
    die "--vehicle $VEHICLE: use letters, digits, - _ . (up to 64, starting with a letter or digit)"
fi
if [[ -n "$ROOT" ]]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    # "/" would mean the real system while skipping its commands: refuse the mix
    [[ "$ROOT" != "/" ]] || die "--root / is the real system: leave --root out"
fi
if [[ -z "$ROOT" && $(id -u) -ne 0 ]]; then die "run as root (sudo), or use --root DIR"; fi
if [[ -z "$ROOT" ]] && ! command -v systemctl >/dev/null; then die "systemd is required"; fi

USER_NAME=battwatch
VENV=/opt/battwatch
ETC=/etc/battwatch
CREDS=$ETC/credentials
CONFIG=$ETC/battwatch.toml
STATE=/var/lib/battwatch
UNIT=/etc/systemd/system/battwatch.service
RULE=/etc/udev/rules.d/99-battwatch-adc.rules
CLI_LINK=/usr/local/bin/battwatch
STAMP=$VENV/.battwatch-source.sha256

CHANGES=0
UNIT_CHANGED=0
RULE_CHANGED=0
CODE_CHANGED=0

changed() { echo "  changed: $*"; CHANGES=$((CHANGES + 1)); }
same() { echo "  ok:      $*"; }
# A command that changes the running system: printed under --root, run otherwise.
sys() {
    if [[ -n "$ROOT" ]]; then
        echo "  would run: $*"
    else
        echo "  run: $*"
        "$@"
    fi
}

# install_file SOURCE DEST MODE: copy when content or mode differ; returns 0 if it changed
install_file() {
    local src=$1 dest=$ROOT$2 mode=$3
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest" && [[ $(stat -c %a "$dest") == "${mode#0}" ]]; then
        same "$2"
        return 1
    fi
    install -D -m "$mode" "$src" "$dest"
    changed "$2"
    return 0
}

ensure_dir() {
    local dir=$ROOT$1 mode=$2
    if [[ -d "$dir" && $(stat -c %a "$dir") == "${mode#0}" ]]; then
        same "$1/"
    else
        install -d -m "$mode" "$dir"
        changed "$1/"
    fi
}

# snapshot_source DIR: what pip installs, copied out of the checkout. pip builds in the
# source tree (build/, *.egg-info), and the checkout may change while we work: both are
# reasons to fingerprint and build a copy.
snapshot_source() {
    local extra=() f
    for f in README.md LICENSE; do if [[ -f "$SRC/$f" ]]; then extra+=("$f"); fi; done
    tar -C "$SRC" --exclude=__pycache__ --exclude='*.egg-info' --exclude=build \
        --exclude='*.so' -cf - pyproject.toml setup.py daemon "${extra[@]}" | tar -C "$1" -xf -
}

fingerprint() {
    # the files plus the interpreter: a new Python needs a new install too
    (
        cd "$1"
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        "$PYTHON" -c 'import sys; print(sys.version)'
    ) | sha256sum | cut -d' ' -f1
}

default_vehicle() {
    local h
    h=$(hostname -s 2>/dev/null || echo car)
    h=$(printf '%s' "$h" | tr -c 'A-Za-z0-9_.-' '-' | sed 's/^[^A-Za-z0-9]*//' | cut -c1-64)
    echo "${h:-car}"
}

# The example configuration with this car's id and without the example car's facts
# (model, site, owner group, battery install dates: wrong dates would mean wrong age alerts).
config_skeleton() {
    local example=$SRC/config/battwatch.example.toml
    [[ -f "$example" ]] || die "$example missing"
    cat <<EOF
# Written by scripts/install-pi.sh from config/battwatch.example.toml. Fill in the battery
# install dates (ages and remaining life depend on them) and, after calibrating, the gains.
# Then: battwatch check-config && sudo systemctl restart battwatch
# Every key is described in the README's configuration reference.
EOF
    # the example's own header (copy me, adapt me) is dropped: this file is the copy
    awk -v id="$1" '
        !body && /^#/ { next }
        { body = 1 }
        /^\[/ { section = $0 }
        section == "[vehicle]" && /^id[ \t]*=/ { print "id = \"" id "\""; next }
        /^(model|site|owner_group|installed)[ \t]*=/ { print "#" $0; next }
        { print }
    ' "$example"
    cat <<'EOF'

# Optional sinks. Secrets never go in this file: put them in /etc/battwatch/credentials/
# (files mqtt-password, influx-token, influx-password; root only) and systemd hands them
# to the daemon through LoadCredential=.
#[mqtt]
#host = "broker.example.org"
#username = "battwatch"
#
#[influx]
#url = "http://influx.example.org:8086"
#org = "home"
#bucket = "battwatch"
EOF
}

check_python() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (try --python)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is older than 3.11 (Raspberry Pi OS Bookworm has 3.11)"
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
        || die "$PYTHON cannot make virtual environments: sudo apt install python3-venv"
}

# -- install ------------------------------------------------------------------------------

install_user() {
    if [[ -n "$ROOT" ]]; then
        sys useradd --system --user-group --no-create-home --home-dir "$STATE" \
            --shell /usr/sbin/nologin --groups dialout "$USER_NAME" "(if missing)"
        return
    fi
    if id -u "$USER_NAME" >/dev/null 2>&1; then
        if id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx dialout; then
            same "user $USER_NAME (in dialout)"
        else
            sys usermod -a -G dialout "$USER_NAME"
            changed "user $USER_NAME added to dialout"
        fi
    else
        sys useradd --system --user-group --no-create-home --home-dir "$STATE" \
            --shell /usr/sbin/nologin --groups dialout --comment "battwatch daemon" "$USER_NAME"
        changed "user $USER_NAME"
    fi
}

install_venv() {
    if [[ $WITH_VENV -eq 0 ]]; then
        echo "  skipped: virtual environment (--no-venv)"
        return
    fi
    check_python
    local venv=$ROOT$VENV tmp fp ok=1
    tmp=$(mktemp -d)
    snapshot_source "$tmp"
    fp=$(fingerprint "$tmp")
    if [[ -x "$venv/bin/battwatch" && -f "$ROOT$STAMP" && $(cat "$ROOT$STAMP") == "$fp" ]]; then
        rm -rf "$tmp"
        same "$VENV (battwatch from $SRC, unchanged)"
        return
    fi
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        "$PYTHON" -m venv --clear "$venv"
    fi
    if [[ $PURE == auto ]]; then
        local mem_kb
        mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
        if [[ ${mem_kb:-0} -lt 1000000 ]]; then PURE=1; else PURE=0; fi
    fi
    if [[ $PURE -eq 1 ]]; then
        echo "  core: plain Python (--pure, or less than 1 GB of RAM)"
    else
        echo "  core: compiling with mypyc (a few minutes on a Pi; --pure skips it)"
    fi
    BATTWATCH_PURE=$([[ $PURE -eq 1 ]] && echo 1 || echo "") \
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$tmp" || ok=0
    rm -rf "$tmp"
    [[ $ok -eq 1 ]] || die "pip install failed"
    echo "$fp" >"$ROOT$STAMP"
    CODE_CHANGED=1
    changed "$VENV (battwatch from $SRC)"
}

install_config() {
    ensure_dir "$ETC" 0755
    ensure_dir "$CREDS" 0700
    if [[ -e "$ROOT$CONFIG" ]]; then
        same "$CONFIG (kept as it is)"
    else
        local vehicle=${VEHICLE:-$(default_vehicle)} tmp
        tmp=$(mktemp)
        config_skeleton "$vehicle" >"$tmp"
        grep -q "^id = \"$vehicle\"" "$tmp" || { rm -f "$tmp"; die "could not set the vehicle id: has the example changed?"; }
        install -m 0640 "$tmp" "$ROOT$CONFIG"
        rm -f "$tmp"
        changed "$CONFIG (new, vehicle $vehicle)"
    fi
    # the daemon reads its config as the battwatch user; others need not (it may name files)
    if [[ -n "$ROOT" ]]; then
        sys chown "root:$USER_NAME" "$ROOT$CONFIG"
    elif [[ $(stat -c %U:%G "$CONFIG") != "root:$USER_NAME" ]]; then
        sys chown "root:$USER_NAME" "$CONFIG"
        changed "$CONFIG owner root:$USER_NAME"
    fi
}

check_config() {
    local bw=$ROOT$VENV/bin/battwatch
    if [[ ! -x "$bw" ]]; then
        echo "  skipped: check-config (no virtual environment)"
        return 0
    fi
    if "$bw" check-config -c "$ROOT$CONFIG"; then
        return 0
    fi
    echo "install-pi.sh: $CONFIG has problems (listed above); fix them, then: sudo systemctl restart battwatch" >&2
    return 1
}

install_cli_link() {
    local link=$ROOT$CLI_LINK
    if [[ -L "$link" && $(readlink "$link") == "$VENV/bin/battwatch" ]]; then
        same "$CLI_LINK -> $VENV/bin/battwatch"
    elif [[ -e "$link" && ! -L "$link" ]]; then
        echo "  left alone: $CLI_LINK exists and is not our link"
    else
        mkdir -p "$(dirname "$link")"
        ln -sfn "$VENV/bin/battwatch" "$link"
        changed "$CLI_LINK -> $VENV/bin/battwatch"
    fi
}

do_install() {
    echo "battwatch install into ${ROOT:-/} from $SRC"
    install_user
    install_venv
    install_config
    if install_file "$SRC/systemd/battwatch.service" "$UNIT" 0644; then UNIT_CHANGED=1; fi
    if install_file "$SRC/systemd/99-battwatch-adc.rules" "$RULE" 0644; then RULE_CHANGED=1; fi
    install_cli_link
    local config_ok=1
    check_config || config_ok=0

    if [[ $UNIT_CHANGED -eq 1 || -n "$ROOT" ]]; then sys systemctl daemon-reload; fi
    if [[ -n "$ROOT" ]] || ! systemctl is-enabled --quiet battwatch.service 2>/dev/null; then
        sys systemctl enable battwatch.service
    fi
    if [[ $RULE_CHANGED -eq 1 || -n "$ROOT" ]]; then
        sys udevadm control --reload
        sys udevadm trigger --action=add --subsystem-match=tty
    fi
    if [[ ! -x "$ROOT$VENV/bin/battwatch" ]]; then
        echo "  skipped: start (no $VENV/bin/battwatch yet)"
    elif [[ $START -eq 1 && $config_ok -eq 1 ]]; then
        if [[ -n "$ROOT" ]] || ! systemctl is-active --quiet battwatch.service; then
            sys systemctl start battwatch.service
        elif [[ $UNIT_CHANGED -eq 1 || $CODE_CHANGED -eq 1 ]]; then
            sys systemctl restart battwatch.service
        fi
    fi
    echo "done: $CHANGES change(s)"
    [[ $config_ok -eq 1 ]] || exit 1
}

# -- uninstall ----------------------------------------------------------------------------

remove_path() {
    local path=$ROOT$1
    if [[ -e "$path" || -L "$path" ]]; then
        rm -rf -- "$path"
        changed "removed $1"
    else
        same "$1 already absent"
    fi
}

do_uninstall() {
    echo "battwatch uninstall from ${ROOT:-/}"
    if [[ -n "$ROOT" ]] || systemctl cat battwatch.service >/dev/null 2>&1; then
        sys systemctl disable --now battwatch.service
    fi
    remove_path "$UNIT"
    sys systemctl daemon-reload
    remove_path "$RULE"
    sys udevadm control --reload
    if [[ -L "$ROOT$CLI_LINK" && $(readlink "$ROOT$CLI_LINK") == "$VENV/bin/battwatch" ]]; then
        remove_path "$CLI_LINK"
    fi
    remove_path "$VENV"
    if [[ -n "$ROOT" ]]; then
        sys userdel "$USER_NAME" "(if present)"
    elif id -u "$USER_NAME" >/dev/null 2>&1; then
        sys userdel "$USER_NAME"
        changed "user $USER_NAME removed"
    fi
    if [[ $PURGE -eq 1 ]]; then
        remove_path "$ETC"
        remove_path "$STATE"
    else
        echo "  kept:    $ETC and $STATE (configuration, credentials, store; --purge deletes them)"
    fi
    echo "done: $CHANGES change(s)"
}

[[ -f "$SRC/pyproject.toml" && -f "$SRC/systemd/battwatch.service" ]] \
    || die "$SRC is not a battwatch checkout (try --source)"

case $ACTION in
    install) do_install ;;
    uninstall) do_uninstall ;;
esac
