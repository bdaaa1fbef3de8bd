#!/bin/sh
# Installs the Node-RED rig of tests/integration/test_node_red_flow.py: the pinned node-red (npm registry)
# into ${XDG_CACHE_HOME:-~/.cache}/pw2mqtt-rigs/node-red-VERSION, with Mosquitto (Debian) and,
# where they are missing, Node.js and npm (Debian). Does nothing when it is there.
set -eu
. "$(dirname "$0")/rigs-common.sh"
"$ROOT/scripts/install-mosquitto.sh"
"$ROOT/scripts/apt-install.sh" "node npm" --no-install-recommends nodejs npm
DIR=$RIGS_CACHE/node-red-$NODE_RED_VERSION
[ -f "$DIR/node_modules/node-red/red.js" ] && exit 0
echo "install-nodered: node-red@$NODE_RED_VERSION into $DIR" >&2
rm -rf "$DIR.partial"
mkdir -p "$DIR.partial"
printf '{"name": "pw2mqtt-node-red-rig", "private": true}\n' > "$DIR.partial/package.json"
(cd "$DIR.partial" && npm install --no-audit --no-fund --loglevel=error --save-exact "node-red@$NODE_RED_VERSION")
rm -rf "$DIR"
mv "$DIR.partial" "$DIR"
