"""Strict JSON reading for untrusted input (case files, API bodies).

`loads()` accepts only what every later step can store and show back: text that is valid
UTF-8, strings and keys without U+0000 or lone surrogates (PostgreSQL refuses the first, UTF-8
encoding the second, so both would otherwise fail far from the input), finite numbers, no
duplicate keys (parsers disagree about which one wins, so a reviewer and the code could read
different values), and nesting no deeper than `max_depth`.

The depth is measured before parsing, by a scan that does not recurse: the standard library's
parser recurses once per level and would raise RecursionError on deep input. Every refusal is
an `UnsafeJSON` (a ValueError) with a machine-readable `code`, a human `message` and the
`path` of the offending value (`claims[3].title`; "" for the document itself).
"""

import json
import math
import re
from itertools import accumulate

from django.utils.translation import gettext_lazy as _

DEFAULT_MAX_DEPTH = 32
# The standard parser recurses once per level; stay far below Python's recursion limit.
HARD_MAX_DEPTH = 200

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_FORBIDDEN_CHAR = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SHOWN_KEY_LENGTH = 40


class UnsafeJSON(ValueError):
    """JSON refused by `loads()`: `code`, `message` (human) and `path` of the value."""

    def __init__(self, code, message, path=""):
        self.code = code
        self.message = str(message)
        self.path = path
        super().__init__(f"{path}: {self.message}" if path else self.message)


class _Refusal:
    """Stands in for a value the parser's hooks refuse; the walk reports it with its path."""

    __slots__ = ("code", "message")

    def __init__(self, code, message):
        self.code = code
        self.message = message


def loads(data, *, max_depth=DEFAULT_MAX_DEPTH):
    """The JSON value in `data` (bytes or str), or UnsafeJSON saying what is wrong and where."""
    if not 1 <= max_depth <= HARD_MAX_DEPTH:
        raise ValueError(f"max_depth must be between 1 and {HARD_MAX_DEPTH}")
    text = _decode(data)
    _check_depth(text, max_depth)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except json.JSONDecodeError as error:
        raise UnsafeJSON(
            "syntax",
            _("Not valid JSON (line %(line)d, column %(column)d): %(reason)s.")
            % {"line": error.lineno, "column": error.colno, "reason": error.msg},
        ) from None
    _check_values(value)
    return value


def _decode(data):
    if isinstance(data, str):
        return data
    data = bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UnsafeJSON(
            "invalid_utf8",
            _("The file is not valid UTF-8 text (line %(line)d, byte %(byte)d).")
            % {"line": line, "byte": error.start + 1},
        ) from None
    # A byte order mark, as some editors write, is not part of the document (RFC 8259 §8.1).
    return text.removeprefix("\ufeff")


def _check_depth(text, max_depth):
    if text.count("[") + text.count("{") <= max_depth:
        return
    # Strings may hold brackets: blank them, keep only brackets, and sum them (all in C).
    brackets = _NOT_BRACKET.sub("", _STRING.sub('""', text))
    steps = [1 if char in "[{" else -1 for char in brackets]
    if max(accumulate(steps), default=0) > max_depth:
        raise UnsafeJSON(
            "too_deep",
            _("Nested more than %(depth)d levels deep.") % {"depth": max_depth},
            _path_at_depth(text, max_depth),
        )


def _path_at_depth(text, max_depth):
    """The path of the first container nested deeper than `max_depth` (on refusal only)."""
    stack = []  # per open container: [is_object, index or key, expecting a key]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(stack) == max_depth:
                return _render(tuple(frame[1] for frame in stack))
            stack.append([token == "{", 0 if token == "[" else "", token == "{"])
        elif token in "]}":
            if stack:
                stack.pop()
        elif token == ",":
            if stack:
                frame = stack[-1]
                if frame[0]:
                    frame[2] = True
                else:
                    frame[1] += 1
        elif stack and stack[-1][0] and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(token)
            except ValueError:
                stack[-1][1] = "?"
            stack[-1][2] = False
    return ""


def _object(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        duplicate = next(key for key, _value in pairs if key in seen or seen.add(key))
        return _Refusal(
            "duplicate_key",
            _("The key %(key)s appears more than once.") % {"key": _shown_key(duplicate)},
        )
    return obj


def _constant(name):
    return _Refusal("not_finite", _("%(name)s is not a number JSON allows.") % {"name": name})


def _int(digits):
    try:
        return int(digits)
    except ValueError:  # longer than sys.get_int_max_str_digits()
        return _Refusal("number_too_long", _("This number has too many digits."))


def _float(literal):
    number = float(literal)
    if not math.isfinite(number):
        return _Refusal("not_finite", _("This number is too large."))
    return number


def _check_values(root):
    """Walk the parsed value without recursion, refusing what the hooks marked and bad text."""
    pending = [(root, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, _Refusal):
            raise UnsafeJSON(value.code, value.message, _render(path))
        if isinstance(value, str):
            _check_text(value, path, is_key=False)
        elif isinstance(value, dict):
            for key in value:
                _check_text(key, path, is_key=True)
            # Reversed onto the stack, so the first problem in the document is the one reported.
            pending.extend((item, (*path, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend(
                (value[index], (*path, index)) for index in range(len(value) - 1, -1, -1)
            )


def _check_text(text, path, *, is_key):
    match = _FORBIDDEN_CHAR.search(text)
    if match is None:
        return
    if match.group() == "\x00":
        code, message = "nul", _("Text may not contain the NUL character (U+0000).")
    else:
        code = "surrogate"
        message = _("Text may not contain a lone surrogate (U+%(point)04X).") % {
            "point": ord(match.group())
        }
    if is_key:
        message = _("A key: %(problem)s") % {"problem": message}
    raise UnsafeJSON(code, message, _render(path))


def _shown_key(key):
    """A key as it can be shown safely: ASCII-escaped, bad characters included, and short."""
    shown = json.dumps(key[:_SHOWN_KEY_LENGTH], ensure_ascii=True)
    return shown if len(key) <= _SHOWN_KEY_LENGTH else shown[:-1] + '…"'


def _render(path):
    parts = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _IDENTIFIER.match(step):
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{_shown_key(step)}]")
    return "".join(parts)
