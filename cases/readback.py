"""Reading back a date or datetime the database holds but Python cannot: log it, show the
nearest bound, and let the page show the rest.

PostgreSQL stores timestamps up to the year 294276; psycopg refuses anything past 9999-12-31
("timestamp too large"), and one such value in a row (or in its append-only history) would
fail every page that reads it, for good. cases/timebounds.py keeps such values out on every
input path; this module covers what a database may already hold (raw SQL, an old version,
a restored dump). On PostgreSQL `install_psycopg_loaders` wraps the connection's loaders for
timestamptz, timestamp and date; on SQLite `install_sqlite_converters` replaces Django's
converters for datetime and date columns, and `install_sqlite_operations` its converters of
computed values. A timestamptz outside cases.timebounds' range is
clamped too: it would overflow when shown in a time zone east or west of UTC.
"""
from __future__ import annotations

import logging
import sqlite3
from functools import cache

from django.utils.dateparse import parse_date, parse_datetime

from .timebounds import EARLIEST_DATE, EARLIEST_DATETIME, LATEST_DATE, LATEST_DATETIME

logger = logging.getLogger(__name__)

EARLIEST_NAIVE = EARLIEST_DATETIME.replace(tzinfo=None)
LATEST_NAIVE = LATEST_DATETIME.replace(tzinfo=None)


def _warn(kind: str, raw, shown) -> None:
    logger.warning("Out-of-range %s value in the database (%s): shown as %s. Correct the row; "
                   "its history keeps the value.", kind, raw, shown.isoformat())


# --- PostgreSQL (psycopg 3) -----------------------------------------------------------------

@cache
def _safe_loader(inner, kind: str, low, high, bounded: bool):
    """A loader that reads through `inner` (the connection's own, so psycopg's C loaders and
    Django's time-zone loader keep doing the work) and clamps what it refuses."""
    from psycopg.adapt import Loader
    from psycopg.errors import DataError

    # Django's timestamptz loader says which time zone it gives (None: naive, USE_TZ off).
    zone_aware = hasattr(inner, "timezone")

    class SafeLoader(Loader):
        format = inner.format
        # Django compares this with the connection's time zone before each cursor.
        timezone = getattr(inner, "timezone", None)

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._inner = inner(oid, context)

        def _as_loaded(self, value):
            """A bound as `inner` would have given it: in its time zone, or naive."""
            if not zone_aware or getattr(value, "tzinfo", None) is None:
                return value
            return value.astimezone(self.timezone) if self.timezone else value.replace(
                tzinfo=None)

        def load(self, data):
            try:
                value = self._inner.load(data)
            except DataError as exc:
                message = str(exc)
                if "too large" in message:
                    shown = self._as_loaded(high)
                elif "too small" in message:
                    shown = self._as_loaded(low)
                else:
                    raise
                _warn(kind, message, shown)
                return shown
            if bounded and value is not None:
                naive = value.tzinfo is None
                lowest = low.replace(tzinfo=None) if naive else low
                highest = high.replace(tzinfo=None) if naive else high
                if not lowest <= value <= highest:
                    shown = self._as_loaded(high if value > highest else low)
                    _warn(kind, value.isoformat(), shown)
                    return shown
            return value

    SafeLoader.__name__ = SafeLoader.__qualname__ = f"Safe{inner.__name__}"
    return SafeLoader


def install_psycopg_loaders(connection) -> None:
    """Wrap a new psycopg connection's date and time loaders (see the module's docstring)."""
    from psycopg.pq import Format

    adapters = connection.adapters
    for name, low, high, bounded in (
        ("timestamptz", EARLIEST_DATETIME, LATEST_DATETIME, True),
        ("timestamp", EARLIEST_NAIVE, LATEST_NAIVE, False),
        ("date", EARLIEST_DATE, LATEST_DATE, False),
    ):
        oid = adapters.types[name].oid
        for fmt in (Format.TEXT, Format.BINARY):
            inner = adapters.get_loader(oid, fmt)
            if inner is None or getattr(inner, "_casedesk_safe", False):
                continue
            loader = _safe_loader(inner, name, low, high, bounded)
            loader._casedesk_safe = True
            adapters.register_loader(oid, loader)


# --- SQLite -----------------------------------------------------------------------------------

def _sqlite_datetime(text: str):
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        # Five-digit years and BC dates do not parse; nor does anything else unreadable.
        shown = EARLIEST_NAIVE if text.lstrip().startswith("-") else LATEST_NAIVE
        _warn("datetime", repr(text), shown)
        return shown
    low, high = ((EARLIEST_DATETIME, LATEST_DATETIME) if value.tzinfo
                 else (EARLIEST_NAIVE, LATEST_NAIVE))
    if not low <= value <= high:
        shown = high if value > low else low
        _warn("datetime", repr(text), shown)
        return shown
    return value


def _sqlite_date(text: str):
    try:
        value = parse_date(text)
    except ValueError:
        value = None
    if value is None:
        shown = EARLIEST_DATE if text.lstrip().startswith("-") else LATEST_DATE
        _warn("date", repr(text), shown)
        return shown
    return value


def install_sqlite_converters() -> None:
    """Replace Django's process-wide sqlite3 converters for datetime and date columns (its
    backend registers them when imported, so it is imported first)."""
    import django.db.backends.sqlite3.base  # noqa: F401

    def from_bytes(read):
        return lambda raw: read(raw.decode("utf-8", "replace"))

    for name in ("datetime", "timestamp"):
        sqlite3.register_converter(name, from_bytes(_sqlite_datetime))
    sqlite3.register_converter("date", from_bytes(_sqlite_date))


def install_sqlite_operations(connection) -> None:
    """Computed values (MIN, MAX, a date hierarchy's range) come back as text, which sqlite3's
    converters never see: the connection's own converters read them the same way."""
    ops = connection.ops
    if getattr(ops, "_casedesk_safe", False):
        return
    convert_datetime, convert_date = ops.convert_datetimefield_value, ops.convert_datefield_value

    def convert_datetimefield_value(value, expression, connection):
        if isinstance(value, str):
            value = _sqlite_datetime(value)
        return convert_datetime(value, expression, connection)

    def convert_datefield_value(value, expression, connection):
        if isinstance(value, str):
            value = _sqlite_date(value)
        return convert_date(value, expression, connection)

    ops.convert_datetimefield_value = convert_datetimefield_value
    ops.convert_datefield_value = convert_datefield_value
    ops._casedesk_safe = True


def on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql" and hasattr(connection.connection, "adapters"):
        install_psycopg_loaders(connection.connection)
    elif connection.vendor == "sqlite":
        install_sqlite_operations(connection)
