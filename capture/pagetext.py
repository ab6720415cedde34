"""The text of a page, to tell whether it changed: from an HTTP answer, or from the answer a
capture archived (its WACZ's WARC), compared word by word.

- `page_text(body, content_type)`: the page's main text as lines (one a paragraph, heading,
  list item or cell), whitespace normalised. HTML is read with the standard library's
  parser: what is in `<main>` or `<article>` when the page has one, else the body without
  its navigation, header, footer, asides and forms (menus, clocks and counters live there);
  scripts, styles and templates never count. Plain text is taken as it is; anything else
  (a PDF, an image) has no text here and is compared by its bytes.
- `archived_answer(capture)`: the content type and body of the page's own response in the
  capture's archive: what the server answered then, before any script ran, so that it is
  compared with what the server answers now, like with like.
- `compare(old, new)`: how many words changed, and a unified diff of the lines, truncated.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser

from django.utils.translation import gettext as _

#: Elements whose content is never text a reader sees.
_NEVER_TEXT = frozenset({"script", "style", "noscript", "template", "svg", "head", "title",
                         "iframe", "object", "canvas", "select", "button"})
#: Parts of a page around its main text: left out when no <main> or <article> says where it is.
_AROUND_MAIN = frozenset({"nav", "header", "footer", "aside", "form", "menu", "dialog"})
_MAIN = frozenset({"main", "article"})
#: Elements that end a line of text.
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5",
                     "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "tr",
                     "td", "th", "table", "br", "hr", "figure", "figcaption", "address",
                     "header", "footer", "nav", "aside", "caption", "summary", "details"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
_SPACE = re.compile(r"\s+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
#: Text past this many characters is not compared (a page that long is compared by its start).
MAX_CHARS = 300_000


class _TextParser(HTMLParser):
    """Collects text lines twice: everything in the body, and what is inside <main>/<article>
    (the reader's text when the page marks it)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.hidden = 0  # depth inside elements that are never text
        self.around = 0  # depth inside navigation, header, footer…
        self.main = 0  # depth inside main/article
        self.seen_main = False
        self.body_lines: list[str] = [""]
        self.main_lines: list[str] = [""]

    def _break(self) -> None:
        for lines in (self.body_lines, self.main_lines):
            if lines[-1]:
                lines.append("")

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCKS:
            self._break()
        if tag in _VOID:
            return
        self.stack.append(tag)
        if tag in _NEVER_TEXT:
            self.hidden += 1
        elif tag in _AROUND_MAIN:
            self.around += 1
        elif tag in _MAIN:
            self.main += 1
            self.seen_main = True

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag):
        if tag in _BLOCKS:
            self._break()
        if tag not in self.stack:
            return  # a stray end tag
        while self.stack:
            open_tag = self.stack.pop()
            if open_tag in _NEVER_TEXT:
                self.hidden -= 1
            elif open_tag in _AROUND_MAIN:
                self.around -= 1
            elif open_tag in _MAIN:
                self.main -= 1
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.hidden:
            return
        if not self.around:
            self.body_lines[-1] += data
        if self.main:
            self.main_lines[-1] += data

    def lines(self) -> list[str]:
        chosen = self.main_lines if self.seen_main else self.body_lines
        return [line for line in (_SPACE.sub(" ", raw).strip() for raw in chosen) if line]


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str, body: bytes) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    found = _CHARSET.search(body[:4096])
    return found.group(1).decode("ascii") if found else "utf-8"


def decode(body: bytes, content_type: str) -> str:
    charset = _charset(content_type, body)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def has_text(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind in ("", "text/html", "application/xhtml+xml", "text/plain")


def page_text(body: bytes, content_type: str) -> list[str] | None:
    """The page's main text as lines, or None when the answer is not a page of text."""
    if not has_text(content_type):
        return None
    text = decode(body, content_type)[:MAX_CHARS]
    if media_type(content_type) == "text/plain":
        return [line for line in (_SPACE.sub(" ", raw).strip() for raw in text.splitlines())
                if line]
    parser = _TextParser()
    parser.feed(text)
    parser.close()
    return parser.lines()


def text_digest(lines: list[str] | None, body: bytes) -> str:
    """The SHA-256 of the text (or of the bytes, for an answer without text)."""
    if lines is None:
        return hashlib.sha256(body).hexdigest()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- the archived answer ------------------------------------------------------------------------

class ArchiveUnreadable(Exception):
    """The capture's archive is missing, or holds no answer for the page."""


def archived_answer(wacz_file, page_url: str) -> tuple[str, bytes]:
    """(content type, body decoded of its content encoding) of the response the archive
    `wacz_file` (a path or an open binary file) holds for `page_url`; the first HTML
    response when none is recorded under that address."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        with zipfile.ZipFile(wacz_file) as package:
            names = [n for n in package.namelist()
                     if n.startswith("archive/") and ".warc" in n]
            fallback = None
            for name in names:
                with package.open(name) as warc:
                    for record in ArchiveIterator(warc):
                        if record.rec_type != "response" or record.http_headers is None:
                            continue
                        uri = record.rec_headers.get_header("WARC-Target-URI")
                        status = record.http_headers.get_statuscode()
                        content_type = record.http_headers.get_header("Content-Type") or ""
                        if uri == page_url and status not in ("301", "302", "303", "307",
                                                              "308"):
                            return content_type, record.content_stream().read()
                        if (fallback is None and status == "200"
                                and media_type(content_type) == "text/html"):
                            fallback = (content_type, record.content_stream().read())
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArchiveUnreadable(
            _("The archive cannot be read (%(error)s).") % {"error": type(exc).__name__}) from exc
    if fallback is None:
        raise ArchiveUnreadable(_("The archive holds no answer for the page."))
    return fallback


# --- comparing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    changed_words: int
    """Words removed, added or replaced (of a replacement, the longer side)."""
    diff: str
    """A unified diff of the lines, truncated; empty when nothing changed."""


def compare(old: list[str], new: list[str], *, diff_chars: int = 4000,
            old_label: str = "captured", new_label: str = "now") -> Comparison:
    if old == new:
        return Comparison(0, "")
    # Lines (paragraphs) first, then the words of the lines that differ: a long page with
    # one edited paragraph costs one paragraph's word comparison.
    changed = 0
    lines = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        if tag == "equal":
            continue
        old_words = " ".join(old[i1:i2]).split()
        new_words = " ".join(new[j1:j2]).split()
        words = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
        changed += sum(max(a2 - a1, b2 - b1) for kind, a1, a2, b1, b2 in words.get_opcodes()
                       if kind != "equal")
    diff = "\n".join(difflib.unified_diff(old, new, fromfile=old_label, tofile=new_label,
                                          n=1, lineterm=""))
    if len(diff) > diff_chars:
        cut = diff.rfind("\n", 0, diff_chars)
        diff = diff[:cut if cut > 0 else diff_chars] + "\n… (diff truncated)"
    return Comparison(changed, diff)
