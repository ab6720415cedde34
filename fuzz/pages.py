"""What a rendered page offers to a browser: its forms (every field a browser would submit,
with the value it would submit) and its links.

Read the way a browser reads the page, not from Django's form classes: the fuzzer sends what
a user (or anyone with the page) can send, including the fields a template adds by hand
(version tokens, buttons with a name, formset management fields, the admin's split date and
time inputs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

# Input types a browser never submits, or submits only as the clicked button.
_NOT_SUBMITTED = {"button", "reset", "image"}


@dataclass
class Field:
    name: str
    kind: str  # an <input> type, or "select", "textarea"
    value: str = ""  # what the browser submits untouched ("" for nothing chosen)
    options: list[str] = field(default_factory=list)  # select options, radio/checkbox values
    checked: bool = False  # checkbox or radio: submitted as served
    multiple: bool = False
    required: bool = False
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def css(self) -> str:
        return self.attrs.get("class", "")


@dataclass
class Form:
    method: str  # "get" or "post"
    action: str  # an absolute path (with its query string, if any)
    enctype: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons

    def field_names(self) -> list[str]:
        return list(dict.fromkeys(f.name for f in self.fields))

    def served_data(self) -> list[tuple[str, str]]:
        """What the browser submits when the user changes nothing (no button named)."""
        data: list[tuple[str, str]] = []
        for f in self.fields:
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    data.append((f.name, f.value or "on"))
            elif f.kind == "select" and f.multiple:
                data.extend((f.name, v) for v in f.value.split("\x1f") if v)
            elif f.kind != "file":
                data.append((f.name, f.value))
        return data


@dataclass
class Page:
    forms: list[Form]
    links: list[str]  # absolute paths with query strings, same site only


class _Parser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: dict | None = None
        self._textarea: Field | None = None
        self._radios: dict[str, Field] = {}

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "a" and attrs.get("href"):
            if (path := _same_site(self.base, attrs["href"])) is not None:
                self.links.append(path)
        elif tag == "form":
            action = _same_site(self.base, attrs.get("action") or self.base)
            self._form = Form(method=(attrs.get("method") or "get").lower(),
                              action=action if action is not None else "",
                              enctype=attrs.get("enctype", "application/x-www-form-urlencoded"))
            self._radios = {}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(attrs)
        elif tag == "button":
            if attrs.get("name") and attrs.get("type", "submit").lower() == "submit":
                self._form.buttons.append((attrs["name"], attrs.get("value", "")))
        elif tag == "select" and attrs.get("name"):
            self._select = Field(attrs["name"], "select", multiple="multiple" in attrs,
                                 required="required" in attrs, attrs=attrs)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "selected": "selected" in attrs,
                            "text": ""}
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = Field(attrs["name"], "textarea", required="required" in attrs,
                                   attrs=attrs)
            self._form.fields.append(self._textarea)

    def _input(self, attrs: dict) -> None:
        kind = attrs.get("type", "text").lower()
        name = attrs.get("name")
        if not name or kind in _NOT_SUBMITTED:
            return
        if kind == "submit":
            self._form.buttons.append((name, attrs.get("value", "")))
            return
        if kind == "radio":
            group = self._radios.get(name)
            if group is None:
                group = self._radios[name] = Field(name, "radio", required="required" in attrs,
                                                   attrs=attrs)
                self._form.fields.append(group)
            group.options.append(attrs.get("value", "on"))
            if "checked" in attrs:
                group.checked, group.value = True, attrs.get("value", "on")
            return
        self._form.fields.append(Field(
            name, kind, value=attrs.get("value", "on" if kind == "checkbox" else ""),
            options=[attrs.get("value", "on")] if kind == "checkbox" else [],
            checked="checked" in attrs, multiple="multiple" in attrs,
            required="required" in attrs, attrs=attrs))

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option["text"] += data
        elif self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None:
            self._close_option()
        elif tag == "select" and self._select is not None:
            if self._option is not None:
                self._close_option()
            chosen = self._select.value.split("\x1f") if self._select.value else []
            if not chosen and self._select.options and not self._select.multiple:
                self._select.value = self._select.options[0]  # a browser submits the first
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # The HTML parser keeps the newline browsers drop after <textarea>.
            self._textarea.value = self._textarea.value.removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._form = None

    def _close_option(self) -> None:
        option, select = self._option, self._select
        self._option = None
        value = option["value"] if option["value"] is not None else option["text"].strip()
        select.options.append(value)
        if option["selected"]:
            select.value = f"{select.value}\x1f{value}" if select.value and select.multiple \
                else value


def _same_site(base: str, href: str) -> str | None:
    """The path and query of `href` when it stays on this site, else None."""
    if href.startswith(("javascript:", "mailto:", "#", "data:")):
        return None
    absolute = urlsplit(urljoin(base, href))
    if absolute.netloc and absolute.netloc != urlsplit(base).netloc:
        return None
    return absolute.path + (f"?{absolute.query}" if absolute.query else "")


def parse(html: str, base: str) -> Page:
    """`base`: the page's own URL (absolute, or an absolute path)."""
    if not urlsplit(base).netloc:
        base = urljoin("https://fuzz.invalid", base)
    parser = _Parser(base)
    parser.feed(html)
    parser.close()
    return Page(forms=parser.forms, links=parser.links)


def query_of(path: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(path).query, keep_blank_values=True)
