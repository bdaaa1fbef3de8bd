"""The report: a Markdown page for people and a JSON file for tools, from one run's figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import ratio

Row = tuple[str, Callable[[dict[str, Any]], float | None], str, str]

# label, figure, format, target (as a ratio pw2mqtt/peer, or a plain statement)
SIDE_BY_SIDE: tuple[Row, ...] = (
    ("CPU seconds per minute", lambda r: r["cpu_s_per_min"], "{:.3f}", "≤ 0.33"),
    ("RSS peak, MB", lambda r: r["rss_peak_mb"], "{:.1f}", "≤ 0.67"),
    ("RSS steady, MB", lambda r: r["rss_steady_mb"], "{:.1f}", "≤ 0.67"),
    ("gateway requests per minute", lambda r: r["requests_per_min"], "{:.1f}", "≤ 1"),
    ("logins in the process's life", lambda r: r["logins_life"], "{:.0f}", "1"),
    ("MQTT messages per minute", lambda r: r["mqtt_msgs_per_min"], "{:.1f}", ""),
    (
        "MQTT kB per minute (topic + payload)",
        lambda r: r["mqtt_bytes_per_min"] / 1e3,
        "{:.1f}",
        "",
    ),
    ("freshness median, s", lambda r: r["freshness_s"]["median"], "{:.2f}", "≤ 1"),
    ("freshness p95, s", lambda r: r["freshness_s"]["p95"], "{:.2f}", "≤ 1; ≤ 5.05 s"),
    ("start-up to first value, s", lambda r: r["startup_s"], "{:.2f}", ""),
)


def _fmt(value: float | None, form: str) -> str:
    return "n/a" if value is None else form.format(value)


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"# pw2mqtt benchmark — {meta['date']}",
        "",
        f"Machine: {meta['machine']}. Python {meta['python']}. pw2mqtt {meta['pw2mqtt']}. "
        f"Mode: {meta['mode']}. Simulated gateway: firmware {meta['profile']}, "
        f"{meta['latency_ms']} ms per answer. Window per run: {meta['window_s']:.0f} s.",
        "",
    ]
    lines += _side_by_side(results)
    lines += _pw2mqtt_alone(results)
    lines += _fleet(results)
    lines += _targets(results)
    return "\n".join(lines) + "\n"


Target = tuple[str, bool | None, str]


def targets(results: dict[str, Any]) -> list[Target]:
    """(target, met — None when this run cannot tell, what was measured) for each target."""
    return [
        *_side_by_side_targets(results),
        *_alone_targets(results),
        *_fleet_targets(results.get("fleet") or []),
    ]


def _side_by_side_targets(results: dict[str, Any]) -> list[Target]:
    ours, peer = results.get("pw2mqtt"), results.get("peer")
    if not (ours and peer):
        return []
    cpu = ratio(ours["cpu_s_per_min"], peer["cpu_s_per_min"])
    rss = [
        ratio(ours["rss_steady_mb"], peer["rss_steady_mb"]),
        ratio(ours["rss_peak_mb"], peer["rss_peak_mb"]),
    ]
    req = ratio(ours["requests_per_min"], peer["requests_per_min"])
    fresher = [ratio(ours["freshness_s"][k], peer["freshness_s"][k]) for k in ("median", "p95")]
    return [
        ("CPU at most 1/3 of the peer's", _le(cpu, 1 / 3), f"ratio {_fmt(cpu, '{:.2f}')}"),
        (
            "RSS at most 2/3 of the peer's",
            _all(_le(r, 2 / 3) for r in rss),
            f"steady {_fmt(rss[0], '{:.2f}')}, peak {_fmt(rss[1], '{:.2f}')}",
        ),
        (
            "no more gateway requests than the peer, values at least as fresh",
            _all([_le(req, 1.0), *(_le(f, 1.0) for f in fresher)]),
            f"requests {_fmt(req, '{:.2f}')}, freshness median {_fmt(fresher[0], '{:.2f}')}, "
            f"p95 {_fmt(fresher[1], '{:.2f}')}",
        ),
    ]


def _alone_targets(results: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    ours = results.get("pw2mqtt")
    if ours:
        interval = float(results["meta"].get("fast_interval_s", 5.0))
        p95 = ours["freshness_s"]["p95"]
        fewer = ratio(ours["every_value_every_poll_msgs_per_min"], ours["mqtt_msgs_per_min"])
        out += [
            (
                "change to subscriber within one fast interval + 50 ms at p95",
                _le(p95, interval + 0.05),
                f"p95 {_fmt(p95, '{:.2f}')} s",
            ),
            (
                "at least 3 times fewer MQTT messages than every value every poll",
                None if fewer is None else fewer >= 3,
                f"{_fmt(fewer, '{:.1f}')} times fewer",
            ),
        ]
    restart = results.get("restart")
    if restart:
        logins = [life["logins"] for life in restart["lives"]]
        out.append(
            (
                "one login per process life, none after a restart with a saved session",
                logins == [1, 0],
                f"logins {logins}",
            )
        )
    commands = results.get("commands")
    if commands:
        first = commands["to_first_request_s"]["p95"]
        write = commands["to_gateway_call_s"]["p95"]
        out.append(
            (
                "command to gateway call (the write) under 50 ms at p95",
                _le(write, 0.05),
                f"{_fmt(_ms(write), '{:.0f}')} ms; its first request, the read of the current "
                f"settings that the write depends on, {_fmt(_ms(first), '{:.0f}')} ms",
            )
        )
    return out


def _fleet_targets(fleet: list[dict[str, Any]]) -> list[Target]:
    out: list[Target] = []
    largest = max(fleet, key=lambda run: run["gateways"], default=None)
    hundred = next((r for r in fleet if r["gateways"] == 100), None)
    if hundred is None and largest and 100 <= largest["gateways"] < 1000:
        hundred = largest
    if hundred:
        out.append(
            (
                "100 gateways on under half a core with no missed cycles",
                hundred["cpu_share"] < 0.5 and hundred["missed_cycles"] == 0,
                f"{hundred['gateways']} gateways: {hundred['cpu_share']:.3f} of a core, "
                f"{hundred['missed_cycles']} missed",
            )
        )
    if largest and largest["gateways"] >= 1000:
        smallest = min(fleet, key=lambda run: run["gateways"])
        per_gateway = _mb_per_gateway([smallest, largest]) if smallest is not largest else None
        met = (
            None
            if per_gateway is None
            else largest["cpu_share"] < 1.0 and largest["missed_cycles"] == 0 and per_gateway <= 0.5
        )
        out.append(
            (
                "1000 gateways on under one core, no missed cycles, at most 0.5 MB per gateway",
                met,
                f"{largest['gateways']} gateways: {largest['cpu_share']:.3f} of a core, "
                f"{largest['missed_cycles']} missed, {_fmt(per_gateway, '{:.3f}')} MB per gateway",
            )
        )
    return out


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _all(checks: Any) -> bool | None:
    values = list(checks)
    if any(v is None for v in values):
        return None
    return all(values)


def _targets(results: dict[str, Any]) -> list[str]:
    rows = targets(results)
    if not rows:
        return []
    marks = {True: "met", False: "not met", None: "not measured"}
    lines = ["## Targets", "", "| target | where it stands | measured |", "|---|---|---|"]
    lines += [f"| {name} | {marks[met]} | {measured} |" for name, met, measured in rows]
    return [*lines, ""]


def _side_by_side(results: dict[str, Any]) -> list[str]:
    ours = results.get("pw2mqtt")
    peer = results.get("peer")
    if ours is None:
        return []
    peer_name = peer["contender"] if peer else "peer (not run)"
    lines = [
        "## Side by side, per gateway",
        "",
        f"Peer: {results['meta'].get('peer', 'none')}.",
        "",
        f"| figure | pw2mqtt | {peer_name} | pw2mqtt / peer | target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, figure, form, target in SIDE_BY_SIDE:
        a = figure(ours)
        b = figure(peer) if peer else None
        lines.append(
            f"| {label} | {_fmt(a, form)} | {_fmt(b, form)} | {_fmt(ratio(a, b), '{:.2f}')} "
            f"| {target} |"
        )
    fresh = ours["freshness_s"]
    lines += [
        "",
        f"Freshness: {fresh['samples']} solar steps for pw2mqtt"
        + (f", {peer['freshness_s']['samples']} for the peer" if peer else "")
        + "; not delivered within three poll intervals: "
        + f"{fresh['not_delivered']}"
        + (f" / {peer['freshness_s']['not_delivered']}" if peer else "")
        + ".",
        "",
    ]
    return lines


def _pw2mqtt_alone(results: dict[str, Any]) -> list[str]:
    lines = ["## pw2mqtt alone", ""]
    ours = results.get("pw2mqtt")
    if ours:
        naive = ours["every_value_every_poll_msgs_per_min"]
        actual = ours["mqtt_msgs_per_min"]
        lines.append(
            f"- MQTT messages in steady state: {actual:.1f}/min against {naive:.1f}/min for "
            f"publishing each of its {ours['value_topics']} values on every poll: "
            f"{_fmt(ratio(naive, actual), '{:.1f}')} times fewer (target: 3 times or more)."
        )
    floor = results.get("pw2mqtt_imports_rss_mb")
    if floor:
        lines.append(
            f"- RSS of a Python process that has imported what `pw2mqtt run` loads, before it "
            f"does anything: {floor:.1f} MB."
        )
    restart = results.get("restart")
    if restart:
        logins = ", ".join(f"life {life['life']}: {life['logins']}" for life in restart["lives"])
        starts = ", ".join(f"{life['startup_s']:.2f} s" for life in restart["lives"])
        lines.append(
            f"- Logins per process life with a saved session: {logins} (target 1, then 0)."
        )
        lines.append(f"- Start-up to first value published: {starts}.")
    commands = results.get("commands")
    if commands:
        lines += [
            "",
            f"Command latency, {commands['commands']} backup-reserve commands published to the "
            "broker (firmware 1.50, which lets the customer login write):",
            "",
            "| from the publish to … | median, ms | p95, ms |",
            "|---|---:|---:|",
        ]
        for key, label in (
            ("to_first_request_s", "the gateway's first request (a read of the current mode)"),
            ("to_gateway_call_s", "the gateway's write (POST /api/operation)"),
            ("to_answer_s", 'the answer "ok", after reading the change back'),
            ("to_state_s", "the new reserve on its state topic"),
        ):
            spread = commands.get(key)
            if spread:
                lines.append(
                    f"| {label} | {_fmt(_ms(spread['median']), '{:.0f}')} | "
                    f"{_fmt(_ms(spread['p95']), '{:.0f}')} |"
                )
        if commands["failures"]:
            lines += ["", f"Failed commands: {'; '.join(commands['failures'])}"]
    return [*lines, ""]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _fleet(results: dict[str, Any]) -> list[str]:
    fleet = results.get("fleet")
    if not fleet:
        return []
    interval = float(fleet[0].get("interval_s", 5.0))
    lines = [
        f"## Fleet: gateways in one pw2mqtt process (fast interval {interval:g} s)",
        "",
        "| gateways | CPU share of one core | CPU s per gateway per minute | RSS steady, MB "
        f"| RSS peak, MB | poll cycles | late (> {1.2 * interval:.0f} s) | missed | gap p95, s "
        "| gap max, s | half / all online after, s | logins, most in one second "
        "| simulators' CPU (processes) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_fleet_row(run) for run in fleet]
    sizes = sorted(fleet, key=lambda run: run["gateways"])
    if len(sizes) > 1 and sizes[-1]["gateways"] > sizes[0]["gateways"]:
        lines += ["", f"Memory per gateway added: {_mb_per_gateway(sizes):.2f} MB."]
    return [*lines, ""]


def _fleet_row(run: dict[str, Any]) -> str:
    per_gateway = run["cpu_share"] * 60 / run["gateways"]
    logins = run.get("logins") or {}
    online = f"{_fmt(run.get('half_online_s'), '{:.1f}')} / {run['all_online_s']:.1f}"
    hosts = f"{_fmt(run.get('sim_cpu_share'), '{:.2f}')} ({run.get('sim_hosts', 1)})"
    return (
        f"| {run['gateways']} | {run['cpu_share']:.3f} | {per_gateway:.3f} "
        f"| {run['rss_steady_mb']:.1f} "
        f"| {run['rss_peak_mb']:.1f} | {run['cycles']} / {run['cycles_expected']:.0f} "
        f"| {run['late_cycles']} | {run['missed_cycles']} | {_fmt(run['gap_p95_s'], '{:.2f}')} "
        f"| {_fmt(run['gap_max_s'], '{:.2f}')} | {online} "
        f"| {logins.get('count', 'n/a')}, {logins.get('max_per_s', 'n/a')} | {hosts} |"
    )


def _mb_per_gateway(sizes: list[dict[str, Any]]) -> float:
    """Steady RSS added per gateway, from the smallest fleet to the largest."""
    grown = sizes[-1]["rss_steady_mb"] - sizes[0]["rss_steady_mb"]
    return float(grown / (sizes[-1]["gateways"] - sizes[0]["gateways"]))


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """report.md and report.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    js = out / "report.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return md, js


if __name__ == "__main__":  # python -m bench.report FILE.json: render a saved run again
    import sys

    saved = Path(sys.argv[1])
    print(markdown(json.loads(saved.read_text())), end="")
