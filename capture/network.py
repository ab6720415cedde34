"""Which addresses a capture may reach, and the HTTP exchanges a capture makes.

The capturing browser has no network of its own (capture/engine.py points it at a proxy
that does not exist): every request it makes is handed to `fetch()` here, which

1. checks the address: http or https only; the host name is resolved and *every* address it
   resolves to must be public. Loopback, private (RFC 1918, unique-local, the shared
   100.64/10 range), link-local, multicast, reserved and unspecified addresses, and the
   cloud providers' metadata endpoints, are refused with a code (capture/errors.py), unless
   CAPTURE_ALLOWED_HOSTS names the host or the address;
2. connects to one of the addresses it has just checked, never to a name resolved again
   (a DNS answer that changes between the check and the connection cannot lead it
   elsewhere), with TLS verified against the host name;
3. reads the response within the capture's budget of bytes and time, and hands back the
   exchange as sent and received, for the WARC records.

Redirects are followed here, not by the browser, so that each hop is checked like the first
(the browser would otherwise follow them on its own).

Through a proxy (CAPTURE_PROXY: socks5://, socks5h:// or http://) the proxy resolves names:
resolving them here would tell the local resolver what is being captured, which is what
going through Tor is meant to avoid. Addresses written as such (http://10.0.0.1/) are still
refused here; names are the proxy's to refuse (Tor's exits refuse private addresses).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import errors
from .errors import CaptureError

# Cloud metadata endpoints. Most are link-local or private already and refused as such; they
# are named so that the refusal says what they are, and Azure's is a public address.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle…
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.253",  # AWS DNS
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure's platform address (public range)
))
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
# Hop-by-hop headers, and those this module sets itself.
_NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "proxy-authorization",
                            "proxy-connection", "te", "trailer", "transfer-encoding",
                            "upgrade", "accept-encoding", "content-length"})
# What the browser is sent back: the body is handed over decoded and whole.
_NOT_FULFILLED = frozenset({"content-encoding", "content-length", "transfer-encoding",
                            "connection", "keep-alive"})
_CHUNK = 64 * 1024


# --- addresses --------------------------------------------------------------------------------

def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The refusal code for connecting to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried in IPv6 (mapped, 6to4, Teredo) is judged as that address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return address_refusal(embedded)
    if address in METADATA_ADDRESSES:
        return errors.METADATA_ADDRESS
    if address.is_loopback:
        return errors.LOOPBACK_ADDRESS
    if address.is_link_local:
        return errors.LINK_LOCAL_ADDRESS
    if address.is_multicast:
        return errors.MULTICAST_ADDRESS
    if address.is_unspecified or address.is_reserved:
        return errors.RESERVED_ADDRESS
    if address.is_private or not address.is_global:
        return errors.PRIVATE_ADDRESS
    return None


_REFUSALS = {
    errors.METADATA_ADDRESS: gettext_lazy(
        "The address leads to a cloud metadata address, which a capture may not reach "
        "(CAPTURE_ALLOWED_HOSTS can allow it)."),
    errors.LOOPBACK_ADDRESS: gettext_lazy(
        "The address leads to a loopback address (this machine), which a capture may not "
        "reach (CAPTURE_ALLOWED_HOSTS can allow it)."),
    errors.LINK_LOCAL_ADDRESS: gettext_lazy(
        "The address leads to a link-local address, which a capture may not reach "
        "(CAPTURE_ALLOWED_HOSTS can allow it)."),
    errors.MULTICAST_ADDRESS: gettext_lazy(
        "The address leads to a multicast address, which a capture may not reach "
        "(CAPTURE_ALLOWED_HOSTS can allow it)."),
    errors.RESERVED_ADDRESS: gettext_lazy(
        "The address leads to a reserved address, which a capture may not reach "
        "(CAPTURE_ALLOWED_HOSTS can allow it)."),
    errors.PRIVATE_ADDRESS: gettext_lazy(
        "The address leads to a private-network address, which a capture may not reach "
        "(CAPTURE_ALLOWED_HOSTS can allow it)."),
}


def _refused(code: str) -> CaptureError:
    return CaptureError(code, str(_REFUSALS[code]))


def _literal_address(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """The hosts a capture may reach besides the public internet: CAPTURE_ALLOWED_HOSTS,
    each a host name, an address or a network (127.0.0.1, 10.1.0.0/16, intranet.example)."""

    names: frozenset[str] = frozenset()
    networks: tuple = ()
    # Through a proxy, names are resolved by the proxy (see the module's docstring).
    resolve: bool = True

    @classmethod
    def from_setting(cls, entries, *, resolve: bool = True) -> AddressPolicy:
        if isinstance(entries, str):
            entries = entries.split(",")
        names, networks = set(), []
        for entry in entries or ():
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks), resolve)

    def _allowed_address(self, address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)

    def check(self, url: str) -> tuple[str, int, list[str]]:
        """(host, port, the addresses to connect to) for `url`, or a CaptureError with the
        refusal's code. Without resolution (through a proxy) the list is empty."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise CaptureError(errors.INVALID_URL, _("The address cannot be read.")) from None
        if parts.scheme not in ("http", "https"):
            raise CaptureError(errors.SCHEME_NOT_ALLOWED,
                               _("Only http and https addresses are captured."))
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise CaptureError(errors.INVALID_URL, _("The address has no host."))
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            host = host.encode("idna").decode("ascii") if not host.isascii() else host
        except UnicodeError:
            raise CaptureError(errors.INVALID_URL, _("The host name is not valid.")) from None
        named = host in self.names
        literal = _literal_address(host)
        if literal is not None:
            if not named and not self._allowed_address(literal):
                code = address_refusal(literal)
                if code:
                    raise _refused(code)
            return host, port, [str(literal)]
        if not named:
            # Names that mean this machine, a cloud's metadata service or a private network
            # whatever a resolver says (and that a proxy would resolve on its own side).
            if host in METADATA_NAMES:
                raise _refused(errors.METADATA_ADDRESS)
            if host == "localhost" or host.endswith(".localhost"):
                raise _refused(errors.LOOPBACK_ADDRESS)
            if host.endswith(".internal") or host.endswith(".local"):
                raise _refused(errors.PRIVATE_ADDRESS)
        if not self.resolve:
            return host, port, []
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError):
            raise CaptureError(errors.DNS_FAILURE, _("The host name does not resolve.")) from None
        addresses = []
        for info in infos:
            text = info[4][0]
            if text not in addresses:
                addresses.append(text)
        if not named:
            # Every address the name resolves to must be allowed: a name that mixes a public
            # address with a private one would otherwise reach the private one on a retry.
            for text in addresses:
                address = _literal_address(text)
                if address is None or self._allowed_address(address):
                    continue
                code = address_refusal(address)
                if code:
                    raise _refused(code)
        return host, port, addresses


# --- proxies ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proxy:
    scheme: str  # socks5, socks5h or http
    host: str
    port: int
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, value: str | None) -> Proxy | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("socks5", "socks5h", "http") or not parts.hostname:
            raise ValueError("CAPTURE_PROXY must be socks5://host:port, socks5h://host:port "
                             "or http://host:port")
        default_port = 1080 if parts.scheme.startswith("socks") else 8080
        return cls(parts.scheme, parts.hostname, parts.port or default_port,
                   parts.username or "", parts.password or "")


def _socks5_connect(proxy: Proxy, host: str, port: int, timeout: float) -> socket.socket:
    """A connection to host:port through a SOCKS5 proxy (RFC 1928), the name resolved by the
    proxy; a user name and password (RFC 1929) when given (Tor isolates streams by them)."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    try:
        methods = b"\x00\x02" if proxy.username else b"\x00"
        sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
        version, method = _recv_exact(sock, 2)
        if version != 5 or method not in methods:
            raise OSError("SOCKS proxy refused our authentication methods")
        if method == 2:
            user, password = proxy.username.encode(), proxy.password.encode()
            sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
            if _recv_exact(sock, 2)[1] != 0:
                raise OSError("SOCKS proxy refused the credentials")
        name = host.encode("idna")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
        reply = _recv_exact(sock, 4)
        if reply[1] != 0:
            raise OSError(f"SOCKS proxy could not connect (reply {reply[1]})")
        kind = reply[3]
        length = 4 if kind == 1 else 16 if kind == 4 else _recv_exact(sock, 1)[0]
        _recv_exact(sock, length + 2)
        return sock
    except BaseException:
        sock.close()
        raise


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise OSError("connection closed by the proxy")
        data += chunk
    return data


def _http_proxy_tunnel(proxy: Proxy, host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    try:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk or len(head) > 65536:
                raise OSError("the proxy closed the tunnel")
            head += chunk
        status = head.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or status[1] != b"200":
            raise OSError("the proxy refused the tunnel")
        return sock
    except BaseException:
        sock.close()
        raise


# --- budget ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """What one capture may take: wall-clock time, bytes read from the network (and the
    same again decoded), and requests made (redirect hops included)."""

    total_seconds: float = 90.0
    max_bytes: int = 100 * 1024 * 1024
    max_resources: int = 500
    request_seconds: float = 30.0


class Budget:
    """The limits being spent, shared by the threads fetching one page's resources."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.deadline = time.monotonic() + limits.total_seconds
        self._lock = threading.Lock()
        self.bytes = 0
        self.resources = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self) -> float:
        remaining = self.remaining()
        if remaining <= 0:
            raise CaptureError(errors.TIMEOUT, _("The capture ran out of time."))
        return min(remaining, self.limits.request_seconds)

    def take_resource(self) -> None:
        with self._lock:
            if self.resources >= self.limits.max_resources:
                raise CaptureError(errors.TOO_MANY_RESOURCES,
                                   _("The page asked for more than %(count)d resources.")
                                   % {"count": self.limits.max_resources})
            self.resources += 1

    def take_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes += count
            if self.bytes > self.limits.max_bytes:
                raise CaptureError(errors.TOO_LARGE,
                                   _("The page is larger than %(count)d bytes.")
                                   % {"count": self.limits.max_bytes})


# --- exchanges ------------------------------------------------------------------------------------

@dataclass
class Exchange:
    """One HTTP request and its response, as sent and as received."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    raw_body: bytes  # as received (content-encoded), without transfer encoding
    remote_address: str
    started: float = field(default_factory=time.time)  # epoch seconds

    @property
    def location(self) -> str | None:
        if self.status not in REDIRECT_STATUSES:
            return None
        for name, value in self.response_headers:
            if name.lower() == "location" and value.strip():
                return urljoin(self.url, value.strip())
        return None

    def header(self, name: str) -> str:
        name = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == name), "")

    def decoded_body(self, budget: Budget | None = None) -> bytes:
        """The body as the browser reads it: gzip and deflate undone (nothing else is asked
        for), within the budget, so a small compressed body cannot expand without bound."""
        encoding = self.header("content-encoding").strip().lower()
        if encoding in ("", "identity") or not self.raw_body:
            return self.raw_body
        if encoding not in ("gzip", "x-gzip", "deflate"):
            return self.raw_body
        limit = budget.limits.max_bytes if budget else 1 << 30
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        try:
            out = _inflate(self.raw_body, wbits, limit)
        except zlib.error:
            try:
                out = _inflate(self.raw_body, -zlib.MAX_WBITS, limit)  # raw deflate
            except zlib.error:
                return self.raw_body
        if budget is not None:
            budget.take_bytes(max(0, len(out) - len(self.raw_body)))
        return out

    def headers_for_browser(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.response_headers:
            key = name.lower()
            if key in _NOT_FULFILLED:
                continue
            # Playwright takes repeated headers (Set-Cookie) joined by newlines.
            headers[key] = f"{headers[key]}\n{value}" if key in headers else value
        return headers


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise CaptureError(errors.TOO_LARGE, _("A compressed response expands past the limit."))
    return out


@dataclass(frozen=True)
class Outgoing:
    """A request as the browser would send it."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


class _Connection(http.client.HTTPConnection):
    """http.client over a socket this module opened (checked address, proxy, TLS)."""

    def __init__(self, sock, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self):  # the socket is given; never let http.client resolve the name
        raise OSError("connection already closed")


def _open(host: str, port: int, addresses: list[str], scheme: str, proxy: Proxy | None,
          timeout: float) -> tuple[socket.socket, str]:
    if proxy is None:
        last = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), timeout=timeout)
                break
            except OSError as exc:
                last = exc
        else:
            raise CaptureError(errors.CONNECTION_FAILED,
                               _("The server could not be reached.")) from last
        remote = address
    else:
        try:
            if proxy.scheme.startswith("socks"):
                sock = _socks5_connect(proxy, host, port, timeout)
            else:
                sock = _http_proxy_tunnel(proxy, host, port, timeout) if scheme == "https" \
                    else socket.create_connection((proxy.host, proxy.port), timeout=timeout)
        except OSError as exc:
            raise CaptureError(errors.CONNECTION_FAILED,
                               _("The server could not be reached through the proxy.")) from exc
        remote = ""
    if scheme == "https":
        context = ssl.create_default_context()
        try:
            sock = context.wrap_socket(sock, server_hostname=host)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            sock.close()
            raise CaptureError(errors.CONNECTION_FAILED,
                               _("The server's TLS certificate could not be verified.")) from exc
    return sock, remote


def fetch_once(request: Outgoing, policy: AddressPolicy, budget: Budget,
               proxy: Proxy | None = None) -> Exchange:
    """One request to one address, checked first; no redirect followed."""
    budget.take_resource()
    host, port, addresses = policy.check(request.url)
    parts = urlsplit(request.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if proxy is not None and proxy.scheme == "http" and parts.scheme == "http":
        target = request.url.split("#", 1)[0]  # a plain-HTTP proxy takes the whole address
    default_port = 443 if parts.scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    headers = [("Host", host_header)]
    headers += [(k, v) for k, v in request.headers if k.lower() not in _NOT_FORWARDED
                and not k.startswith(":")]
    # Only what can be undone here: the browser is handed decoded bodies.
    headers.append(("Accept-Encoding", "gzip, deflate"))
    headers.append(("Connection", "close"))
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(request.body))))
    timeout = budget.timeout()
    started = time.time()
    sock, remote = _open(host, port, addresses, parts.scheme, proxy, timeout)
    connection = _Connection(sock, host, port, timeout)
    try:
        connection.putrequest(request.method, target, skip_host=True,
                              skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        chunks = []
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            budget.take_bytes(len(chunk))
            if budget.remaining() <= 0:
                raise CaptureError(errors.TIMEOUT, _("The capture ran out of time."))
            chunks.append(chunk)
        response_headers = [(k, v) for k, v in response.getheaders()
                            if k.lower() != "transfer-encoding"]
        return Exchange(url=request.url, method=request.method, request_headers=headers,
                        request_body=request.body, status=response.status,
                        reason=response.reason or "", response_headers=response_headers,
                        raw_body=b"".join(chunks), remote_address=remote, started=started)
    except TimeoutError:
        raise CaptureError(errors.TIMEOUT, _("The server did not answer in time.")) from None
    except (http.client.HTTPException, OSError) as exc:
        raise CaptureError(errors.CONNECTION_FAILED,
                           _("The server's answer could not be read.")) from exc
    finally:
        connection.close()


def fetch(request: Outgoing, policy: AddressPolicy, budget: Budget,
          proxy: Proxy | None = None) -> list[Exchange]:
    """The request and every redirect it leads to, each hop checked before it is made: the
    exchanges in order, the last one the final answer. A refused hop raises its refusal
    (the exchanges before it are on the exception, as `.exchanges`)."""
    exchanges: list[Exchange] = []
    current = request
    try:
        while True:
            exchange = fetch_once(current, policy, budget, proxy)
            exchanges.append(exchange)
            location = exchange.location
            if location is None:
                return exchanges
            if len(exchanges) > MAX_REDIRECTS:
                raise CaptureError(errors.TOO_MANY_REDIRECTS,
                                   _("The address redirects more than %(count)d times.")
                                   % {"count": MAX_REDIRECTS})
            # 303, and 301/302 after a POST, become a GET without a body (as browsers do).
            method, body = current.method, current.body
            if exchange.status == 303 or (exchange.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), b""
            kept = tuple((k, v) for k, v in current.headers
                         if k.lower() not in ("cookie", "authorization", "origin",
                                              "content-type"))
            if urlsplit(location).hostname == urlsplit(current.url).hostname:
                kept = tuple((k, v) for k, v in current.headers
                             if k.lower() != "content-type" or body)
            current = Outgoing(location, method, kept, body)
    except CaptureError as exc:
        exc.exchanges = exchanges
        raise
