"""docs/topics.md is generated; it must match the catalogue and the topics it describes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pw2mqtt.entities.catalogue import ENTITIES, powerwall_entities
from pw2mqtt.reference import topics as reference
from pw2mqtt.reference.topics import REGENERATE, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "topics.md"


def test_docs_topics_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/topics.md is out of date; regenerate it with `{REGENERATE}`"
    )


def test_every_entity_is_listed_once() -> None:
    text = render()
    for entity in ENTITIES:
        assert text.count(f"`pw2mqtt/<gw>/{entity.key}`") == 1, entity.key
    for entity in powerwall_entities(0):
        key = entity.key.replace("powerwall_1_", "powerwall_<n>_")
        assert text.count(f"`pw2mqtt/<gw>/{key}`") == 1, key
    assert "powerwall_1_" not in text


def test_no_markdown_swallows_a_placeholder() -> None:
    """Outside code spans and the header comment, a bare `<word>` would vanish as an HTML tag."""
    text = render().split("-->", 1)[1]
    prose = re.sub(r"`[^`]*`", "", text)
    assert re.findall(r"(?<!\\)<[a-z]", prose) == []


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    reference.main()
    assert capsys.readouterr().out == render()
