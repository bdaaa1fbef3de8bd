#!/bin/sh
# Installs the Mosquitto broker and clients from Debian's packages when they are missing.
exec "$(dirname "$0")/apt-install.sh" "mosquitto mosquitto_pub" \
    --no-install-recommends mosquitto mosquitto-clients
