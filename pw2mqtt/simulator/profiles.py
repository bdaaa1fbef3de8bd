"""Firmware profiles: version strings, payload quirks and one permission table per profile.

A table maps (method, path) to who may call it. A path missing from the table answers 404; a
path present under another method answers 405. The rules follow the research note
(`powerwall-api.md` §a/§b/§c): customer writes were taken away around 2019, customer islanding
around 24.44/25.2, vitals went away in 23.44, and a PW3 (or restricted gateway) answers only
three endpoints over the LAN.

Signed control: `/tedapi/v1r` is served by the 26.26 (Gateway 2, 26.26.4) and pw3 profiles only,
as v1r came to the PW3 in 2026-03 and to the Gateway 2 with 26.26.4; every other profile answers
404 there. `GET /tedapi/din` (customer session) came with TEDAPI, which replaced the vitals from
23.44 on: 1.50 and 21.44 answer 404, 23.44 and later serve it, and 26.26 gzips it without saying
so (as 25.42.2 and later may). pw3-restricted stays the plain three-endpoint LAN surface.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


class Access(enum.Enum):
    PUBLIC = "public"  # no session needed
    CUSTOMER = "customer"  # any session (customer or installer)
    INSTALLER = "installer"  # installer session; a customer session gets 403


Route = tuple[str, str]  # (method, path)

STATUS: Final = "/api/status"
LOGIN: Final = "/api/login/Basic"
LOGOUT: Final = "/api/logout"
AGGREGATES: Final = "/api/meters/aggregates"
SOE: Final = "/api/system_status/soe"
GRID_STATUS: Final = "/api/system_status/grid_status"
SYSTEM_STATUS: Final = "/api/system_status"
GRID_FAULTS: Final = "/api/system_status/grid_faults"
SITEMASTER: Final = "/api/sitemaster"
OPERATION: Final = "/api/operation"
SITE_INFO: Final = "/api/site_info"
SITE_NAME: Final = "/api/site_info/site_name"
POWERWALLS: Final = "/api/powerwalls"
SOLAR_POWERWALL: Final = "/api/solar_powerwall"
METERS_SITE: Final = "/api/meters/site"
METERS_SOLAR: Final = "/api/meters/solar"
UPDATE_STATUS: Final = "/api/system/update/status"
NETWORKS: Final = "/api/networks"
CONFIG: Final = "/api/config"
VITALS: Final = "/api/devices/vitals"
CONFIG_COMPLETED: Final = "/api/config/completed"
ISLANDING: Final = "/api/v2/islanding/mode"
SITEMASTER_RUN: Final = "/api/sitemaster/run"
SITEMASTER_STOP: Final = "/api/sitemaster/stop"
AUTH_TOGGLE: Final = "/api/auth/toggle/supported"
REGISTRATION: Final = "/api/customer/registration"
PROBLEMS: Final = "/api/troubleshooting/problems"
PORTAL: Final = "/"
TEDAPI_DIN: Final = "/tedapi/din"
TEDAPI_V1R: Final = "/tedapi/v1r"

# Endpoints that answer 502 with an empty body while the sitemaster is stopped (captured on 21.44).
SITEMASTER_DATA: Final = frozenset({AGGREGATES, SOE, GRID_STATUS, SYSTEM_STATUS, GRID_FAULTS})

READS: Final = (
    AGGREGATES,
    SOE,
    GRID_STATUS,
    SYSTEM_STATUS,
    GRID_FAULTS,
    SITEMASTER,
    OPERATION,
    SITE_INFO,
    SITE_NAME,
    POWERWALLS,
    METERS_SITE,
    METERS_SOLAR,
    UPDATE_STATUS,
    NETWORKS,
    CONFIG,
    AUTH_TOGGLE,
    REGISTRATION,
    PROBLEMS,
)

WRITES: Final[tuple[Route, ...]] = (
    ("POST", OPERATION),
    ("GET", CONFIG_COMPLETED),
    ("POST", ISLANDING),
    ("GET", SITEMASTER_RUN),
    ("POST", SITEMASTER_STOP),
)

ROLE_NAMES: Final = {"customer": "Home_Owner", "installer": "Provider_Engineer"}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    version: str
    git_hash: str
    access: Mapping[Route, Access]
    device_type: str = "teg"
    sync_type: str = "v2.1"
    status_style: str = "21.44"  # which /api/status shape: "1.50", "21.44" or "23.44"
    float_powers: bool = False  # 1.50 reports meter powers as floats (battery stays int)
    phase_fields: bool = True  # last_phase_* and num_meters_aggregated in aggregates
    installer_needs_toggle: bool = True  # installer login needs physical access (fw >= 1.50.1)
    din_gzip: bool = False  # /tedapi/din gzipped without Content-Encoding (fw >= 25.42.2 may)
    description: str = ""

    def lookup(self, method: str, path: str) -> Access | int:
        """The access rule, or 404/405 when the profile does not serve the route."""
        rule = self.access.get((method, path))
        if rule is not None:
            return rule
        if any(p == path for (_m, p) in self.access):
            return 405
        return 404

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(p for (_m, p) in self.access)


def _table(
    *,
    reads: tuple[str, ...],
    writes: Access | None,
    islanding: Access | None,
    extra_reads: tuple[str, ...] = (),
    portal: bool = True,
    get_stop: bool = False,
    signed: bool = False,
) -> Mapping[Route, Access]:
    table: dict[Route, Access] = {
        ("POST", LOGIN): Access.PUBLIC,
        ("GET", LOGOUT): Access.CUSTOMER,
    }
    if portal:
        table[("GET", PORTAL)] = Access.PUBLIC
        table[("GET", STATUS)] = Access.PUBLIC
    for path in (*reads, *extra_reads):
        table[("GET", path)] = Access.CUSTOMER
    if writes is not None:
        for route in WRITES:
            table[route] = writes
    if islanding is not None:
        table[("POST", ISLANDING)] = islanding
    if get_stop and writes is not None:
        table[("GET", SITEMASTER_STOP)] = writes  # old firmware stopped on a GET, as documented
    if signed:
        table[("POST", TEDAPI_V1R)] = Access.PUBLIC  # the signature is the authorisation
    return MappingProxyType(table)


def _hash(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


PROFILES: Final[Mapping[str, Profile]] = MappingProxyType(
    {
        "1.50": Profile(
            name="1.50",
            version="1.50.1 c58c2df3",
            git_hash="d0e69bde519634961cca04a616d2d4dae80b9f61",
            device_type="hec",
            sync_type="v1",
            status_style="1.50",
            float_powers=True,
            phase_fields=False,
            access=_table(
                reads=tuple(path for path in READS if path != GRID_FAULTS),
                writes=Access.CUSTOMER,
                islanding=Access.CUSTOMER,
                extra_reads=(VITALS,),
                get_stop=True,
            ),
            description="Gateway 1, firmware 1.50.1: the customer may write everything; "
            "grid faults only inside /api/system_status",
        ),
        "21.44": Profile(
            name="21.44",
            version="21.44 223a56cd",
            git_hash="223a56cd575b7b19bad7e12a4ebad0eb52d1f50a",
            access=_table(
                reads=READS,
                writes=Access.INSTALLER,
                islanding=Access.CUSTOMER,
                extra_reads=(VITALS,),
            ),
            description="Gateway 2: writes need the installer; customer islanding still works",
        ),
        "23.44": Profile(
            name="23.44",
            version="23.44.0 9064fc6a",
            git_hash="4064fc6a5b32425509f91f19556f2431cb7f6872",
            status_style="23.44",
            access=_table(
                reads=READS,
                writes=Access.INSTALLER,
                islanding=Access.CUSTOMER,
                extra_reads=(SOLAR_POWERWALL, TEDAPI_DIN),
            ),
            description="like 21.44; /api/devices/vitals removed, /api/solar_powerwall present",
        ),
        "25.10": Profile(
            name="25.10",
            version="25.10.1 7b1e3d5a",
            git_hash=_hash("25.10.1"),
            status_style="23.44",
            access=_table(
                reads=READS,
                writes=Access.INSTALLER,
                islanding=Access.INSTALLER,
                extra_reads=(SOLAR_POWERWALL, TEDAPI_DIN),
            ),
            description="like 23.44; customer islanding gets 403 too",
        ),
        "26.26": Profile(
            name="26.26",
            version="26.26.4 5c2e8a1f",
            git_hash=_hash("26.26.4"),
            status_style="23.44",
            din_gzip=True,
            access=_table(
                reads=READS,
                writes=Access.INSTALLER,
                islanding=Access.INSTALLER,
                extra_reads=(SOLAR_POWERWALL, TEDAPI_DIN),
                signed=True,
            ),
            description="Gateway 2, 26.26.4: REST writes need the installer; signed control (v1r)",
        ),
        "pw3-restricted": Profile(
            name="pw3-restricted",
            version="25.42.2 1b3c5d7e",
            git_hash=_hash("25.42.2"),
            status_style="23.44",
            access=_table(
                reads=(AGGREGATES, SOE, GRID_STATUS), writes=None, islanding=None, portal=False
            ),
            description="Powerwall 3 / restricted LAN: only aggregates, soe and grid_status",
        ),
        "pw3": Profile(
            name="pw3",
            version="26.10.1 3d9f0b2c",
            git_hash=_hash("26.10.1"),
            status_style="23.44",
            access=_table(
                reads=(AGGREGATES, SOE, GRID_STATUS),
                writes=None,
                islanding=None,
                extra_reads=(TEDAPI_DIN,),
                portal=False,
                signed=True,
            ),
            description="Powerwall 3: the three LAN endpoints, the DIN, and signed control (v1r)",
        ),
    }
)

DEFAULT_PROFILE: Final = "21.44"


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown firmware profile {name!r} (known: {known})") from None
