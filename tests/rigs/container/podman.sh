#!/usr/bin/env bash
# The container rig of tests/deploy/test_container.py: podman, rootful, with its own storage and settings
# in ${XDG_CACHE_HOME:-~/.cache}/pw2mqtt-rigs/podman, needing no Docker engine and no registry.
#   podman.sh base [SUITE [TAG...]]  a Debian SUITE (default trixie) made with debootstrap, with
#                                    python3, venv and pip, imported as localbase:SUITE and tagged
#                                    TAG (e.g. python:3.12-slim) so the Dockerfile's FROM resolves
#   podman.sh build ARGS...          podman build, chroot isolation, never pulling
#   podman.sh run ARGS...            podman run (host network)
#   podman.sh podman ARGS...         any other podman command on the rig's storage
# Install podman and the rest with scripts/install-podman.sh (`make test-container`).
set -euo pipefail
home=${XDG_CACHE_HOME:-$HOME/.cache}/pw2mqtt-rigs/podman
mkdir -p "$home/tmp"
for tool in podman buildah runc debootstrap; do
    command -v "$tool" >/dev/null || { echo "podman.sh: $tool missing: run \`make test-container\`" >&2; exit 1; }
done

# Settings found necessary on these machines: runc, since crun refuses a host with cgroup v1 and
# v2 controllers mixed; cgroupfs and file events, with no systemd; ulimits no higher than the
# host's (no CAP_SYS_RESOURCE); the host's network, so no iptables rules and 127.0.0.1 is the
# host's own (the test's broker and simulator).
cat >"$home/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$home/storage"
runroot = "$home/run"
EOF
cat >"$home/containers.conf" <<EOF
[containers]
netns = "host"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$home/tmp"
EOF
export CONTAINERS_STORAGE_CONF=$home/storage.conf CONTAINERS_CONF=$home/containers.conf

apt_mirror() {  # the Debian mirror apt uses here, from deb822 sources or sources.list
    [ -z "${DEBIAN_MIRROR:-}" ] || { echo "$DEBIAN_MIRROR"; return; }
    local file
    for file in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
        [ -f "$file" ] || continue
        sed -nE 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p; s/^deb[[:space:]]+([^[:space:]]+).*/\1/p' "$file" |
            grep -v security | head -n 1
    done | head -n 1
}

in_root() {  # a command in the new root, with none of this machine's pip settings
    local root=$1
    shift
    local pass=() name
    for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -z "${!name:-}" ] || pass+=("$name=${!name}")
    done
    chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root "${pass[@]}" "$@"
}

make_base() {
    local suite=${1:-trixie}
    local root=$home/rootfs-$suite
    if [ ! -x "$root/usr/bin/python3" ]; then
        local mirror
        mirror=$(apt_mirror)
        [ -n "$mirror" ] || { echo "podman.sh: no Debian mirror in apt's sources; set DEBIAN_MIRROR" >&2; exit 1; }
        rm -rf "$root"
        echo "podman.sh: debootstrap $suite from $mirror" >&2
        debootstrap --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            "$suite" "$root" "$mirror" >"$home/debootstrap-$suite.log" 2>&1 ||
            { tail -n 20 "$home/debootstrap-$suite.log" >&2; exit 1; }
        # The local test image trusts what this machine trusts (its package traffic goes through
        # those authorities); it is never pushed anywhere.
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
        chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
        ln -sf python3 "$root/usr/bin/python"
        # As in the official images: pip may install globally, and is pip's own, in /usr/local.
        rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
        in_root "$root" python3 -m pip install --quiet --no-cache-dir --ignore-installed pip
        in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq python3-pip >/dev/null
        in_root "$root" apt-get clean
        rm -rf "$root"/var/lib/apt/lists/*
    fi
    tar -C "$root" -c . | podman import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
        - "localbase:$suite" >/dev/null
    shift || true
    local tag
    for tag in "$@"; do podman tag "localbase:$suite" "$tag"; done
    podman image prune -f >/dev/null
}

command=${1:-}
shift || true
case $command in
    base) make_base "$@" ;;
    build) exec podman build --isolation chroot --pull=never --format docker "$@" ;;
    run) exec podman run "$@" ;;
    podman) exec podman "$@" ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
