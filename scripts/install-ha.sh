#!/bin/sh
# Installs the Home Assistant rig of tests/integration/test_home_assistant.py: Mosquitto (Debian) and a
# virtual environment with the pinned Home Assistant (tests/rigs/ha/requirements.txt, PyPI) in
# ${XDG_CACHE_HOME:-~/.cache}/pw2mqtt-rigs/home-assistant-VERSION. Does nothing when it is there.
# Home Assistant needs CPython 3.13: PW2MQTT_HA_PYTHON, else python3.13, else pyenv's newest 3.13.
set -eu
. "$(dirname "$0")/rigs-common.sh"
"$ROOT/scripts/install-mosquitto.sh"
HOME_DIR=$RIGS_CACHE/home-assistant-$HA_VERSION
VENV=$HOME_DIR/venv
STAMP=$HOME_DIR/.installed
if [ -f "$STAMP" ] && cmp -s "$ROOT/tests/rigs/ha/requirements.txt" "$STAMP"; then
    exit 0
fi
is_313() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; }
python=${PW2MQTT_HA_PYTHON:-}
if ! is_313 "$python" && command -v pyenv >/dev/null 2>&1; then
    version=$(ls "$(pyenv root)/versions" | grep -E "^$HA_PYTHON_SERIES\.[0-9]+$" | sort -V | tail -n 1 || true)
    python=$(pyenv root)/versions/$version/bin/python
fi
is_313 "$python" || python=$(command -v "python$HA_PYTHON_SERIES" || true)
if ! is_313 "$python"; then
    echo "install-ha: Home Assistant $HA_VERSION needs CPython $HA_PYTHON_SERIES; set PW2MQTT_HA_PYTHON" >&2
    exit 1
fi
echo "install-ha: Home Assistant $HA_VERSION into $VENV (with $python)" >&2
rm -rf "$HOME_DIR"
mkdir -p "$HOME_DIR"
"$python" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv==0.13.8
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -r "$ROOT/tests/rigs/ha/requirements.txt"
"$VENV/bin/python" -c 'from homeassistant.const import __version__; print("install-ha: Home Assistant", __version__)' >&2
cp "$ROOT/tests/rigs/ha/requirements.txt" "$STAMP"
