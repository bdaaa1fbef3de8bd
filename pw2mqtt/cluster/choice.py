"""Which ownership an instance runs: alone, or as a member of a fleet."""

from __future__ import annotations

from collections.abc import Iterable

from pw2mqtt.cluster.ownership import (
    ClusterError,
    Ownership,
    OwnershipListener,
    Solo,
    default_instance_id,
)
from pw2mqtt.config import ClusterSettings


def instance_name(cluster: ClusterSettings) -> str | None:
    """This instance's name in a fleet (configured, else host and process id); None alone."""
    if cluster.dsn is None:
        return None
    return cluster.instance_id or default_instance_id()


def ownership_for(
    cluster: ClusterSettings,
    keys: Iterable[str],
    on_change: OwnershipListener | None = None,
    *,
    instance_id: str | None = None,
) -> Ownership:
    """A `Coordinator` when `cluster.dsn` is set, else `Solo`: what the bridge runs either way.

    The database driver is an extra (`pw2mqtt[cluster]`): a single instance never loads it.
    """
    if cluster.dsn is None:
        return Solo(keys, on_change)
    try:
        from pw2mqtt.cluster.coordinator import Coordinator  # noqa: PLC0415
    except ImportError as err:
        raise ClusterError(
            f"cluster.dsn is set but the PostgreSQL driver is missing ({err.name}): "
            "install pw2mqtt[cluster]"
        ) from err
    return Coordinator(
        cluster.dsn.get_secret_value(),
        keys,
        instance_id=instance_id or cluster.instance_id,
        lease_seconds=cluster.lease_seconds,
        on_change=on_change,
        on_database_down=cluster.on_database_down,
    )
