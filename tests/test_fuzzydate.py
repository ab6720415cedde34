"""Fuzzy incident dates: parsing EDTF (and hand-typed variants), plain-words rendering,
derived earliest/latest days, precision and ACLED time_precision."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cases import fuzzydate
from cases.enums import DatePrecision as P

D = dt.date

# input, normalised EDTF, description, earliest, latest, precision, ACLED time_precision
VALID = [
    ("2025-05-09", "2025-05-09", "9 May 2025", D(2025, 5, 9), D(2025, 5, 9), P.DAY, 1),
    ("2025-05-09T14:30", "2025-05-09T14:30:00", "9 May 2025, 14:30", D(2025, 5, 9),
     D(2025, 5, 9), P.TIME, 1),
    ("2025-05-09 14:30", "2025-05-09T14:30:00", "9 May 2025, 14:30", D(2025, 5, 9),
     D(2025, 5, 9), P.TIME, 1),
    ("2025-05-09T14:30Z", "2025-05-09T14:30:00Z", "9 May 2025, 14:30", D(2025, 5, 9),
     D(2025, 5, 9), P.TIME, 1),
    ("2025-05", "2025-05", "May 2025", D(2025, 5, 1), D(2025, 5, 31), P.MONTH, 3),
    ("2024-02", "2024-02", "February 2024", D(2024, 2, 1), D(2024, 2, 29), P.MONTH, 3),
    ("2025", "2025", "2025", D(2025, 1, 1), D(2025, 12, 31), P.YEAR, 3),
    ("2025-05~", "2025-05~", "about May 2025", D(2025, 5, 1), D(2025, 5, 31), P.MONTH, 3),
    ("2024?", "2024?", "2024 (uncertain)", D(2024, 1, 1), D(2024, 12, 31), P.YEAR, 3),
    ("2025-05-09%", "2025-05-09%", "about 9 May 2025, uncertain", D(2025, 5, 9),
     D(2025, 5, 9), P.DAY, 2),
    ("2025-05-09~", "2025-05-09~", "about 9 May 2025", D(2025, 5, 9), D(2025, 5, 9), P.DAY, 2),
    ("~2024-05-09", "2024-05-09~", "about 9 May 2024", D(2024, 5, 9), D(2024, 5, 9), P.DAY, 2),
    ("?2024-05-09", "2024-05-09?", "9 May 2024 (uncertain)", D(2024, 5, 9), D(2024, 5, 9),
     P.DAY, 2),
    ("  2025-05-09  ", "2025-05-09", "9 May 2025", D(2025, 5, 9), D(2025, 5, 9), P.DAY, 1),
    ("2024-02-29", "2024-02-29", "29 February 2024", D(2024, 2, 29), D(2024, 2, 29), P.DAY, 1),
    ("05-09", "XXXX-05-09", "9 May, year unknown", None, None, P.UNKNOWN_YEAR, 3),
    ("XXXX-05-09", "XXXX-05-09", "9 May, year unknown", None, None, P.UNKNOWN_YEAR, 3),
    ("xxxx-05-09", "XXXX-05-09", "9 May, year unknown", None, None, P.UNKNOWN_YEAR, 3),
    ("XXXX-02-29", "XXXX-02-29", "29 February, year unknown", None, None, P.UNKNOWN_YEAR, 3),
    ("XXXX-05", "XXXX-05", "May, year unknown", None, None, P.UNKNOWN_YEAR, 3),
    # A day of an unknown month is only known to the year.
    ("2025-XX-09", "2025-XX-09", "day 9 of an unknown month, 2025", D(2025, 1, 9),
     D(2025, 12, 9), P.YEAR, 3),
    ("2025-XX", "2025-XX", "2025", D(2025, 1, 1), D(2025, 12, 31), P.YEAR, 3),
    ("2025-05-08/2025-05-09", "2025-05-08/2025-05-09", "8–9 May 2025", D(2025, 5, 8),
     D(2025, 5, 9), P.RANGE, 2),
    ("2025-05-08 / 2025-05-09", "2025-05-08/2025-05-09", "8–9 May 2025", D(2025, 5, 8),
     D(2025, 5, 9), P.RANGE, 2),
    ("2025-05-08–2025-05-09", "2025-05-08/2025-05-09", "8–9 May 2025", D(2025, 5, 8),
     D(2025, 5, 9), P.RANGE, 2),
    ("2025-05-09/2025-05-09", "2025-05-09/2025-05-09", "9 May 2025", D(2025, 5, 9),
     D(2025, 5, 9), P.RANGE, 1),
    ("2025-05-01/2025-05-07", "2025-05-01/2025-05-07", "1–7 May 2025", D(2025, 5, 1),
     D(2025, 5, 7), P.RANGE, 2),
    ("2025-05-01/2025-05-08", "2025-05-01/2025-05-08", "1–8 May 2025", D(2025, 5, 1),
     D(2025, 5, 8), P.RANGE, 3),
    ("2025-04-28/2025-05-02", "2025-04-28/2025-05-02", "28 April – 2 May 2025",
     D(2025, 4, 28), D(2025, 5, 2), P.RANGE, 2),
    ("2024-12-30/2025-01-02", "2024-12-30/2025-01-02", "30 December 2024 – 2 January 2025",
     D(2024, 12, 30), D(2025, 1, 2), P.RANGE, 2),
    ("2024-12/2025-01", "2024-12/2025-01", "December 2024 – January 2025", D(2024, 12, 1),
     D(2025, 1, 31), P.RANGE, 3),
    ("2024/2025", "2024/2025", "2024 – 2025", D(2024, 1, 1), D(2025, 12, 31), P.RANGE, 3),
    ("2025-05-08/2025-05-09~", "2025-05-08/2025-05-09~", "about 8–9 May 2025", D(2025, 5, 8),
     D(2025, 5, 9), P.RANGE, 2),
    ("2025-05~/2025-06", "2025-05~/2025-06", "about May 2025 – June 2025", D(2025, 5, 1),
     D(2025, 6, 30), P.RANGE, 3),
    ("XXXX-05-09/XXXX-05-10", "XXXX-05-09/XXXX-05-10", "9–10 May, year unknown", None, None,
     P.RANGE, 3),
]


@pytest.mark.parametrize(
    "text, edtf, words, earliest, latest, precision, acled", VALID,
    ids=[row[0].strip() or "blank" for row in VALID],
)
def test_parse_valid_input_gives_edtf_words_bounds_and_precision(
        text, edtf, words, earliest, latest, precision, acled):
    when = fuzzydate.parse(text)

    assert when.edtf == edtf
    assert when.describe() == words
    assert str(when) == words
    assert when.earliest == earliest
    assert when.latest == latest
    assert when.precision == precision
    assert when.acled_time_precision == acled


@pytest.mark.parametrize("text", [row[1] for row in VALID])
def test_parse_normalised_edtf_is_stable(text):
    """The stored string parses again to itself (what Incident.save relies on)."""
    assert fuzzydate.parse(text).edtf == text


def test_parse_range_exposes_both_ends():
    when = fuzzydate.parse("2025-05-08/2025-05-09")

    assert when.is_range
    assert (when.start.year, when.start.month, when.start.day) == (2025, 5, 8)
    assert (when.end.year, when.end.month, when.end.day) == (2025, 5, 9)


def test_parse_single_point_is_not_a_range():
    when = fuzzydate.parse("2025-05-09")

    assert not when.is_range
    assert when.end is None


@pytest.mark.parametrize("text, approximate", [
    ("2025-05-09", False), ("2025-05~", True), ("2024?", True), ("2025-05-09%", True),
    ("2025-05-08/2025-05-09~", True), ("2025-05-08/2025-05-09", False),
])
def test_is_approximate_follows_qualifiers(text, approximate):
    assert fuzzydate.parse(text).is_approximate is approximate


@pytest.mark.parametrize("text, expected", [
    ("05-09", "XXXX-05-09"),
    ("~2024-05-09", "2024-05-09~"),
    ("%2024-05", "2024-05%"),
    ("2025-05-08 / 2025-05-09", "2025-05-08/2025-05-09"),
    ("2025-05-08–2025-05-09", "2025-05-08/2025-05-09"),
    ("2025-05-09 14:30", "2025-05-09T14:30:00"),
    ("2025-05-09T14:30", "2025-05-09T14:30:00"),
    ("2025-05-09T14:30+03:00", "2025-05-09T14:30:00+03:00"),
    ("2025-05-08\u00a0/\u00a02025-05-09", "2025-05-08/2025-05-09"),
    ("2025-05-08—2025-05-09", "2025-05-08/2025-05-09"),
    ("2025-uu-09", "2025-XX-09"),
    ("", ""),
    (None, ""),
])
def test_normalize_hand_typed_variants(text, expected):
    assert fuzzydate.normalize(text) == expected


def test_normalize_many_slashes_does_not_recurse():
    # It used to call itself once per slash and hit RecursionError.
    assert fuzzydate.normalize("/" * 5000).startswith("/")


INVALID = [
    ("garbage", "not a date Casedesk understands"),
    ("yesterday", "not a date Casedesk understands"),
    ("2025-02-30", "not a date Casedesk understands"),
    ("2025-02-29", "There is no 29 February 2025"),
    ("2023-02-29", "There is no 29 February 2023"),
    ("XXXX-02-30", "There is no 30 February"),
    ("XXXX-04-31", "There is no 31 April"),
    ("2025-13", "not a date Casedesk understands"),
    ("2025-00", "not a date Casedesk understands"),
    ("05-32", "not a date Casedesk understands"),
    ("2025-05-09T25:00", "not a date Casedesk understands"),
    ("0000-01-01", "year from 1 onwards"),
    ("-2025", "year from 1 onwards"),
    ("2025-05-09/2025-05-08", "ends before it starts"),
    ("2025-06/2025-05", "ends before it starts"),
    ("2025-05-09/..", "Open-ended ranges"),
    ("../2025-05-09", "Open-ended ranges"),
    ("2025-05-09/", "Open-ended ranges"),
    ("/2025-05-09", "Open-ended ranges"),
    ("2025-05-08/2025-05-09/2025-05-10", "not a date Casedesk understands"),
    ("XXXX-05-09/2025-05-10", "year at both ends"),
    ("2025-21", "does not support"),  # spring
    ("2025-24", "does not support"),  # winter
    ("[2025, 2026]", "does not support"),
    ("{2025, 2026}", "does not support"),
    ("Y12025", "does not support"),
    ("202X", "not single digits"),
    ("2025-05-1X", "not single digits"),
    ("2025-0X-09", "not single digits"),
    ("2025-0X", "not a date Casedesk understands"),  # the parser used to crash on these
    ("2025-X5", "not a date Casedesk understands"),
    ("2025-1X", "not a date Casedesk understands"),
    ("XXXX", "at least the year or the month"),
    ("XXXX-XX-09", "A day alone is not a date"),
    ("", "Enter a date"),
    ("   ", "Enter a date"),
    (None, "Enter a date"),
    ("\x00", "cannot be part of a date"),
    ("2025\x00-05-09", "cannot be part of a date"),
    ("2025-05-09\n", None),  # stripped: valid, checked below
]


@pytest.mark.parametrize("text, message", [row for row in INVALID if row[1]],
                         ids=[repr(row[0]) for row in INVALID if row[1]])
def test_parse_invalid_input_raises_validation_error(text, message):
    with pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse(text)

    assert message in " ".join(excinfo.value.messages)


def test_parse_trailing_newline_is_stripped():
    assert fuzzydate.parse("2025-05-09\n").edtf == "2025-05-09"


@pytest.mark.parametrize("text", [
    "9" * 10_240,
    "2025-05-09" * 1024,
    "/" * 10_240,
    "–" * 10_240,
    "~" * 10_240,
    "X" * 10_240,
    "2025-05-09/" * 1000,
    "\x00" * 10_240,
], ids=["digits", "dates", "slashes", "dashes", "tildes", "Xs", "ranges", "nul"])
def test_parse_ten_kilobytes_raises_validation_error_not_another_exception(text):
    with pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse(text)

    message = " ".join(excinfo.value.messages)
    assert "too long" in message
    assert len(message) < 500  # the input is not echoed back


def test_parse_non_string_raises_validation_error():
    with pytest.raises(ValidationError):
        fuzzydate.parse(20250509)


def test_parse_error_echoes_the_typed_value():
    with pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse("last Tuesday")

    assert "“last Tuesday”" in excinfo.value.messages[0]
    assert "2025-05-09" in excinfo.value.messages[0]  # with the format help


@pytest.mark.parametrize("text", ["2025-05-09/2025-05-08", "XXXX-05-09/2025-05-10"])
def test_parse_range_errors_have_invalid_range_code(text):
    with pytest.raises(ValidationError) as excinfo:
        fuzzydate.parse(text)

    assert excinfo.value.code == "invalid_range"


def test_date_point_describe_parts():
    point = fuzzydate.DatePoint(2025, 5, 9)

    assert point.describe() == "9 May 2025"
    assert point.describe(with_year=False) == "9 May"
    assert fuzzydate.DatePoint(None, 5, None).describe() == "May, year unknown"


@pytest.mark.parametrize("text", [
    "2024-05-09", "2024-05", "2024", "~2024-05-09", "2024-05-09~", "2024-05?", "2024%",
    "?2024", "05-09", "XXXX-05-09", "02-29", "xxxx-12-31", " 2024-05-09 ", "2024-02-29",
    "2025-02-29", "2024-13", "2024-00-10", "0000", "XXXX-05", "2024-05-09T14:30",
    "2024-05-08/2024-05-09", "2024-21", "13-01", "31-02", "2024-04-31",
])
def test_plain_forms_parse_as_the_edtf_parser_would(text):
    """parse() builds the plain forms itself (the EDTF parser takes milliseconds a value):
    the result, or the refusal, is the parser's own."""
    def outcome(parse):
        try:
            return parse(text)
        except ValidationError as exc:
            return ("refused", tuple(exc.messages))

    def edtf_parser_only(text):
        return fuzzydate._parse_normalized(fuzzydate.normalize(text), text)

    assert outcome(fuzzydate.parse) == outcome(edtf_parser_only)


def test_plain_forms_skip_the_edtf_parser():
    fuzzydate._parse_normalized.cache_clear()

    assert fuzzydate.parse("2024-05-09").describe() == "9 May 2024"
    assert fuzzydate.parse("XXXX-05-09").describe().startswith("9 May")

    assert fuzzydate._parse_normalized.cache_info().misses == 0
