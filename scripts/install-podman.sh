#!/bin/sh
# Installs podman and what ../shared/tools/container-rig needs with it (buildah, runc, debootstrap)
# from Debian's packages when podman is missing; tests/test_container.py builds and runs the image.
exec "$(dirname "$0")/apt-install.sh" podman podman buildah runc debootstrap
