"""What a capture may reach, and the HTTP exchanges it makes (capture/network.py): no browser
needed. Every server here listens on the loopback range (127.0.0.1 allowed, 127.0.0.2 not);
the other addresses are only classified, never connected to."""

import gzip
import ipaddress
import socket
import threading

import pytest

from capture import errors
from capture.errors import CaptureError
from capture.network import (
    AddressPolicy,
    Budget,
    Limits,
    Outgoing,
    Proxy,
    address_refusal,
    fetch,
)

from .pages.server import GZIPPED_PAGE

# The page servers (`pages` on 127.0.0.1, shared by the module; `elsewhere` on 127.0.0.2, a
# loopback address the capture is not allowed to reach).
pytest_plugins = ["tests.capture_fixtures"]

ALLOW_ONLY_127_0_0_1 = AddressPolicy.from_setting(["127.0.0.1"])


def _budget(**limits):
    return Budget(Limits(**limits))


@pytest.mark.parametrize(("address", "code"), [
    ("127.0.0.1", errors.LOOPBACK_ADDRESS),
    ("127.9.9.9", errors.LOOPBACK_ADDRESS),
    ("::1", errors.LOOPBACK_ADDRESS),
    ("::ffff:127.0.0.1", errors.LOOPBACK_ADDRESS),
    ("10.0.0.1", errors.PRIVATE_ADDRESS),
    ("172.16.5.4", errors.PRIVATE_ADDRESS),
    ("192.168.1.1", errors.PRIVATE_ADDRESS),
    ("100.64.0.1", errors.PRIVATE_ADDRESS),  # carrier-grade NAT
    ("fd12:3456::1", errors.PRIVATE_ADDRESS),
    ("2002:a00:1::", errors.PRIVATE_ADDRESS),  # 6to4 around 10.0.0.1
    ("169.254.1.1", errors.LINK_LOCAL_ADDRESS),
    ("fe80::1", errors.LINK_LOCAL_ADDRESS),
    ("169.254.169.254", errors.METADATA_ADDRESS),
    ("fd00:ec2::254", errors.METADATA_ADDRESS),
    ("100.100.100.200", errors.METADATA_ADDRESS),
    ("168.63.129.16", errors.METADATA_ADDRESS),
    ("224.0.0.1", errors.MULTICAST_ADDRESS),
    ("ff02::1", errors.MULTICAST_ADDRESS),
    ("0.0.0.0", errors.RESERVED_ADDRESS),
    ("240.0.0.1", errors.RESERVED_ADDRESS),
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
])
def test_address_refusal_classifies_address(address, code):
    assert address_refusal(ipaddress.ip_address(address)) == code


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1:8000/", errors.LOOPBACK_ADDRESS),
    ("http://[::1]/", errors.LOOPBACK_ADDRESS),
    ("http://localhost/", errors.LOOPBACK_ADDRESS),
    ("http://admin.localhost/", errors.LOOPBACK_ADDRESS),
    ("http://10.1.2.3/admin", errors.PRIVATE_ADDRESS),
    ("http://169.254.169.254/latest/meta-data/", errors.METADATA_ADDRESS),
    ("http://metadata.google.internal/computeMetadata/v1/", errors.METADATA_ADDRESS),
    ("https://db.internal/", errors.PRIVATE_ADDRESS),
    ("ftp://example.org/file", errors.SCHEME_NOT_ALLOWED),
    ("file:///etc/passwd", errors.SCHEME_NOT_ALLOWED),
    ("javascript:alert(1)", errors.SCHEME_NOT_ALLOWED),
    ("http:///nohost", errors.INVALID_URL),
])
def test_policy_refuses_address_with_code(url, code):
    with pytest.raises(CaptureError) as refused:
        AddressPolicy().check(url)
    assert refused.value.code == code
    assert url not in refused.value.message


def test_policy_refuses_name_that_resolves_to_private_address():
    # The machine's own name resolves to one of its own addresses: loopback or private.
    name = socket.gethostname()
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    except socket.gaierror:
        pytest.skip(f"{name} does not resolve here")
    if all(address_refusal(ipaddress.ip_address(a.split("%")[0])) is None for a in resolved):
        pytest.skip(f"{name} resolves to public addresses here")
    with pytest.raises(CaptureError) as refused:
        AddressPolicy().check(f"http://{name}/")
    assert refused.value.code in errors.ADDRESS_REFUSALS, resolved


def test_policy_allows_what_capture_allowed_hosts_names():
    assert AddressPolicy.from_setting("127.0.0.1").check("http://127.0.0.1:8000/a") == (
        "127.0.0.1", 8000, ["127.0.0.1"])
    assert AddressPolicy.from_setting(["10.0.0.0/8"]).check("http://10.1.2.3/")[2] == [
        "10.1.2.3"]
    host, port, addresses = AddressPolicy.from_setting(["localhost"]).check(
        "http://localhost:81/")
    assert (host, port) == ("localhost", 81)
    assert addresses and all(a in ("127.0.0.1", "::1") for a in addresses)
    with pytest.raises(CaptureError) as refused:
        AddressPolicy.from_setting("127.0.0.1").check("http://127.0.0.2/")
    assert refused.value.code == errors.LOOPBACK_ADDRESS


def test_policy_through_proxy_leaves_names_to_the_proxy():
    policy = AddressPolicy.from_setting([], resolve=False)
    assert policy.check("https://example.org/x") == ("example.org", 443, [])
    with pytest.raises(CaptureError) as refused:
        policy.check("http://192.168.0.1/")
    assert refused.value.code == errors.PRIVATE_ADDRESS


def test_fetch_records_exchange_as_received(pages):
    exchanges = fetch(Outgoing(pages.url("/gzipped")), ALLOW_ONLY_127_0_0_1, _budget())
    [exchange] = exchanges
    assert exchange.status == 200
    assert exchange.remote_address == "127.0.0.1"
    assert exchange.header("content-encoding") == "gzip"
    assert gzip.decompress(exchange.raw_body).decode() == GZIPPED_PAGE
    assert exchange.decoded_body().decode() == GZIPPED_PAGE
    assert "content-encoding" not in exchange.headers_for_browser()
    assert ("Host", f"127.0.0.1:{pages.port}") in exchange.request_headers


def test_fetch_follows_redirect_checking_each_hop(pages):
    target = pages.url("/article.html")
    exchanges = fetch(Outgoing(pages.url(f"/redirect?to={target}")), ALLOW_ONLY_127_0_0_1,
                      _budget())
    assert [e.status for e in exchanges] == [302, 200]
    assert exchanges[-1].url == target
    assert b"Flood barrier breached" in exchanges[-1].raw_body


def test_fetch_refuses_redirect_to_address_not_allowed(pages, elsewhere):
    hidden = elsewhere.url("/article.html")
    with pytest.raises(CaptureError) as refused:
        fetch(Outgoing(pages.url(f"/redirect?to={hidden}")), ALLOW_ONLY_127_0_0_1, _budget())
    assert refused.value.code == errors.LOOPBACK_ADDRESS
    assert [e.status for e in refused.value.exchanges] == [302]
    assert elsewhere.requests == []


def test_fetch_stops_at_resource_limit(pages):
    before = len(pages.requests)
    target = pages.url("/article.html")
    with pytest.raises(CaptureError) as refused:
        fetch(Outgoing(pages.url(f"/redirect?to={target}")), ALLOW_ONLY_127_0_0_1,
              _budget(max_resources=1))
    assert refused.value.code == errors.TOO_MANY_RESOURCES
    assert pages.requests[before:] == [f"/redirect?to={target}"]


def test_fetch_stops_at_byte_limit(pages):
    with pytest.raises(CaptureError) as refused:
        fetch(Outgoing(pages.url("/article.html")), ALLOW_ONLY_127_0_0_1, _budget(max_bytes=100))
    assert refused.value.code == errors.TOO_LARGE


def test_fetch_stops_at_time_limit(pages):
    before = len(pages.requests)
    with pytest.raises(CaptureError) as refused:
        fetch(Outgoing(pages.url("/article.html")), ALLOW_ONLY_127_0_0_1,
              _budget(total_seconds=0))
    assert refused.value.code == errors.TIMEOUT
    assert pages.requests[before:] == []


class _Socks5Server:
    """The smallest SOCKS5 proxy (no authentication, CONNECT by name): records the names it
    is asked for, and connects them to 127.0.0.1."""

    def __init__(self):
        self.asked = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        with client:
            client.recv(3)
            client.sendall(b"\x05\x00")
            head = client.recv(5)
            name = client.recv(head[4]).decode()
            port = int.from_bytes(client.recv(2), "big")
            self.asked.append((name, port))
            with socket.create_connection(("127.0.0.1", port)) as upstream:
                client.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big"))
                upstream.sendall(client.recv(65536))
                while chunk := upstream.recv(65536):
                    client.sendall(chunk)

    def close(self):
        self._listener.close()


def test_fetch_through_socks_proxy_sends_the_name_unresolved(pages):
    proxy_server = _Socks5Server()
    try:
        proxy = Proxy.parse(f"socks5h://127.0.0.1:{proxy_server.port}")
        url = f"http://capture-test.invalid:{pages.port}/article.html"
        [exchange] = fetch(Outgoing(url), AddressPolicy.from_setting([], resolve=False),
                           _budget(), proxy)
    finally:
        proxy_server.close()
    # .invalid never resolves: only the proxy could have connected it.
    assert proxy_server.asked == [("capture-test.invalid", pages.port)]
    assert exchange.status == 200
    assert b"Flood barrier breached" in exchange.raw_body
