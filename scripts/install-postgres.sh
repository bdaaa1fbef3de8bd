#!/bin/sh
# Installs the PostgreSQL server from Debian's packages when it is missing. The cluster tests and
# `python -m bench.cluster` start servers of their own from its binaries, each in a temporary
# folder on a free port; nothing of the project uses a system-wide database.
set -eu
for server in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$server" ] && exit 0
done
exec "$(dirname "$0")/apt-install.sh" "initdb" --no-install-recommends postgresql
