#!/bin/sh
# Container entrypoint: `run` (the default) and `healthcheck` get the image's conventions, and
# anything else is passed to `pw2mqtt` as it is (`check --host ...`, `--version`).
#
# - run: uses $PW2MQTT_CONFIG (default /config/pw2mqtt.yaml) as --config when that file exists,
#   else the configuration comes from PW2MQTT_... variables and ..._FILE secrets alone.
# - healthcheck: reads the status file in $PW2MQTT_STATE_DIR (default /data); no request is sent.
#
# `exec` replaces this shell, so pw2mqtt is PID 1 and gets SIGTERM from `docker stop` directly.
set -eu
config=${PW2MQTT_CONFIG:-/config/pw2mqtt.yaml}
case ${1:-run} in
  run)
    [ $# -gt 0 ] && shift
    case " $* " in
      *" --config "* | *" --config="*) exec pw2mqtt run "$@" ;;
    esac
    if [ -f "$config" ]; then
      exec pw2mqtt run --config "$config" "$@"
    fi
    exec pw2mqtt run "$@"
    ;;
  healthcheck)
    shift
    exec pw2mqtt healthcheck --state-dir "${PW2MQTT_STATE_DIR:-/data}" "$@"
    ;;
  *)
    exec pw2mqtt "$@"
    ;;
esac
