"""Hostile values, as hypothesis strategies: what a browser, a script or an attacker can put in
a form field, a query parameter or a file.

Text with NUL bytes and lone surrogates (sent as the bytes a careless client would encode
them to, `surrogatepass`: \\ud800 becomes ED A0 80), strings of 100,000 characters, numbers
at and past every integer width, dates and datetimes at the edges of what PostgreSQL and
Python can read back (year 1, 9999, 10000; offsets past ±15:59 such as +20:00 and -15:00),
and malformed files (images, PDFs, spreadsheets, CSV and JSON that lie about themselves).

Each strategy mixes these with ordinary values, so that one bad field meets a form whose other
fields are valid and the input reaches the save, not just the first validator."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache

from hypothesis import strategies as st


class _Absent:
    """The field is left out of the submission altogether."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {len(self.content)} bytes, {self.content_type})"


# --- text -----------------------------------------------------------------------------------

LONG = 100_000
NASTY_STRINGS = [
    "", " ", "\x00", "a\x00b", "\x00" * 10, "\ud800", "\udfff", "a\udc80b", "\ud83d",
    "\ud800\x00", "\ufffd", "\ufeff", "\u202e", "\u0000abc", "\r\n", "\t", "\x1b[2J", "\x7f",
    "İ", "ß", "ﬃ", "🙂", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "e\u0301", "%00", "%ED%A0%80", "{{ 7|add:7 }}", "{# x",
    "{% debug %}", "<script>x</script>", "'\"", "\\", "../../../etc/passwd", "NaN", "null",
    "None", "undefined", "-", "0", "-1", "1e309", "0x1", "true", "[]", "{}", "\u3000",
]


def _text_alphabet() -> st.SearchStrategy[str]:
    return st.one_of(
        st.characters(codec=None, categories=["Cs"]),  # lone surrogates
        st.sampled_from(["\x00", "\n", "\r", "\u2028", "\ufffe", "\U0010ffff"]),
        st.characters(codec=None),
    )


def long_text(max_length: int = LONG) -> st.SearchStrategy[str]:
    lengths = [n for n in (65, 101, 201, 256, 501, 1001, 4097, 10_001, LONG) if n <= max_length]
    return st.tuples(st.sampled_from(lengths), st.sampled_from(["a", "é", "🙂", "\x00", "\ud800",
                                                                 "a\x00", "9"])).map(
        lambda pair: (pair[1] * pair[0])[: pair[0]])


def nasty_text(max_length: int = LONG) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.text(_text_alphabet(), max_size=40),
        long_text(max_length),
        st.tuples(st.sampled_from(["Fuzz", "2024-05-09", "1"]), st.sampled_from(
            ["\x00", "\ud800", "\udfff", " ", "\n"])).map("".join),
    )


# --- numbers --------------------------------------------------------------------------------

NASTY_NUMBERS = [
    "0", "-0", "-1", "1.5", "0.0000001", "2147483647", "2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "99999999999999999999999999999999", "1e308", "1e309", "-1e309", "1e-400", "NaN", "nan",
    "Infinity", "-inf", "1_000", " 7 ", "٣", "１２", "0x10", "1,5", "+1", "--1", "1e", ".",
    "90.0000001", "-180.000001", "3" * 400, "1." + "0" * 200 + "1",
]


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_NUMBERS),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.decimals(allow_nan=False, allow_infinity=False, places=12).map(str),
    )


# --- dates and times ------------------------------------------------------------------------

NASTY_DATES = [
    "0001-01-01", "0000-01-01", "9999-12-31", "10000-01-01", "99999-12-31", "-0001-01-01",
    "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-05-32", "1970-01-01",
    "1899-12-31", "31/12/9999", "12/31/9999", "9999-12-31T23:59:59", "2024-5-9", "2024",
    "XXXX-05-09", "2024-05-09/..", "../2024", "2024-21", "Y-170000002", "Y170000002-01-01",
    "2024-05-09?~%", "[2024-05-09..2024-06-01]", "{2024,2025}", "2024-05-09/2024-05-08",
    "1/9999", "0001-01-01/9999-12-31",
]
NASTY_DATETIMES = [
    "9999-12-31T23:59:59-15:00", "9999-12-31T23:59:59-23:59", "9999-12-31 23:59:59-15:00",
    "9999-12-31T23:59:59+20:00", "2024-05-09T12:00:00+20:00", "2024-05-09T12:00:00-15:00",
    "2024-05-09T12:00:00+15:59", "2024-05-09T12:00:00+16:00", "2024-05-09T12:00:00+99:99",
    "2024-05-09T12:00:00+2400", "2024-05-09T12:00:00Z", "0001-01-01T00:00:00+15:00",
    "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00-01:00", "10000-01-01T00:00",
    "9999-12-31T23:59", "9999-12-31T24:00", "2024-05-09T25:61", "2024-05-09T23:59:60",
    "2024-05-09T12:00:00.9999999", "2024-05-09T12:00:00+20", "2024-05-09T12:00+05:30:30",
    "2024-05-09 12:00:00 +20:00", "2024-03-31T02:30", "1970-01-01T00:00:00+14:00",
]
NASTY_TIMES = ["00:00", "23:59:59.999999", "24:00", "23:60", "23:59:60", "99:99", "-1:00",
               "12:00:00+20:00", "12", "12:00 PM", "noon", "1:2:3:4"]


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_DATES),
        st.dates().map(lambda d: d.isoformat()),
        st.tuples(st.integers(-99999, 99999), st.integers(0, 13), st.integers(0, 32)).map(
            lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"),
    )


def datetimes(*, local: bool = False) -> st.SearchStrategy[str]:
    """ISO datetimes; `local`: as a browser's datetime-local input sends them (no offset),
    mixed with offsets anyway, since nothing stops a script from adding one."""
    edge_years = st.sampled_from([1, 2, 1970, 2024, 9998, 9999, 10000])
    moment = st.tuples(
        st.one_of(edge_years, st.integers(1, 9999)), st.integers(1, 12), st.integers(1, 28),
        st.integers(0, 23), st.integers(0, 59),
    ).map(lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}")
    with_offset = st.tuples(moment, st.integers(-26 * 60, 26 * 60)).map(
        lambda pair: pair[0] + ":00" + _offset(pair[1]))
    return st.one_of(
        st.sampled_from(NASTY_DATETIMES),
        moment if local else with_offset,
        with_offset if local else moment,
        st.datetimes().map(lambda d: d.isoformat()),
    )


def times() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY_TIMES), st.times().map(lambda t: t.isoformat()))


def urls() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([
            "http://", "https://", "https://example.org/\x00", "https://example.org/\ud800",
            "javascript:alert(1)", "data:text/html,x", "https://[::1", "https://[::1]:99999/",
            "https://exa mple.org/", "https://" + "a" * 300 + ".org/", "//example.org",
            "https://xn--.org/", "https://example.org/" + "a" * 2000, "ftp://example.org/",
            "https://ex\u202eample.org/", "https://user:pass@example.org/", "example.org",
        ]),
        st.text(_text_alphabet(), max_size=20).map(lambda s: f"https://example.org/{s}"),
    )


def emails() -> st.SearchStrategy[str]:
    return st.sampled_from(["a@b", "@", "a@", "a" * 300 + "@example.org", "a@\x00.org",
                            "a@[::1]", "\ud800@example.org", "a@example.org\n"])


# --- files ----------------------------------------------------------------------------------

def _png(width: int = 1, height: int = 1, *, body: bytes | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = body if body is not None else zlib.compress(b"\x00\xff\x00\x00" * height)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def _xlsx(*, styles: bytes | None = None, dimension: str | None = None,
          cells: str = '<c r="A1" t="inlineStr"><is><t>x</t></is></c>') -> bytes:
    """A hand-made workbook: small, with whatever styles.xml or sheet dimension is asked."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxml'
            'formats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
            'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles'
            '+xml"/></Types>'))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        z.writestr("xl/workbook.xml", (
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="incidents" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>'))
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/styles" '
            'Target="styles.xml"/></Relationships>'))
        z.writestr("xl/styles.xml", styles or (
            b'<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><fills count="1"><fill><patternFill patternType="none"/>'
            b'</fill></fills></styleSheet>'))
        dim = f'<dimension ref="{dimension}"/>' if dimension else ""
        z.writestr("xl/worksheets/sheet1.xml", (
            '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main">{dim}<sheetData><row r="1">{cells}</row></sheetData>'
            '</worksheet>'))
    return buf.getvalue()


@cache
def malformed_files() -> list[Upload]:
    """A fixed catalogue (built once): each lies about itself or breaks a parser's limits."""
    surrogate = "\ud800".encode("utf-8", "surrogatepass")
    files = [
        Upload("empty.txt", b"", "text/plain"),
        Upload("one.bin", b"\x00"),
        Upload("nul.csv", b"title,occurred\nA\x00B,2024-05-09\n", "text/csv"),
        Upload("latin1.csv", b"title,occurred\n\xe9t\xe9,2024-05-09\n", "text/csv"),
        Upload("invalid-utf8.csv", b"\xff\xfe\xfa\xfb,\x80\n", "text/csv"),
        Upload("surrogate.csv", b"title,occurred\n" + surrogate + b",2024-05-09\n", "text/csv"),
        Upload("bom-only.csv", b"\xef\xbb\xbf", "text/csv"),
        Upload("wide.csv", b",".join([b"c"] * 20_000) + b"\n", "text/csv"),
        Upload("long-line.csv", b"title\n" + b"a" * 200_000 + b"\n", "text/csv"),
        Upload("rows.csv", b"title,occurred\n" + b"x,2024-05-09\n" * 20_000, "text/csv"),
        Upload("quotes.csv", b'title\n"unterminated\n' + b"x" * 100, "text/csv"),
        Upload("dates.csv", (b"title,occurred,captured_at,deadline\nA,9999-12-31,"
                             b"9999-12-31T23:59:59-15:00,2024-05-09T12:00:00+20:00\n"),
               "text/csv"),
        Upload("deep.json", b"[" * 1000 + b"]" * 1000, "application/json"),
        Upload("deeper.json", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json"),
        Upload("surrogate.json", b'{"case": {"title": "\\ud800"}, "incidents": []}',
               "application/json"),
        Upload("offset.json", b'{"incidents": [{"title": "x", "occurred": "2024-05-09", '
               b'"updated_at": "2024-05-09T12:00:00+20:00"}]}', "application/json"),
        Upload("numbers.json", b'{"incidents": [{"involved": 1e400, "killed": NaN, '
               b'"detained": ' + b"9" * 5000 + b"}]}", "application/json"),
        Upload("dupes.json", b'{"incidents": [], "incidents": {}}', "application/json"),
        Upload("truncated.json", b'{"incidents": [{"title": "x"', "application/json"),
        Upload("not-json.json", b"\xff\xfe{}", "application/json"),
        Upload("nul.json", b'{"incidents": [{"title": "a\\u0000b"}]}', "application/json"),
        Upload("truncated.png", _png()[:30], "image/png"),
        Upload("huge.png", _png(200_000, 200_000, body=zlib.compress(b"\x00" * 100)),
               "image/png"),
        Upload("bad-idat.png", _png(body=b"not zlib"), "image/png"),
        Upload("junk.jpg", b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\xff" * 100, "image/jpeg"),
        Upload("exif-junk.jpg", b"\xff\xd8\xff\xe1\xff\xffExif\x00\x00" + b"\x00" * 50,
               "image/jpeg"),
        Upload("gif.gif", b"GIF89a\xff\xff\xff\xff" + b"\x00" * 20, "image/gif"),
        Upload("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\n%%EOF",
               "application/pdf"),
        Upload("loop.pdf", b"%PDF-1.4\n1 0 obj << /Info 1 0 R /Root 1 0 R >> endobj\ntrailer "
               b"<< /Root 1 0 R /Info 1 0 R >>\n%%EOF", "application/pdf"),
        Upload("html.png", b"<!doctype html><script>alert(1)</script>", "image/png"),
        Upload("svg.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
               "image/svg+xml"),
        Upload("mp4.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, "video/mp4"),
        Upload("not-a-zip.xlsx", b"PK\x03\x04" + b"\x00" * 100),
        Upload("empty-fill.xlsx", _xlsx(styles=(
            b'<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><fills count="1"><fill/></fills></styleSheet>'))),
        Upload("huge-dimension.xlsx", _xlsx(dimension="A1:XFD1048576")),
        Upload("far-cell.xlsx", _xlsx(cells='<c r="XFD1048576"><v>1</v></c>')),
        Upload("bad-styles.xlsx", _xlsx(styles=b"<not-xml")),
        Upload("billion-laughs.xlsx", _xlsx(styles=(
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;'
            b'&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><styleSheet xmlns="http://schemas'
            b'.openxmlformats.org/spreadsheetml/2006/main">&lol2;</styleSheet>'))),
        Upload("zip.zip", _xlsx(), "application/zip"),
    ]
    return files


FILENAMES = ["a.txt", "", ".", "..", "a\x00.png", "\ud800.csv", "x" * 300 + ".csv",
             "../../etc/passwd", "CON.txt", "a b.pdf", "é.json", "a.png\n.exe", "noext"]


def uploads() -> st.SearchStrategy[Upload]:
    """A malformed file, sometimes under a hostile name or declared type."""
    catalogue = st.sampled_from(malformed_files())
    renamed = st.tuples(catalogue, st.sampled_from(FILENAMES)).map(
        lambda pair: Upload(pair[1], pair[0].content, pair[0].content_type))
    retyped = st.tuples(catalogue, st.sampled_from(
        ["text/html", "image/png", "\x00", "application/pdf; charset=\ud800", ""])).map(
        lambda pair: Upload(pair[0].filename, pair[0].content, pair[1]))
    return st.one_of(catalogue, catalogue, renamed, retyped)


def wellformed_png() -> Upload:
    return Upload("photo.png", _png(2, 2), "image/png")


# --- by field -------------------------------------------------------------------------------

DATE_HINTS = ("date", "_on", "due", "deadline", "day")
DATETIME_HINTS = ("_at", "time", "before", "after", "since", "until", "deadline", "moment")


def for_name(name: str, *, max_length: int = LONG) -> st.SearchStrategy[str]:
    """Values for a field or parameter known only by its name (a text input, a query
    parameter): hostile text, plus numbers and dates when the name suggests them."""
    lowered = name.lower()
    choices = [nasty_text(max_length), numbers()]
    if any(h in lowered for h in DATE_HINTS) or lowered in ("occurred", "e"):
        choices.append(dates())
    if any(h in lowered for h in DATETIME_HINTS) or lowered.endswith("__gte") \
            or lowered.endswith("__lt"):
        choices.append(datetimes())
    return st.one_of(*choices)
