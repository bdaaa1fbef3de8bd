#!/bin/sh
# Installs podman and what ../shared/tools/container-rig needs with it (buildah, runc, debootstrap)
# from Debian's packages when podman is missing; tests/test_container.py builds and runs the image.
set -eu
if command -v podman >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "podman is missing and this is not a Debian-like system: install podman, buildah, runc, debootstrap" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman buildah runc debootstrap >/dev/null
