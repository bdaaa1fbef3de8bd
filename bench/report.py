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
    return "\n".join(lines) + "\n"


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
    if peer and peer.get("notes"):
        lines += [f"Peer notes: {'; '.join(peer['notes'])}", ""]
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
    lines = [
        "## Fleet: gateways in one pw2mqtt process (fast interval 5 s)",
        "",
        "| gateways | CPU share of one core | RSS steady, MB | RSS peak, MB | poll cycles "
        "| late (> 6 s) | missed | gap p95, s | gap max, s | all online after, s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in fleet:
        lines.append(
            f"| {run['gateways']} | {run['cpu_share']:.3f} | {run['rss_steady_mb']:.1f} "
            f"| {run['rss_peak_mb']:.1f} | {run['cycles']} / {run['cycles_expected']:.0f} "
            f"| {run['late_cycles']} | {run['missed_cycles']} | {_fmt(run['gap_p95_s'], '{:.2f}')} "
            f"| {_fmt(run['gap_max_s'], '{:.2f}')} | {run['all_online_s']:.1f} |"
        )
    return [*lines, ""]


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    js = out / "report.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return md, js
