"""Why a capture was refused or failed: one exception, a machine-readable code.

The codes are shared by the domain functions, the management commands and (later) the pages
and the API. Messages never contain the address being captured: a protected source's
address must not reach a log, a task result or a stored failure reason.
"""

from __future__ import annotations

# --- refusals: the capture is not attempted ------------------------------------------------

#: The address is not http(s), or cannot be parsed.
SCHEME_NOT_ALLOWED = "scheme_not_allowed"
INVALID_URL = "invalid_url"
#: The address resolves (or is) a loopback, private, link-local, multicast, reserved or
#: cloud-metadata address, and CAPTURE_ALLOWED_HOSTS does not name it.
LOOPBACK_ADDRESS = "loopback_address"
PRIVATE_ADDRESS = "private_address"
LINK_LOCAL_ADDRESS = "link_local_address"
MULTICAST_ADDRESS = "multicast_address"
RESERVED_ADDRESS = "reserved_address"
METADATA_ADDRESS = "metadata_address"
#: The citation has no address to capture.
NO_ADDRESS = "capture_no_address"
#: The address is a protected source's, and no source handler of the case asked for it.
PROTECTED_ADDRESS = "capture_protected_address"
#: The requester is not a member of the citation's case.
NOT_ALLOWED = "capture_not_allowed"

#: Every code that says "this address may not be reached".
ADDRESS_REFUSALS = frozenset({LOOPBACK_ADDRESS, PRIVATE_ADDRESS, LINK_LOCAL_ADDRESS,
                              MULTICAST_ADDRESS, RESERVED_ADDRESS, METADATA_ADDRESS})

# --- failures: attempted, did not produce a capture -----------------------------------------

DNS_FAILURE = "dns_failure"
CONNECTION_FAILED = "connection_failed"
TIMEOUT = "timeout"
TOO_LARGE = "too_large"
TOO_MANY_RESOURCES = "too_many_resources"
TOO_MANY_REDIRECTS = "too_many_redirects"
DOWNLOAD_REFUSED = "download_refused"
#: A WebSocket the page opened: closed unopened, since a capture cannot archive it.
WEBSOCKET_NOT_CAPTURED = "websocket_not_captured"
BROWSER_FAILED = "browser_failed"
PACKAGING_FAILED = "packaging_failed"
#: A file changed between the capture and its storage (its hash differs from the manifest's).
HASH_MISMATCH = "hash_mismatch"

# --- timestamps -------------------------------------------------------------------------------

#: No configured Time-Stamp Authority answered with a usable timestamp.
TSA_UNAVAILABLE = "tsa_unavailable"
#: A timestamp token does not verify (wrong hash, wrong signature, untrusted chain).
TIMESTAMP_INVALID = "timestamp_invalid"


class CaptureError(Exception):
    """A capture refused or failed, with its code (above) and a message for people that
    never names the address."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def is_refusal(self) -> bool:
        return self.code in ADDRESS_REFUSALS or self.code in (
            SCHEME_NOT_ALLOWED, INVALID_URL, NO_ADDRESS, PROTECTED_ADDRESS, NOT_ALLOWED)

    def __repr__(self):
        return f"CaptureError({self.code!r}, {self.message!r})"


class TimestampError(CaptureError):
    pass
