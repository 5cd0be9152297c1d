#!/usr/bin/env bash
# A separate venv with the oldest Home Assistant battwatch supports (HA_VERSION), so the
# discovery payloads are checked against that release's own MQTT schemas
# (tests/integration/test_ha_schemas.py). Cached: a second run only checks the stamp. It needs
# Python 3.11 and pip's index; it waits for nothing else. Prints the venv's python on stdout.
set -euo pipefail

HA_VERSION="${BATTWATCH_HA_VERSION:-2024.3}"
DIR="${BATTWATCH_HA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/battwatch/ha-$HA_VERSION}"
PYTHON="${BATTWATCH_HA_PYTHON:-python3.11}"
STAMP="$DIR/.installed-$HA_VERSION"

if [[ ! -f "$STAMP" ]]; then
    echo "provision-ha: installing homeassistant==$HA_VERSION.* into $DIR (a few minutes, once)" >&2
    mkdir -p "$(dirname "$DIR")"
    # another run may be installing the same venv (two test sessions): one at a time
    exec 9>"$DIR.lock"
    flock 9
    if [[ ! -f "$STAMP" ]]; then
        rm -rf "$DIR"
        "$PYTHON" -m venv "$DIR"
        # with the release's own pins (package_constraints.txt in its wheel): unpinned, pip
        # backtracks for a long time through newer bluetooth packages
        "$DIR/bin/pip" download --quiet --no-deps "homeassistant==$HA_VERSION.*" -d "$DIR/wheel" >&2
        wheel=$(ls "$DIR"/wheel/homeassistant-*.whl)
        "$DIR/bin/python" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(
"homeassistant/package_constraints.txt").decode())' "$wheel" > "$DIR/constraints.txt"
        "$DIR/bin/pip" install --quiet --progress-bar off -c "$DIR/constraints.txt" "$wheel" >&2
        # the MQTT integration's own requirements (paho-mqtt), as Home Assistant installs them
        mapfile -t reqs < <("$DIR/bin/python" -c '
import json, pathlib, homeassistant.components.mqtt as m
print("\n".join(json.loads((pathlib.Path(m.__file__).parent / "manifest.json").read_text())["requirements"]))')
        if ((${#reqs[@]} > 0)); then
            "$DIR/bin/pip" install --quiet --progress-bar off -c "$DIR/constraints.txt" "${reqs[@]}" >&2
        fi
        touch "$STAMP"
    fi
fi
echo "$DIR/bin/python"
