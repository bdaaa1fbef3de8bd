from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from pw2mqtt.gateway.rest.values import (
    EpochMillis,
    GoDuration,
    Integer,
    Number,
    Timestamp,
    Tolerant,
    parse_epoch_millis,
    parse_go_duration,
    parse_integer,
    parse_legacy_uptime,
    parse_number,
    parse_start_time,
    parse_timestamp,
)

MST = timezone(timedelta(hours=-7))

# --- timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-12-26T13:09:22.321056599-07:00", datetime(2021, 12, 26, 13, 9, 22, 321056, MST)),
        ("2021-12-26T13:09:22.321056-07:00", datetime(2021, 12, 26, 13, 9, 22, 321056, MST)),
        ("2023-10-13T04:08:05.957195-07:00", datetime(2023, 10, 13, 4, 8, 5, 957195, MST)),
        (
            "2023-04-08T13:01:26.68807076+01:00",
            datetime(2023, 4, 8, 13, 1, 26, 688070, timezone(timedelta(hours=1))),
        ),
        ("2021-12-26T13:09:22.5Z", datetime(2021, 12, 26, 13, 9, 22, 500000, UTC)),
        ("2021-12-26T13:09:22Z", datetime(2021, 12, 26, 13, 9, 22, tzinfo=UTC)),
        ("2021-12-26t13:09:22z", datetime(2021, 12, 26, 13, 9, 22, tzinfo=UTC)),
        (
            "2021-12-26T13:09:22+0530",
            datetime(2021, 12, 26, 13, 9, 22, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("2021-12-26T13:09:22.999999999+00:00", datetime(2021, 12, 26, 13, 9, 22, 999999, UTC)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("never", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00", None])
def test_go_zero_time_means_never(never: str | None) -> None:
    assert parse_timestamp(never) is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        "2021-12-26",
        "2021-12-26T13:09:22",  # no offset: ambiguous
        "2021-13-26T13:09:22Z",
        "2021-12-26T25:09:22Z",
        "2021-12-26T13:09:22+25:00",
        "2021-12-26T13:09:22.Z",
        " 2021-12-26T13:09:22Z",
        "٢٠٢١-12-26T13:09:22Z",  # non-ASCII digits
        1640549366145,
        True,
        ["2021-12-26T13:09:22Z"],
    ],
)
def test_bad_timestamps(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  the message varies by case
        parse_timestamp(bad)


def test_timestamp_accepts_aware_datetimes_only() -> None:
    aware = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_timestamp(aware) is aware
    with pytest.raises(ValueError, match="offset"):
        parse_timestamp(datetime(2024, 1, 1))


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets),
    st.integers(min_value=0, max_value=999),
)
def test_timestamp_round_trip_with_nanoseconds(moment: datetime, nanos: int) -> None:
    text = moment.isoformat(timespec="microseconds")
    date_time, sign, offset = text[:26], text[26], text[27:]
    parsed = parse_timestamp(f"{date_time}{nanos:03d}{sign}{offset}")
    assert parsed == moment
    assert parsed is not None
    assert parsed.utcoffset() == moment.utcoffset()


def test_start_time_keeps_the_wall_clock_and_drops_the_bogus_offset() -> None:
    assert parse_start_time("2021-12-16 22:13:25 +0800") == datetime(2021, 12, 16, 22, 13, 25)
    assert parse_start_time("2021-12-16 22:13:25") == datetime(2021, 12, 16, 22, 13, 25)
    assert parse_start_time(None) is None
    with pytest.raises(ValueError, match="timestamp"):
        parse_start_time("16/12/2021 22:13")


# --- Go durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("230h55m59.932079901s", timedelta(hours=230, minutes=55, seconds=59, microseconds=932079)),
        ("230h55m59.93s", timedelta(hours=230, minutes=55, seconds=59, microseconds=930000)),
        ("1m30s", timedelta(minutes=1, seconds=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("-1.5h", timedelta(hours=-1.5)),
        ("+2h", timedelta(hours=2)),
        ("1.5s", timedelta(seconds=1.5)),
        (".5s", timedelta(seconds=0.5)),
        ("1.s", timedelta(seconds=1)),
        ("1500us", timedelta(microseconds=1500)),
        ("7\u00b5s", timedelta(microseconds=7)),
        ("7\u03bcs", timedelta(microseconds=7)),
        ("999ns", timedelta(0)),  # below a microsecond: truncated
        ("1001ns", timedelta(microseconds=1)),
        ("-1001ns", timedelta(microseconds=-1)),  # truncated toward zero
        ("1h1h", timedelta(hours=2)),  # Go sums repeated units
        ("0", timedelta(0)),
        ("-0", timedelta(0)),
        ("0s", timedelta(0)),
        ("17h11m31.214751424s", timedelta(hours=17, minutes=11, seconds=31, microseconds=214751)),
    ],
)
def test_go_durations(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1",
        "h",
        "1d",
        "1 h",
        "1h ",
        "--1h",
        "1.2.3s",
        "s1",
        "1e3s",
        "٣s",
        "99999999999999999999h",
        5,
        1.5,
        None,
        True,
    ],
)
def test_bad_go_durations(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  the message varies by case
        parse_go_duration(bad)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=999_999_999),
    st.booleans(),
)
def test_go_duration_components(
    hours: int, minutes: int, seconds: int, nanos: int, negative: bool
) -> None:
    text = f"{'-' if negative else ''}{hours}h{minutes}m{seconds}.{nanos:09d}s"
    expected = timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=nanos // 1000)
    assert parse_go_duration(text) == (-expected if negative else expected)


def test_legacy_sitemaster_uptime() -> None:
    assert parse_legacy_uptime("802459s,") == timedelta(seconds=802459)
    assert parse_legacy_uptime("802459s") == timedelta(seconds=802459)
    with pytest.raises(ValueError, match="Go duration"):
        parse_legacy_uptime(",")


# --- epoch milliseconds, numbers -----------------------------------------------------------------


def test_epoch_millis() -> None:
    assert parse_epoch_millis(1640549366145) == datetime(2021, 12, 26, 20, 9, 26, 145000, UTC)
    assert parse_epoch_millis(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_epoch_millis(1.5) == datetime(1970, 1, 1, 0, 0, 0, 1500, UTC)
    assert parse_epoch_millis(-1000) == datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_epoch_millis(1640549366145).tzinfo is UTC


@pytest.mark.parametrize(
    "bad", [True, "1640549366145", None, float("nan"), float("inf"), 10**30, -(10**30)]
)
def test_bad_epoch_millis(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  the message varies by case
        parse_epoch_millis(bad)


@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_epoch_millis_is_exact(millis: int) -> None:
    moment = parse_epoch_millis(millis)
    assert (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) == millis


@pytest.mark.parametrize(
    ("value", "expected"),
    [(72, 72.0), (-0.0, 0.0), (-5347.455078125, -5347.455078125), (Decimal("1.5"), 1.5)],
)
def test_numbers(value: object, expected: float) -> None:
    number = parse_number(value)
    assert number == expected
    assert type(number) is float


@pytest.mark.parametrize(
    "bad", [True, False, "72", None, float("nan"), float("inf"), -float("inf"), 10**400, [1]]
)
def test_bad_numbers(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  the message varies by case
        parse_number(bad)


def test_integers() -> None:
    assert parse_integer(11) == 11
    assert parse_integer(11.0) == 11
    assert parse_integer(576460752303423488) == 576460752303423488  # exact, not via float
    with pytest.raises(ValueError, match="whole"):
        parse_integer(11.5)
    with pytest.raises(ValueError, match="number"):
        parse_integer(True)


# --- the Annotated types inside a model, and Tolerant --------------------------------------------


class Colour(StrEnum):
    RED = "red"
    UNKNOWN = "UNKNOWN"


class Sample(BaseModel):
    at: Timestamp = None
    span: GoDuration | None = None
    when: EpochMillis | None = None
    number: Number | None = None
    count: Integer | None = None
    colour: Tolerant[Colour] | None = None


def test_annotated_types_in_a_model() -> None:
    sample = Sample.model_validate(
        {
            "at": "0001-01-01T00:00:00Z",
            "span": "1m30s",
            "when": 0,
            "number": 3,
            "count": 4.0,
            "colour": "red",
        }
    )
    assert sample.at is None
    assert sample.span == timedelta(seconds=90)
    assert sample.when == datetime(1970, 1, 1, tzinfo=UTC)
    assert sample.number == 3.0
    assert type(sample.number) is float
    assert sample.count == 4
    assert type(sample.count) is int
    assert sample.colour == Tolerant(Colour.RED, "red")


@pytest.mark.parametrize("bad", [{"at": 5}, {"span": 90}, {"when": "0"}, {"at": "yesterday"}])
def test_time_values_of_an_unseen_form_become_none(bad: dict[str, object]) -> None:
    sample = Sample.model_validate({**bad, "number": 3})
    assert getattr(sample, next(iter(bad))) is None
    assert sample.number == 3.0  # the readings beside it survive


@pytest.mark.parametrize(
    "bad",
    [
        {"number": "3"},
        {"number": True},
        {"count": 1.5},
        {"colour": 1},
    ],
)
def test_annotated_types_reject_wrong_types(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Sample.model_validate(bad)


def test_tolerant_keeps_unseen_text() -> None:
    sample = Sample.model_validate({"colour": "ultraviolet"})
    assert sample.colour is not None
    assert sample.colour.value is Colour.UNKNOWN
    assert sample.colour.raw == "ultraviolet"
    assert not sample.colour.known
    assert str(sample.colour) == "ultraviolet"
    assert sample.model_dump() == {**sample.model_dump(), "colour": "ultraviolet"}
    assert Sample.model_validate_json(sample.model_dump_json()) == sample


def test_tolerant_is_immutable_and_hashable() -> None:
    red = Tolerant(Colour.RED, "red")
    assert red.known
    assert hash(red) == hash(Tolerant(Colour.RED, "red"))
    assert red != Tolerant(Colour.UNKNOWN, "red")
    assert red != "red"
    with pytest.raises(AttributeError):
        red.raw = "blue"  # type: ignore[misc]


def test_tolerant_needs_an_enum_with_unknown() -> None:
    class NoUnknown(StrEnum):
        A = "a"

    with pytest.raises(TypeError, match="UNKNOWN"):

        class Broken(BaseModel):
            field: Tolerant[NoUnknown]
