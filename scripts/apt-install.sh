#!/bin/sh
# apt-install.sh "COMMAND..." APT-INSTALL-ARGUMENT...
# Installs Debian packages with apt-get when any of the COMMANDs is missing; otherwise does nothing.
set -eu
commands=$1
shift
missing=""
for command in $commands; do
    command -v "$command" >/dev/null 2>&1 || missing="$missing $command"
done
[ -n "$missing" ] || exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing:$missing, and this is not a Debian-like system: install the packages $*" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
