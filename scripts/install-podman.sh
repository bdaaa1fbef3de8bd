#!/bin/sh
# Installs the container rig of tests/deploy/test_container.py: podman and what tests/rigs/container/podman.sh
# needs with it (buildah, runc, debootstrap), from Debian's packages, when one of them is missing.
exec "$(dirname "$0")/apt-install.sh" "podman buildah runc debootstrap" podman buildah runc debootstrap
