"""Evidence uploads: what Casedesk accepts, and what it does to a file before storing it.

One check serves every way in (the workspace form and the admin both mix in
cases.forms.uploads.EvidenceUploadFormMixin, whose clean_file() calls `clean_upload()`):

1. **Size.** Files over `settings.EVIDENCE_MAX_UPLOAD_BYTES` are refused. `SizeLimitUploadHandler`
   (first in FILE_UPLOAD_HANDLERS) stops keeping such a file's bytes while the request is read,
   so an oversize file never lands in memory or in a temporary file whole; the form still says
   how big it was, beside the file field.
2. **Kind, by content.** The first bytes are matched against `SIGNATURES` (our own table: see
   docs/architecture.md, "Uploads"). Only the kinds in `ACCEPTED` pass; the browser's declared
   type is never read, and the file name's extension must be one of the detected kind's. Known
   dangerous or uncleanable kinds (HTML, SVG, programs, archives, GIF, HEIC…) are refused by
   name, anything unrecognised is refused too. Text must be UTF-8 throughout and must not be
   markup.
3. **Images lose their metadata.** JPEG, PNG and WebP are decoded with Pillow (a damaged or
   disguised file fails here). One that carries anything besides its pixels (EXIF with the GPS
   position and camera, XMP, IPTC, comments, text chunks, colour profiles, extra images,
   bytes after the image) is re-encoded from its pixels alone, after its EXIF orientation has
   been applied: PNG and WebP losslessly, JPEG with its own quantisation tables and chroma
   subsampling. A file that carries nothing but pixels is stored byte for byte.
4. **PDFs lose their metadata too**: the document information dictionary (Author, Creator,
   Producer, dates…) and every XMP packet (the document's, a page's, an embedded image's) are
   removed, and the file is written anew with only the objects the document uses, so
   sections from earlier saves (incremental updates keep what a later save removed) and data
   after its end go too. A PDF with none of these is stored byte for byte. Encrypted PDFs
   are refused (they can be neither checked nor cleaned), and so are PDFs that cannot be
   read. A digital signature does not survive the rewrite; the upload's SHA-256 stays on
   record.

Every refusal is a ValidationError with a code: `size`, `type` (a kind Casedesk does not
recognise), `extension`, `encoding`, `image`, `pdf`, or the code of the kind refused by name
(`Refused.code`: `html`, `svg`, `xml`, `program`, `archive`, `office_document`,
`uncleanable_image`, `unsupported_media`, `empty`).

The file handed back to the form carries an `UploadInfo` (detected kind, the SHA-256 and size of
the file as uploaded, what was removed); Evidence.save() records it and Evidence.start_custody()
writes it into the chain of custody.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
HEAD_BYTES = 4096  # what identify() looks at


def max_upload_bytes() -> int:
    return getattr(settings, "EVIDENCE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)


# --- What is accepted ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """An accepted kind of file."""

    label: str  # "a PNG image"
    content_type: str
    extensions: tuple[str, ...]  # the first is the one to suggest
    pillow_formats: tuple[str, ...] = ()  # images: decoded and cleaned with Pillow

    @property
    def is_image(self) -> bool:
        return bool(self.pillow_formats)


JPEG = Kind(_("a JPEG image"), "image/jpeg", ("jpg", "jpeg"), ("JPEG", "MPO"))
PNG = Kind(_("a PNG image"), "image/png", ("png",), ("PNG",))
WEBP = Kind(_("a WebP image"), "image/webp", ("webp",), ("WEBP",))
PDF = Kind(_("a PDF document"), "application/pdf", ("pdf",))
TEXT = Kind(_("plain text"), "text/plain", ("txt",))
CSV = Kind(_("a CSV table"), "text/csv", ("csv",))
MP4 = Kind(_("an MP4 video"), "video/mp4", ("mp4", "m4v"))
MOV = Kind(_("a QuickTime video"), "video/quicktime", ("mov",))
WEBM = Kind(_("a WebM video"), "video/webm", ("webm",))
MKV = Kind(_("a Matroska video"), "video/x-matroska", ("mkv",))
M4A = Kind(_("an MPEG-4 audio file"), "audio/mp4", ("m4a",))
MP3 = Kind(_("an MP3 audio file"), "audio/mpeg", ("mp3",))
OGG = Kind(_("an Ogg audio file"), "audio/ogg", ("ogg", "oga", "opus"))
WAV = Kind(_("a WAV audio file"), "audio/wav", ("wav",))
FLAC = Kind(_("a FLAC audio file"), "audio/flac", ("flac",))

ACCEPTED = (JPEG, PNG, WEBP, PDF, TEXT, CSV, MP4, MOV, WEBM, MKV, M4A, MP3, OGG, WAV, FLAC)
TEXT_KINDS = (TEXT, CSV)  # told apart by the extension: their content cannot tell

ACCEPTED_IN_WORDS = _("photos (JPEG, PNG, WebP), PDF, plain text and CSV (UTF-8), video (MP4, "
                       "MOV, WebM, MKV) and audio (MP3, M4A, Ogg/Opus, WAV, FLAC)")


def accept_attribute() -> str:
    """For the file input's `accept`: the browser's file picker offers these first."""
    return ",".join(f".{ext}" for kind in ACCEPTED for ext in kind.extensions)


def help_text() -> str:
    return gettext("Accepted: %(accepted)s, up to %(limit)s. Photos and PDFs are stored without "
                   "their metadata (camera, GPS position, author, software, dates…); the "
                   "SHA-256 of the file as you upload it is recorded. Video and audio are "
                   "stored as uploaded, metadata included.") % {
        "accepted": ACCEPTED_IN_WORDS, "limit": filesizeformat(max_upload_bytes())}


# --- What is refused by name -------------------------------------------------------------------

@dataclass(frozen=True)
class Refused:
    """A kind of file recognised and refused, with the reason given to the uploader and a
    code for machines (the code of the error beside the file field)."""

    code: str  # "html", "program", "archive"…
    label: str  # "an HTML page"
    why: str
    instead: str = ""

    def message(self) -> str:
        values = {"kind": self.label, "why": self.why, "instead": self.instead}
        if self.instead:
            return gettext("This file is %(kind)s, which Casedesk does not accept: %(why)s. "
                           "%(instead)s") % values
        return gettext("This file is %(kind)s, which Casedesk does not accept: %(why)s.") % (
            values)


_PROGRAM_WHY = _("programs and scripts cannot be checked here, and opening one can take over "
                  "the computer that opens it")
_PROGRAM_INSTEAD = _("If the program itself is evidence, keep it apart on an isolated machine "
                     "and record its SHA-256 in the description.")
_ARCHIVE_WHY = _("an archive can hide files of any kind from this check")
_ARCHIVE_INSTEAD = _("Upload the files inside it one by one.")
_OFFICE_INSTEAD = _("Save the document as PDF and upload that.")
_IMAGE_WHY = _("Casedesk cannot remove its metadata, which may include the GPS position")


def _program(label: str, instead: str = _PROGRAM_INSTEAD) -> Refused:
    return Refused("program", label, _PROGRAM_WHY, instead)


def _archive(label: str) -> Refused:
    return Refused("archive", label, _ARCHIVE_WHY, _ARCHIVE_INSTEAD)


def _office(label: str, why: str) -> Refused:
    return Refused("office_document", label, why, _OFFICE_INSTEAD)


def _image(label: str, instead: str) -> Refused:
    return Refused("uncleanable_image", label, _IMAGE_WHY, instead)


HTML = Refused("html", _("an HTML page"), _("a web page can run scripts when it is opened"),
               _("Save the page as PDF or take a screenshot, and give its address under "
                 "“found at”."))
SVG = Refused("svg", _("an SVG image"), _("SVG can carry scripts that run when it is opened"),
              _("Export the picture as PNG."))
XML = Refused("xml", _("an XML document"),
              _("XML can carry scripts and links to outside resources"),
              _("Save it as PDF or plain text."))
HEIF = _image(_("a HEIC/HEIF or AVIF image"),
              _("Export it as JPEG (on an iPhone: Settings › Camera › Formats › Most "
                "Compatible, or share it through a messenger that converts it)."))
ISO_MEDIA = Refused("unsupported_media", _("an MPEG-4 family file of a kind Casedesk does not "
                                           "know"),
                    _("only MP4, MOV and M4A are accepted"), _("Convert it to MP4."))
RIFF_MEDIA = Refused("unsupported_media", _("an AVI video or another RIFF file"),
                     _("only WAV audio and WebP images are accepted in that container"),
                     _("Convert a video to MP4."))
WINDOWS_PROGRAM = _program(_("a Windows program (EXE/DLL)"))
EMPTY = Refused("empty", pgettext_lazy("file", "empty"), _("there is nothing to keep"))

# (offset, signature, kind or refusal), tried in order. Offsets and signatures are those of
# each format's specification; formats with a structure to look into (ISO media, RIFF, EBML)
# are told apart in identify().
SIGNATURES: tuple[tuple[int, bytes, Kind | Refused], ...] = (
    # accepted
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"%PDF-", PDF),
    (0, b"OggS", OGG),
    (0, b"fLaC", FLAC),
    (0, b"ID3\x02", MP3),
    (0, b"ID3\x03", MP3),
    (0, b"ID3\x04", MP3),
    # programs
    (0, b"\x7fELF", _program(_("a Linux program (ELF)"))),
    (0, b"\xfe\xed\xfa\xce", _program(_("a macOS program"))),
    (0, b"\xfe\xed\xfa\xcf", _program(_("a macOS program"))),
    (0, b"\xce\xfa\xed\xfe", _program(_("a macOS program"))),
    (0, b"\xcf\xfa\xed\xfe", _program(_("a macOS program"))),
    (0, b"\xca\xfe\xba\xbe", _program(_("a macOS or Java program"))),
    (0, b"dex\n", _program(_("an Android program"))),
    (0, b"\x00asm", _program(_("a WebAssembly program"))),
    (0, b"#!", _program(_("a script"))),
    (0, b"L\x00\x00\x00\x01\x14\x02\x00", _program(_("a Windows shortcut"), instead="")),
    (0, b"%!PS", Refused("program", _("a PostScript file"),
                         _("PostScript is a programming language"), _("Convert it to PDF."))),
    # archives and containers
    (0, b"PK\x03\x04", Refused(
        "archive", _("a ZIP archive (Office documents are ZIP archives too)"),
        _("an archive can hide files of any kind from this check, and Office documents carry "
          "their authors' names"),
        _("Upload the files inside it one by one. Save the document as PDF and upload that."))),
    (0, b"PK\x05\x06", _archive(_("a ZIP archive"))),
    (0, b"Rar!\x1a\x07", _archive(_("a RAR archive"))),
    (0, b"7z\xbc\xaf\x27\x1c", _archive(_("a 7-Zip archive"))),
    (0, b"\x1f\x8b", _archive(_("a gzip archive"))),
    (0, b"\xfd7zXZ\x00", _archive(_("an xz archive"))),
    (257, b"ustar", _archive(_("a tar archive"))),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     _office(_("an old-style Office document or installer"), _("it can carry macros"))),
    (0, b"{\\rtf", _office(_("an RTF document"), _("it can embed other files and objects"))),
    # images whose metadata we do not remove
    (0, b"GIF87a", _image(_("a GIF image"), _("Convert it to PNG, or an animation to MP4."))),
    (0, b"GIF89a", _image(_("a GIF image"), _("Convert it to PNG, or an animation to MP4."))),
    (0, b"II*\x00", _image(_("a TIFF image or camera raw file"),
                           _("Export it as JPEG or PNG."))),
    (0, b"MM\x00*", _image(_("a TIFF image or camera raw file"),
                           _("Export it as JPEG or PNG."))),
    (0, b"8BPS", _image(_("a Photoshop document"), _("Export it as PNG."))),
    (4, b"jP  \r\n\x87\n", _image(_("a JPEG 2000 image"), _("Export it as PNG."))),
)

# ISO base media (MP4 and its relatives): the `ftyp` box names brands.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1", b"avif", b"avis"}
_MP4_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42",
               b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"MSNV"}
_MOV_BRANDS = {b"qt  "}
_M4A_BRANDS = {b"M4A "}
# QuickTime files from before `ftyp` open with one of these atoms.
_OLD_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}


def _iso_media(head: bytes) -> Kind | Refused | None:
    if head[4:8] != b"ftyp":
        return MOV if head[4:8] in _OLD_QUICKTIME_ATOMS else None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    compatible = {head[i:i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if major in _HEIF_BRANDS or (brands & _HEIF_BRANDS and not brands & _MP4_BRANDS):
        return HEIF
    for known, kind in ((_MOV_BRANDS, MOV), (_M4A_BRANDS, M4A), (_MP4_BRANDS, MP4)):
        if major in known:
            return kind
    if compatible & _MP4_BRANDS:
        return MP4
    return ISO_MEDIA


def _mp3_frame(head: bytes) -> bool:
    """An MPEG audio frame header (an MP3 without an ID3 tag): 11 sync bits, a valid version,
    layer, bitrate and sample rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


# Text: UTF-8 with no control characters besides tab, line feed, form feed, carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Markup at the very start (after a byte-order mark and blanks) is what a browser would render.
_MARKUP_START = re.compile(rb"\A(?:\xef\xbb\xbf)?[\t\n\x0c\r ]*<[!?/a-zA-Z]")
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body|script|iframe|div|p|a|b|br|"
                        rb"table|title|style|font|h1|meta|form|img|object|embed)[\s>/]|<!--",
                        re.IGNORECASE)


def _looks_like_text(head: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head)  # not final: a character cut at the end is fine
    except UnicodeDecodeError:
        return False
    return not _CONTROL.search(text)


def _markup(head: bytes) -> Refused | None:
    if not _MARKUP_START.match(head):
        return None
    if re.search(rb"<svg[\s>]", head, re.IGNORECASE):
        return SVG
    if _HTML_HINT.search(head):
        return HTML
    return XML


def identify(head: bytes) -> Kind | Refused | None:
    """The kind of a file from its first bytes (HEAD_BYTES of them): an accepted Kind (TEXT
    stands for plain text and CSV alike), a Refused kind, or None when it is unrecognised."""
    if not head:
        return EMPTY
    for offset, signature, kind in SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            return kind
    if head[:2] == b"MZ" and not _looks_like_text(head):  # a DOS header is binary
        return WINDOWS_PROGRAM
    iso = _iso_media(head)
    if iso is not None:
        return iso
    if head[:4] == b"RIFF":
        return {b"WEBP": WEBP, b"WAVE": WAV}.get(head[8:12], RIFF_MEDIA)
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
        doc = head[:64]
        if b"webm" in doc:
            return WEBM
        if b"matroska" in doc:
            return MKV
        return None
    if _mp3_frame(head):
        return MP3
    if _looks_like_text(head):
        return _markup(head) or TEXT
    return None


def content_type_of(file) -> str:
    """The detected type of a file that did not come through clean_upload() (a script, a
    fixture): from its content, never from what a browser said. Unknown: octet-stream."""
    position = file.tell() if hasattr(file, "tell") else None
    file.seek(0)
    head = file.read(HEAD_BYTES)
    if position is not None:
        file.seek(position)
    if isinstance(head, str):
        head = head.encode()
    kind = identify(head)
    if not isinstance(kind, Kind):
        return "application/octet-stream"
    if kind is TEXT and _extension(getattr(file, "name", "") or "") in CSV.extensions:
        return CSV.content_type
    return kind.content_type


# --- The check ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadInfo:
    """What clean_upload() learnt about an upload; attached to the file it hands back."""

    kind: Kind
    original_sha256: str  # of the file as uploaded
    original_size: int
    metadata_removed: tuple[str, ...] = ()  # what was found and removed
    rewritten: bool = False  # the stored bytes are a clean copy, not the upload itself
    turned_upright: bool = False  # an EXIF orientation was applied to the pixels


def _extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""


def _check_extension(kind: Kind, name: str) -> Kind:
    """The kind, made precise by the extension (text vs CSV), or a refusal when they
    disagree."""
    ext = _extension(name)
    candidates = TEXT_KINDS if kind is TEXT else (kind,)
    for candidate in candidates:
        if ext in candidate.extensions:
            return candidate
    allowed = _either([f".{e}" for c in candidates for e in c.extensions])
    if not ext:
        raise ValidationError(
            _("The file name has no extension. Its content is %(kind)s: name it with "
              "%(allowed)s and upload it again."), code="extension",
            params={"kind": kind.label, "allowed": allowed})
    raise ValidationError(
        _("The file name ends in .%(extension)s, but its content is %(kind)s: rename it to "
          "%(allowed)s and upload it again, or check that it is the file you meant."),
        code="extension", params={"extension": ext, "kind": kind.label, "allowed": allowed})


def _either(names: list[str]) -> str:
    """".jpg or .jpeg", in the reader's language."""
    text = names[0]
    for name in names[1:]:
        text = gettext("%(first)s or %(second)s") % {"first": text, "second": name}
    return text


def _check_text(file) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in file.chunks():
            if _CONTROL.search(decoder.decode(chunk)):
                raise ValueError
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(
            _("Text files must be UTF-8 text throughout; this one is in another encoding or "
              "holds binary data. Save it again as UTF-8 (or as PDF) and upload it again."),
            code="encoding") from None


def _digest(file) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in file.chunks():
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _too_large(size: int, limit: int) -> ValidationError:
    return ValidationError(_("This file is %(size)s; files up to %(limit)s are accepted."),
                           code="size", params={"size": filesizeformat(size),
                                                "limit": filesizeformat(limit)})


def clean_upload(uploaded: UploadedFile) -> UploadedFile:
    """Check an uploaded evidence file and return the file to store (the upload itself, or a
    copy without metadata), with an `upload_info` attribute. Raises ValidationError with the
    reason for the uploader."""
    limit = max_upload_bytes()
    if uploaded.size is not None and uploaded.size > limit:
        raise _too_large(uploaded.size, limit)
    name = (uploaded.name or "").replace("\\", "/").rsplit("/", 1)[-1]
    uploaded.seek(0)
    head = uploaded.read(HEAD_BYTES)
    uploaded.seek(0)
    found = identify(head)
    if isinstance(found, Refused):
        raise ValidationError(found.message(), code=found.code)
    if found is None:
        raise ValidationError(
            _("Casedesk cannot tell what kind of file this is, so it does not accept it. "
              "Accepted: %(accepted)s."), code="type", params={"accepted": ACCEPTED_IN_WORDS})
    kind = _check_extension(found, name)
    if kind in TEXT_KINDS:
        _check_text(uploaded)
    original_sha256, original_size = _digest(uploaded)
    if original_size > limit:  # a handler that does not know the size beforehand
        raise _too_large(original_size, limit)

    stored, removed, upright = uploaded, (), False
    if kind.is_image:
        uploaded.seek(0)
        clean, removed, upright = clean_image(uploaded.read(), kind)
        if clean is not None:
            stored = SimpleUploadedFile(name, clean, kind.content_type)
    elif kind is PDF:
        uploaded.seek(0)
        clean, removed = clean_pdf(uploaded)
        if clean is not None:
            stored = SimpleUploadedFile(name, clean, kind.content_type)
    stored.name = name
    stored.content_type = kind.content_type  # the detected type, whatever the browser said
    stored.seek(0)
    stored.upload_info = UploadInfo(kind, original_sha256, original_size, tuple(removed),
                                    rewritten=stored is not uploaded, turned_upright=upright)
    return stored


# --- Images -------------------------------------------------------------------------------------

class _Damaged(Exception):
    pass


def _jpeg_layout(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The marker segments of a JPEG ((marker, first bytes of the segment)) and where its EOI
    ends. Raises _Damaged when the structure does not hold together."""
    segments, pos, n = [], 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise _Damaged
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise _Damaged
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return segments, pos
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            continue
        if pos + 2 > n:
            raise _Damaged
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            raise _Damaged
        segments.append((marker, data[pos + 2:pos + 2 + 16]))
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data up to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    raise _Damaged
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
    raise _Damaged


def _jpeg_extras(data: bytes) -> list[str]:
    """What a JPEG carries besides its pixels and what decoding them needs."""
    try:
        segments, end = _jpeg_layout(data)
    except _Damaged:
        return [gettext("structure Casedesk could not follow")]
    extras = []
    for marker, start in segments:
        if marker == 0xE0 and start.startswith(b"JFIF\x00"):
            continue  # JFIF: version and pixel density
        if marker == 0xEE and start.startswith(b"Adobe"):
            continue  # Adobe: colour transform, needed to decode
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            extras.append(f"APP{marker - 0xE0}" if marker != 0xFE else "COM")
    if end != len(data):
        extras.append("trailing data")
    return extras


_PNG_PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
                     b"sBIT", b"bKGD", b"pHYs", b"hIST"}


def _png_extras(data: bytes) -> list[str]:
    extras, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        chunk = data[pos + 4:pos + 8]
        pos += 12 + length
        if chunk not in _PNG_PIXEL_CHUNKS:
            extras.append(chunk.decode("latin-1"))
        if chunk == b"IEND":
            break
    if pos != len(data):
        extras.append("trailing data")
    return extras


_WEBP_PIXEL_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}


def _webp_extras(data: bytes) -> list[str]:
    extras, pos = [], 12
    end = 8 + int.from_bytes(data[4:8], "little")
    while pos + 8 <= min(end, len(data)):
        chunk = data[pos:pos + 4]
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        pos += 8 + length + (length & 1)
        if chunk not in _WEBP_PIXEL_CHUNKS:
            extras.append(chunk.decode("latin-1").strip())
    if end != len(data):
        extras.append("trailing data")
    return extras


_EXTRAS = {"JPEG": _jpeg_extras, "PNG": _png_extras, "WEBP": _webp_extras}


def _metadata_found(image, extras: list[str]) -> list[str]:
    """What an image carries besides its pixels, in words for the custody log (names of
    things, never their values: the log must not repeat what was removed)."""
    found = []
    exif = image.getexif()
    if ExifTags.IFD.GPSInfo in exif:
        found.append(gettext("EXIF with GPS position"))
    elif len(exif):
        found.append("EXIF")
    info = image.info
    if "xmp" in info or "XML:com.adobe.xmp" in info:
        found.append("XMP")
    if "photoshop" in info or any(e == "APP13" for e in extras):
        found.append(gettext("IPTC/Photoshop data"))
    if "comment" in info or "COM" in extras:
        found.append(pgettext("image metadata", "comment"))
    text = getattr(image, "text", None) if image.format == "PNG" else None
    if text:
        found.append(gettext("text chunks (%(names)s)") % {
            "names": ", ".join(sorted(text))[:100]})
    if "icc_profile" in info:
        found.append(gettext("colour profile"))
    if getattr(image, "n_frames", 1) > 1:
        found.append(gettext("embedded extra images"))
    if "trailing data" in extras:
        found.append(gettext("data after the end of the image"))
    if not found and extras:
        found.append(gettext("other data (%(names)s)") % {
            "names": ", ".join(sorted(set(extras)))})
    return found


def clean_image(data: bytes, kind: Kind) -> tuple[bytes | None, list[str], bool]:
    """Decode an image and return (clean bytes, what was removed, whether an EXIF orientation
    was applied), or (None, [], False) when it carries nothing but its pixels and is kept as
    it is. Raises ValidationError when it is not a readable image of that kind, or too large
    to decode safely."""
    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS (about 89 megapixels) and refuses at twice
        # that: both are refusals here, before the pixels take up memory.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=kind.pillow_formats)
            image.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ValidationError(
                _("This image has too many pixels to be processed safely; reduce its size "
                  "and upload it again."), code="image") from None
        except Exception:  # any decoding failure: damaged, or not what it says it is
            raise ValidationError(
                _("This file starts like %(kind)s but cannot be read as one: it is damaged, "
                  "or not a real image."), code="image", params={"kind": kind.label}) from None
    if kind is not JPEG and getattr(image, "n_frames", 1) > 1:
        raise ValidationError(
            _("This is an animated image (%(kind)s): Casedesk keeps still images only. Upload "
              "the animation as a video (MP4 or WebM)."), code="image", params={"kind": kind.label})
    extras = _EXTRAS[kind.pillow_formats[0]](data)
    found = _metadata_found(image, extras)
    if not found:
        return None, [], False

    # The pixels alone, upright. Everything else (image.info: EXIF, XMP, comments, text, the
    # colour profile) stays behind; only what the pixels mean is passed on explicitly.
    qtables = getattr(image, "quantization", None)
    sampling = -1
    if kind is JPEG:
        sampling = JpegImagePlugin.get_sampling(image)
    transparency = image.info.get("transparency")
    turned = image.getexif().get(ExifTags.Base.Orientation, 1) in range(2, 9)
    upright = ImageOps.exif_transpose(image)
    upright.info = {}
    out = io.BytesIO()
    if kind is JPEG:
        options = {"qtables": qtables} if qtables else {"quality": 95}
        if sampling != -1:
            options["subsampling"] = sampling
        upright.save(out, format="JPEG", optimize=True, **options)
    elif kind is PNG:
        options = {} if transparency is None else {"transparency": transparency}
        upright.save(out, format="PNG", **options)
    else:
        upright.save(out, format="WEBP", lossless=True, exact=True)
    return out.getvalue(), found, turned


# --- PDFs ---------------------------------------------------------------------------------------

_PDF_UNREADABLE = _("This file starts like a PDF but cannot be read as one: it is damaged, or "
                    "not a real PDF. Save or print it to PDF again and upload that.")


def _strip_xmp(root) -> int:
    """Remove every XMP packet (a `/Metadata` entry: the catalog's, a page's, an image's or
    a font's) reachable from `root`; return how many. Walks with a stack and a set of
    visited objects: page trees point back to their parents."""
    removed, seen, stack = 0, set(), [root]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            if NameObject("/Metadata") in item:
                del item[NameObject("/Metadata")]
                removed += 1
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return removed


def _pdf_sections(data: bytes) -> list[str]:
    """What the bytes of a PDF carry besides one revision of the document: sections from
    earlier saves (each save appended with an incremental update ends in its own %%EOF), and
    anything after the last %%EOF."""
    found = []
    if data.count(b"%%EOF") > 1:
        found.append(gettext("sections from earlier saves"))
    end = data.rfind(b"%%EOF")
    if end >= 0 and data[end + 5:].strip(b"\r\n\t\x0c\x00 "):
        found.append(gettext("data after the end of the document"))
    return found


def clean_pdf(file) -> tuple[bytes | None, list[str]]:
    """Return (a copy without document information, XMP, earlier saves or trailing data, what
    was removed), or (None, []) when the PDF carries none of these and is kept as it is.
    Raises ValidationError when it is encrypted or cannot be read."""
    data = file.read()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception:  # any parsing failure: damaged, or not what it says it is
        raise ValidationError(_PDF_UNREADABLE, code="pdf") from None
    if encrypted:
        raise ValidationError(
            _("This PDF is encrypted (password-protected or locked against changes): Casedesk "
              "can neither check it nor remove its metadata. Open it, print or save it as a "
              "new PDF without protection, and upload that."), code="pdf")
    found = []
    try:
        if not len(reader.pages):
            raise ValueError("no pages")
        info = reader.trailer.get("/Info")
        info = info.get_object() if info is not None else None
        if isinstance(info, DictionaryObject) and len(info):
            names = ", ".join(sorted(str(key).lstrip("/") for key in info))
            found.append(gettext("document information (%(names)s)") % {"names": names[:100]})
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None  # the trailer's /Info, which pypdf would fill in otherwise
        packets = _strip_xmp(writer.root_object)
        if packets:
            found.append(gettext("XMP metadata") if packets <= 1 else ngettext(
                "XMP metadata (%(count)d packet)", "XMP metadata (%(count)d packets)",
                packets) % {"count": packets})
        found += _pdf_sections(data)
        if not found:
            return None, []
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
        out = io.BytesIO()
        writer.write(out)
    except Exception:
        raise ValidationError(_PDF_UNREADABLE, code="pdf") from None
    return out.getvalue(), found


# --- The upload handler -------------------------------------------------------------------------

class OversizeUpload(UploadedFile):
    """Stands for a file whose bytes were not kept because it passed the size limit: it
    knows its name and how big it was, so the form can say so."""

    def __init__(self, name: str, size: int):
        super().__init__(io.BytesIO(b""), name, "application/octet-stream", size)

    def chunks(self, chunk_size=None):
        yield b""


class SizeLimitUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS. Passes a file's bytes on to the next handlers (memory,
    then a temporary file) until the file passes EVIDENCE_MAX_UPLOAD_BYTES; from there on it
    keeps counting and stops passing them on, and the form gets an OversizeUpload."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.limit, self.received, self.too_big = max_upload_bytes(), 0, False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = True
            return None  # the next handlers never see these bytes
        return raw_data

    def file_complete(self, file_size):
        if self.too_big:
            return OversizeUpload(self.file_name, self.received)
        return None  # the next handler hands over the file
