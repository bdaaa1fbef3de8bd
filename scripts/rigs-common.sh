# Sourced by scripts/install-*.sh: the rigs' pinned versions and their cache folder.
# shellcheck shell=sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
. "$ROOT/tests/rigs/versions.env"
RIGS_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pw2mqtt-rigs
mkdir -p "$RIGS_CACHE"
