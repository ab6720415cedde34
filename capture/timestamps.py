"""RFC 3161 timestamps over a capture's manifest, from a third party (`rfc3161-client`).

A Time-Stamp Authority signs "this SHA-256 existed at this time". Casedesk asks the TSAs of
CAPTURE_TSA_URL in order (several may be given, comma-separated) until one answers with a
token that verifies: its signature, its chain up to a certificate of CAPTURE_TSA_CA_FILE (a
PEM bundle; the system's CA bundle when unset), the TSA certificate's critical
id-kp-timeStamping usage, the nonce of our request, and the hash it covers.

Kept beside the capture: the token (DER: the CMS SignedData that `openssl ts -verify
-token_in` reads) and the TSA's certificate chain (PEM: the signer's certificate and its
issuers up to the trusted root), so the token can be checked later, and outside Casedesk:

    openssl ts -verify -token_in -in token.der -digest <manifest SHA-256> -CAfile chain.pem

Only the hash leaves Casedesk, never the manifest or the address it names.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from django.utils.translation import gettext as _
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from . import errors
from .errors import TimestampError

REQUEST_SECONDS = 15
MAX_RESPONSE_BYTES = 1024 * 1024
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


@dataclass(frozen=True)
class Timestamp:
    token: bytes  # DER TimeStampToken (CMS ContentInfo)
    chain_pem: str  # signer's certificate first, then its issuers up to the root
    tsa_url: str
    gen_time: datetime

    @property
    def signer(self) -> str:
        return signer_name(self.chain_pem)


# --- DER: the token inside a TimeStampResp -----------------------------------------------------

def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def response_from_token(token: bytes) -> bytes:
    """A TimeStampResp (status granted) around a stored token: what rfc3161-client parses."""
    status = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted(0) }
    body = status + token
    return b"\x30" + _der_length(len(body)) + body


# --- certificates ---------------------------------------------------------------------------------

def load_certificates(pem: bytes | str) -> list[x509.Certificate]:
    if isinstance(pem, str):
        pem = pem.encode()
    try:
        with warnings.catch_warnings():
            # System bundles still hold a few old roots with non-positive serial numbers.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def trusted_certificates(ca_file: str | None) -> list[x509.Certificate]:
    """The certificates a TSA's chain may end in: CAPTURE_TSA_CA_FILE, else the system's
    CA bundle."""
    path = ca_file or ssl.get_default_verify_paths().cafile \
        or ssl.get_default_verify_paths().openssl_cafile
    try:
        return load_certificates(Path(path).read_bytes())
    except OSError:
        return []


def _is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def _pem(certificates: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


def signer_name(chain_pem: str) -> str:
    certificates = load_certificates(chain_pem)
    if not certificates:
        return ""
    names = certificates[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificates[0].subject.rfc4514_string()


def _signer_certificate(response) -> x509.Certificate | None:
    signer_infos = list(response.signed_data.signer_infos)
    if len(signer_infos) != 1:
        return None
    info = signer_infos[0]
    for der in response.signed_data.certificates:
        certificate = x509.load_der_x509_certificate(der)
        if certificate.issuer == info.issuer and certificate.serial_number == info.serial_number:
            return certificate
    return None


def _chain(leaf: x509.Certificate, pool: list[x509.Certificate],
           trusted: list[x509.Certificate]) -> list[x509.Certificate] | None:
    """The leaf and its issuers, found by name in `pool` and `trusted`, up to a trusted
    certificate; None when it ends anywhere else."""
    chain, current = [leaf], leaf
    trusted_der = {c.public_bytes(Encoding.DER) for c in trusted}
    for _step in range(10):
        if current.public_bytes(Encoding.DER) in trusted_der and len(chain) > 1:
            return chain
        if _is_self_signed(current):
            return chain if current.public_bytes(Encoding.DER) in trusted_der else None
        issuer = next((c for c in [*trusted, *pool]
                       if c.subject == current.issuer and c is not current), None)
        if issuer is None:
            return None
        try:
            current.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):  # another key under the same name
            return None
        chain.append(issuer)
        current = issuer
    return None


# --- verification ---------------------------------------------------------------------------------

def _verify(response, digest: bytes, chain: list[x509.Certificate], nonce=None) -> None:
    if response.tst_info.message_imprint.hash_algorithm != SHA256_OID:
        raise TimestampError(errors.TIMESTAMP_INVALID,
                             _("The timestamp is not over a SHA-256 hash."))
    roots = [c for c in chain if _is_self_signed(c)] or chain[-1:]
    builder = VerifierBuilder(roots=roots,
                              intermediates=[c for c in chain if c not in roots])
    if nonce is not None:
        builder = builder.nonce(nonce)
    try:
        builder.build().verify(response, digest)
    except (VerificationError, ValueError) as exc:
        message = _("The timestamp does not verify: %(reason)s") % {"reason": exc}
        raise TimestampError(errors.TIMESTAMP_INVALID, message) from None


def verify_token(token: bytes, sha256_hex: str, chain_pem: str) -> datetime:
    """Check a stored token against the SHA-256 it should cover and the chain kept with it;
    return the time it certifies. Raises TimestampError (timestamp_invalid) otherwise."""
    chain = load_certificates(chain_pem)
    if not token or not chain:
        raise TimestampError(errors.TIMESTAMP_INVALID,
                             _("The timestamp or its certificate chain is missing."))
    try:
        response = decode_timestamp_response(response_from_token(bytes(token)))
        digest = bytes.fromhex(sha256_hex)
    except ValueError:
        raise TimestampError(errors.TIMESTAMP_INVALID,
                             _("The timestamp token cannot be read.")) from None
    _verify(response, digest, chain)
    return response.tst_info.gen_time


# --- asking a TSA -----------------------------------------------------------------------------

def _post(url: str, body: bytes) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        # urllib would also open file: and ftp: addresses; a TSA answers over HTTP only.
        raise ValueError("a TSA's address is http: or https:")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/timestamp-query",
        "Accept": "application/timestamp-reply"})
    # The scheme is checked above; the address is the operator's setting, not a page's.
    with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as answer:  # noqa: S310  # nosec B310
        data = answer.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES:
        raise ValueError("answer too large")
    return data


def stamp(data: bytes, tsa_urls, *, ca_file: str | None = None) -> Timestamp:
    """A verified timestamp over SHA-256(`data`) from the first of `tsa_urls` that gives
    one. Raises TimestampError (tsa_unavailable) naming what each TSA did."""
    if isinstance(tsa_urls, str):
        tsa_urls = tsa_urls.split(",")
    urls = [u.strip() for u in tsa_urls or () if u and u.strip()]
    if not urls:
        raise TimestampError(errors.TSA_UNAVAILABLE, _("No Time-Stamp Authority is configured."))
    trusted = trusted_certificates(ca_file)
    problems = []
    for url in urls:
        query = (TimestampRequestBuilder().data(data)
                 .hash_algorithm(HashAlgorithm.SHA256).cert_request(cert_request=True)
                 .nonce(nonce=True).build())
        try:
            response = decode_timestamp_response(_post(url, query.as_bytes()))
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
            problems.append(_("%(tsa)s: no usable answer (%(error)s)")
                            % {"tsa": url, "error": exc.__class__.__name__})
            continue
        if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            problems.append(_("%(tsa)s: refused the request (status %(status)s)")
                            % {"tsa": url, "status": response.status})
            continue
        try:
            leaf = _signer_certificate(response)
            pool = [x509.load_der_x509_certificate(der)
                    for der in response.signed_data.certificates]
        except ValueError:
            problems.append(_("%(tsa)s: its answer carries no readable signature")
                            % {"tsa": url})
            continue
        chain = _chain(leaf, pool, trusted) if leaf is not None else None
        if chain is None:
            problems.append(_("%(tsa)s: its certificate does not lead to a trusted root "
                              "(CAPTURE_TSA_CA_FILE)") % {"tsa": url})
            continue
        try:
            _verify(response, query.message_imprint.message, chain, nonce=query.nonce)
        except TimestampError as exc:
            problems.append(f"{url}: {exc.message}")
            continue
        return Timestamp(token=response.time_stamp_token(), chain_pem=_pem(chain),
                         tsa_url=url, gen_time=response.tst_info.gen_time)
    raise TimestampError(errors.TSA_UNAVAILABLE,
                         _("No Time-Stamp Authority gave a valid timestamp: %(problems)s")
                         % {"problems": "; ".join(problems)})
