"""How the fuzzer's requests reach Casedesk: over HTTPS to the running server (`make fuzz`), or
in-process through Django's test client (the CI subset in tests/). Both take the body as bytes
built here, so what is sent is exactly what was generated: a lone surrogate goes out as the
bytes ED A0 80 (`surrogatepass`), where Django's test client and most HTTP libraries would
refuse to encode it, and a browser would have replaced it before sending."""

from __future__ import annotations

import http.client
import secrets
import ssl
import traceback
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

from .values import ABSENT, Upload

Pairs = list[tuple[str, object]]  # a value is a str, an Upload, or ABSENT


@dataclass
class Response:
    status: int  # 0: no answer (connection dropped, timeout)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    @property
    def is_html(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/html")


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def encode_query(pairs: Pairs) -> str:
    return urlencode([(k, v) for k, v in pairs if v is not ABSENT and isinstance(v, str)],
                     encoding="utf-8", errors="surrogatepass")


def _disposition_value(value: str) -> bytes:
    # As browsers do (WHATWG multipart/form-data): quote, CR and LF percent-encoded.
    return _bytes(value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A"))


def encode_form(pairs: Pairs, enctype: str) -> tuple[bytes, str]:
    """The request body and its content type, as a browser would encode the form."""
    present = [(k, v) for k, v in pairs if v is not ABSENT]
    if "multipart" not in enctype and not any(isinstance(v, Upload) for _, v in present):
        return (urlencode([(k, v) for k, v in present if isinstance(v, str)],
                          encoding="utf-8", errors="surrogatepass").encode("ascii"),
                "application/x-www-form-urlencoded")
    boundary = "----casedeskfuzz" + secrets.token_hex(12)
    parts = []
    for name, value in present:
        head = b'Content-Disposition: form-data; name="' + _disposition_value(name) + b'"'
        if isinstance(value, Upload):
            head += b'; filename="' + _disposition_value(value.filename) + b'"\r\n'
            head += b"Content-Type: " + _bytes(value.content_type or "application/octet-stream")
            body = value.content
        else:
            body = _bytes(value)
        parts.append(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + body + b"\r\n")
    payload = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    return payload, f"multipart/form-data; boundary={boundary}"


class HttpsTransport:
    """One keep-alive HTTPS connection to the server with a cookie jar: a browser's session,
    minus the browser. Certificates are checked against the run's own CA file."""

    def __init__(self, host: str, port: int, cafile: str, *, timeout: float = 60,
                 headers: dict[str, str] | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context = ssl.create_default_context(cafile=cafile)
        self.cookies: dict[str, str] = {}
        self.headers = dict(headers or {})
        self._conn: http.client.HTTPSConnection | None = None

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                     context=self.context)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, *, body: bytes | None = None,
                content_type: str | None = None,
                headers: dict[str, str] | None = None) -> Response:
        sent = {**self.headers, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = content_type or "application/octet-stream"
        target = quote(path, safe="/?&=%:@!$'()*+,;~-._")
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request(method, target, body=body, headers=sent)
                raw = conn.getresponse()
                data = raw.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady) as exc:
                self.close()  # a closed keep-alive connection: once more on a new one
                if attempt == 2:
                    return Response(0, repr(exc).encode())
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self.close()
                return Response(0, repr(exc).encode())
        response = Response(raw.status, data, {k.lower(): v for k, v in raw.getheaders()})
        for header in raw.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response


class DjangoTransport:
    """Django's test client, in-process. An exception the application raises becomes a
    response of status 500 whose body is the traceback, as the server log would show it."""

    def __init__(self, client) -> None:
        self.client = client
        self.origin = "http://testserver"

    def request(self, method: str, path: str, *, body: bytes | None = None,
                content_type: str | None = None,
                headers: dict[str, str] | None = None) -> Response:
        try:
            response = self.client.generic(method, path, data=body or b"",
                                           content_type=content_type or "",
                                           headers=headers or {})
        except Exception:  # noqa: BLE001 (what gunicorn would answer with a 500)
            return Response(500, traceback.format_exc().encode(), {"x-exception": "1"})
        content = b"".join(response.streaming_content) if response.streaming \
            else response.content
        return Response(response.status_code, content,
                        {k.lower(): v for k, v in response.headers.items()})

    def close(self) -> None:
        pass
