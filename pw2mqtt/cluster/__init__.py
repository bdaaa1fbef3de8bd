"""Fleets across machines: several instances share the configured gateways through PostgreSQL.

Optional and off by default: without `cluster.dsn` the `Solo` ownership owns every gateway and
needs no database. With it, a `Coordinator` per instance keeps a membership row alive and takes
leases on the gateways that rendezvous hashing prefers for it; the lease table is the truth, and
its per-gateway epoch is the fencing token a command carries (docs/cluster.md says why a lease
row and not an advisory lock).

May import: the shared modules (config, errors, backoff) and psycopg; nothing of the bridge, the
MQTT side or the gateway client; psycopg only in `coordinator`, loaded when `cluster.dsn` is
set. The bridge asks `owns(key)` and `check_fence(key, epoch)` and is
told of every change through the `on_change(key, epoch | None)` callback.
"""

from pw2mqtt.cluster.choice import instance_name, ownership_for
from pw2mqtt.cluster.ownership import (
    ClusterError,
    Ownership,
    OwnershipListener,
    Solo,
    default_instance_id,
    gateway_key,
)

__all__ = [
    "ClusterError",
    "Ownership",
    "OwnershipListener",
    "Solo",
    "default_instance_id",
    "gateway_key",
    "instance_name",
    "ownership_for",
]
