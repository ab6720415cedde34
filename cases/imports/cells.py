"""Reading one cell: what a person typed (`cell_text`) and the parsers that turn a cell into
a stored value or raise CellError saying what is wrong with it. The tabular importers and the
case JSON importer read their values with these."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime as django_parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_countries import countries

from .. import fuzzydate, timebounds
from ..text import language_code, one_line, tidy_text
from .refusals import CellError, RowError, cell_problem


def cell_text(value) -> str:
    """A cell as the text a person typed (XLSX numbers and dates included). A list or an
    object, which only a JSON file can give, is refused: read as its printed form it would be
    stored as a text no one typed ("['Rostov']")."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        raise CellError(_("is a list: give a single value"), code="invalid")
    if isinstance(value, dict):
        raise CellError(_("is an object: give a single value"), code="invalid")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def shown_text(value) -> str:
    """A cell as the preview and the error messages show it, which never refuses: as
    cell_text() reads it, and a list or an object as the file's JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return cell_text(value)


def normalise_header(name) -> str:
    return re.sub(r"[\s\-]+", "_", cell_text(name).strip().lower())


def parse_text(value, *, max_length=None, multiline=False) -> str:
    text = tidy_text(cell_text(value)) if multiline else one_line(cell_text(value))
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        # Our CSV exports put an apostrophe before a text a spreadsheet would run as a
        # formula; it is not part of the text.
        text = text[1:]
    if "\x00" in text:
        raise CellError(_("contains a NUL byte"), code="null_characters_not_allowed")
    if max_length is not None and len(text) > max_length:
        raise CellError(ngettext("is %(length)d character long; at most %(max)d are allowed",
                                 "is %(length)d characters long; at most %(max)d are allowed",
                                 len(text)) % {"length": len(text), "max": max_length},
                        code="max_length")
    return text


def parse_count(value) -> int | None:
    if isinstance(value, bool):
        raise CellError(_("is not a whole number"), code="invalid")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError(_("“%(value)s” is not a whole number") % {"value": value},
                            code="invalid")
        number = int(value)
    else:
        text = cell_text(value).strip()
        if not text:
            return None
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise CellError(_("“%(value)s” is not a whole number (leave it empty when "
                              "unknown)") % {"value": text[:40]}, code="invalid")
        number = int(text)
    if number < 0:
        raise CellError(_("cannot be negative"), code="min_value")
    if number > 2_147_483_647:
        raise CellError(_("is too large"), code="max_value")
    return number


_SIX_PLACES = Decimal("0.000001")


def parse_coordinate(value, limit: int) -> Decimal | None:
    if isinstance(value, float):
        text = repr(value)
    else:
        text = cell_text(value).strip().replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(_("“%(value)s” is not a number in decimal degrees")
                        % {"value": text[:40]}, code="invalid") from None
    if not number.is_finite() or not -limit <= number <= limit:
        code = "invalid" if number.is_nan() else "min_value" if number < 0 else "max_value"
        raise CellError(_("must be between -%(limit)d and %(limit)d") % {"limit": limit},
                        code=code)
    # Storage keeps six decimal places (about 10 cm): more is rounded, not refused.
    return number.quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)


def choice_lookup(choices) -> dict[str, str]:
    lookup = {}
    for value, label in choices.choices:
        lookup[value.lower()] = value
        lookup[str(label).lower()] = value
    return lookup


def parse_choice(value, lookup: dict[str, str], allowed: str, *, default="") -> str:
    text = one_line(cell_text(value)).lower()
    if not text:
        return default
    try:
        return lookup[text]
    except KeyError:
        raise CellError(_("“%(value)s” is not one of: %(allowed)s")
                        % {"value": text[:40], "allowed": allowed},
                        code="invalid_choice") from None


@functools.lru_cache(maxsize=4096)
def parse_country(text: str) -> str:
    text = one_line(text)
    if not text:
        return ""
    code = countries.alpha2(text) if len(text) in (2, 3) or text.isdigit() else ""
    code = code or countries.by_name(text) or countries.by_name(text, insensitive=True)
    if not code:
        raise CellError(_("“%(value)s” is not a country name or ISO 3166 code (RU, UA, GE…)")
                        % {"value": text[:40]}, code="invalid_choice")
    return code


def parse_country_cell(value) -> str:
    return parse_country(cell_text(value))


_TRUE = {"yes", "y", "true", "1", "x", "protected", "да"}
_FALSE = {"", "no", "n", "false", "0", "public", "нет"}


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = one_line(cell_text(value)).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("“%(value)s” is neither yes nor no") % {"value": text[:40]},
                    code="invalid")


def parse_language(value) -> str:
    return language_code(cell_text(value))


# A claim's figure as the model stores it: at most 12 digits before the point, 2 after.
_FIGURE_LIMIT = Decimal("1e12")


def parse_figure(value) -> Decimal | None:
    """The number a claim's statement gives: 0 or more, at most two decimal places (a
    decimal comma is read too)."""
    if isinstance(value, bool):
        raise CellError(_("is not a number"), code="invalid")
    text = repr(value) if isinstance(value, float) else cell_text(value).strip()
    text = text.replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        # 1,200 is twelve hundred in English and 1.2 in Russian: never guessed.
        raise CellError(_("“%(value)s” could be read two ways: write the number without a "
                          "thousands separator (1200), or with a decimal point (1.2)")
                        % {"value": text[:40]}, code="ambiguous_number")
    text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(_("“%(value)s” is not a figure (a number such as 10 or 2.5; say "
                          "“at least” in figure_qualifier)") % {"value": text[:40]},
                        code="invalid") from None
    if not number.is_finite():
        raise CellError(_("“%(value)s” is not a figure") % {"value": text[:40]}, code="invalid")
    if number < 0:
        raise CellError(_("cannot be negative"), code="min_value")
    if number >= _FIGURE_LIMIT:
        raise CellError(_("is too large"), code="max_value")
    if number != number.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN):
        raise CellError(_("has more than two decimal places"), code="max_decimal_places")
    return number


def parse_moment(value) -> dt.datetime | None:
    """A day or a moment, as the record forms read one: a day (2024-05-09, or an Excel date
    cell) is its midnight, and a time without a UTC offset is in the site's time zone."""
    text = cell_text(value).strip()
    if not text:
        return None
    try:
        parsed = django_parse_datetime(text.replace(" ", "T", 1))
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise CellError(_("“%(value)s” is not a day or a date and time (2024-05-09, "
                              "2024-05-09 14:30)") % {"value": text[:40]},
                            code="invalid") from None
        parsed = dt.datetime.combine(day, dt.time(0, 0))
    if parsed.tzinfo is None:
        try:
            parsed = timezone.make_aware(parsed)
        except (ValueError, OverflowError):
            raise CellError(_("“%(value)s” cannot be read in the site's time zone")
                            % {"value": text[:40]}, code="invalid") from None
    _within_bounds(parsed, timebounds.validate_datetime_in_range)
    return parsed


# What each parser makes of an empty cell (parse_choice: its `default`).
EMPTY_CELL = {parse_text: "", parse_count: None, parse_coordinate: None,
              parse_country_cell: "", parse_bool: False, parse_choice: "",
              parse_figure: None, parse_moment: None}


def read_cell(values: dict, name: str, parser, errors: list[RowError], *args, **kwargs):
    """The value of cell `name` of a row (`values`) read with `parser`, or None with the
    cell's problem added to `errors`."""
    value = values.get(name)
    if (value is None or value == "") and parser in EMPTY_CELL:
        # Most cells of a large file are empty: skip the parser (same result).
        return kwargs.get("default", "") if parser is parse_choice else EMPTY_CELL[parser]
    try:
        return parser(value, *args, **kwargs)
    except CellError as exc:
        errors.append(cell_problem(name, exc, exc.code))
        return None


_url_validator = URLValidator(schemes=["http", "https"])


def parse_url(value) -> str:
    text = one_line(cell_text(value))
    if not text:
        return ""
    if len(text) > 500:
        raise CellError(_("is longer than 500 characters"), code="max_length")
    try:
        _url_validator(text)
    except ValidationError:
        raise CellError(_("“%(value)s” is not a web address (https://…)")
                        % {"value": text[:60]}, code="invalid") from None
    return text


# Dates.

@functools.lru_cache(maxsize=65536)
def _parse_date_cached(text: str) -> tuple[fuzzydate.FuzzyDate | None, str, str]:
    """fuzzydate.parse() once per distinct value of a file, refusals included: the date, or
    None with the refusal's message and code (those of the date fields of the forms)."""
    try:
        return fuzzydate.parse(text), "", ""
    except ValidationError as exc:
        return None, " ".join(exc.messages), _code_of(exc)


def _code_of(error: ValidationError) -> str:
    return next((e.code for e in error.error_list if e.code), "invalid")


def parse_occurred(value) -> fuzzydate.FuzzyDate:
    text = cell_text(value).strip()
    if not text:
        raise CellError(_("is empty: give the date, even a vague one (2024, 2024-05, "
                          "~2024-05-09)"), code="required")
    parsed, message, code = _parse_date_cached(text)
    if parsed is None:
        raise CellError(message, code=code)
    return parsed


def parse_datetime(value) -> dt.datetime | None:
    text = cell_text(value).strip()
    if not text:
        return None
    try:
        parsed = django_parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CellError(_("“%(value)s” is not a date and time (2024-05-09T14:30:00+00:00)")
                        % {"value": text[:40]}, code="invalid")
    if parsed.tzinfo is None:
        raise CellError(_("“%(value)s” has no time zone") % {"value": text[:40]},
                        code="no_time_zone")
    _within_bounds(parsed, timebounds.validate_datetime_in_range)
    return parsed


def _within_bounds(value, validator) -> None:
    """What the database can store and read back (cases/timebounds.py): an offset within
    ±15:59, a year before 10000 in every time zone."""
    try:
        validator(value)
    except ValidationError as exc:
        raise CellError(" ".join(exc.messages), code=exc.code) from None


def parse_day(value) -> dt.date | None:
    text = cell_text(value).strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CellError(_("“%(value)s” is not a day (2024-05-09)") % {"value": text[:40]},
                        code="invalid") from None
    _within_bounds(day, timebounds.validate_date_in_range)
    return day

