#!/bin/sh
# Add-on start: addon_env.py turns /data/options.json and the Supervisor's MQTT service
# (GET http://supervisor/services/mqtt with $SUPERVISOR_TOKEN) into PW2MQTT_... variables and
# execs `pw2mqtt run`, which stays PID 1 and gets the Supervisor's SIGTERM itself.
set -eu
exec /opt/pw2mqtt/bin/python /usr/local/lib/pw2mqtt-addon/addon_env.py run
