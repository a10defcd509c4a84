"""Every event version ever stored keeps loading through today's code."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from engine.domain import stored_event_classes
from engine.domain.base import TieoutAggregate
from engine.domain.source import Source

SAMPLES = Path(__file__).parent.parent / "samples" / "events"


def mapper() -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def load(path: Path) -> object:
    sample = json.loads(path.read_text())
    stored = StoredEvent(
        originator_id=UUID(sample["originator_id"]),
        originator_version=sample["originator_version"],
        topic=sample["topic"],
        state=json.dumps(sample["state"]).encode(),
    )
    return mapper().to_domain_event(stored)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_sample_loads_into_todays_event_class(path: Path) -> None:
    event = load(path)
    sample = json.loads(path.read_text())
    assert get_topic(type(event)) == sample["topic"]
    assert isinstance(event, TieoutAggregate.Event)
    for field in dataclasses.fields(event):
        assert hasattr(event, field.name), f"{path.name} lacks {field.name} after upcasting"
    assert event.meta["actor"]


@pytest.mark.parametrize("event_class", stored_event_classes(), ids=get_topic)
def test_every_event_version_has_a_stored_sample(event_class: type[object]) -> None:
    version = getattr(event_class, "class_version", 1)
    for older in range(1, version + 1):
        name = f"{event_class.__qualname__}.v{older}.json"
        assert (SAMPLES / name).exists(), (
            f"no stored sample {name}: run `python tests/samples/record_samples.py`"
        )


def test_source_registered_v1_is_upcast_with_unknown_format() -> None:
    event = load(SAMPLES / "Source.SourceRegistered.v1.json")
    assert isinstance(event, Source.SourceRegistered)
    assert event.file_format == "unknown"
    source = event.mutate(None)
    assert isinstance(source, Source)
    assert source.file_format == "unknown"
