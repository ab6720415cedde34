"""RFC 3161 timestamps (capture/timestamps.py) from a real TSA on 127.0.0.1 (tests/tsa.py:
OpenSSL's `ts -reply` signs), and checked again as `openssl ts -verify` would."""

import hashlib
import subprocess

import pytest

from capture import errors
from capture.errors import TimestampError
from capture.timestamps import load_certificates, stamp, verify_token

from .tsa import TestTSA

pytest_plugins = ["tests.capture_fixtures"]  # the test TSA (`tsa`)

MANIFEST = b'{"files": [], "url": "https://161.ru/text/incidents/1.html"}\n'
MANIFEST_SHA256 = hashlib.sha256(MANIFEST).hexdigest()


@pytest.fixture(scope="module")
def other_tsa():
    with TestTSA("Another test TSA") as authority:
        yield authority


def test_stamp_verifies_and_keeps_token_and_chain(tsa):
    timestamp = stamp(MANIFEST, [tsa.url], ca_file=tsa.ca_file)
    assert timestamp.tsa_url == tsa.url
    assert timestamp.signer == "Casedesk test TSA"
    chain = load_certificates(timestamp.chain_pem)
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=Casedesk test TSA,O=Casedesk tests", "CN=Casedesk test TSA root,O=Casedesk tests"]
    assert verify_token(timestamp.token, MANIFEST_SHA256, timestamp.chain_pem) == \
        timestamp.gen_time


def test_token_over_wrong_hash_fails_verification(tsa):
    timestamp = stamp(MANIFEST, [tsa.url], ca_file=tsa.ca_file)
    other = hashlib.sha256(MANIFEST + b" ").hexdigest()
    with pytest.raises(TimestampError) as refused:
        verify_token(timestamp.token, other, timestamp.chain_pem)
    assert refused.value.code == errors.TIMESTAMP_INVALID
    assert "Mismatch between messages" in refused.value.message


def test_token_against_another_tsa_chain_fails_verification(tsa, other_tsa):
    timestamp = stamp(MANIFEST, [tsa.url], ca_file=tsa.ca_file)
    stranger = stamp(MANIFEST, [other_tsa.url], ca_file=other_tsa.ca_file)
    with pytest.raises(TimestampError) as refused:
        verify_token(timestamp.token, MANIFEST_SHA256, stranger.chain_pem)
    assert refused.value.code == errors.TIMESTAMP_INVALID


def test_damaged_token_fails_verification(tsa):
    timestamp = stamp(MANIFEST, [tsa.url], ca_file=tsa.ca_file)
    damaged = bytearray(timestamp.token)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(TimestampError) as refused:
        verify_token(bytes(damaged), MANIFEST_SHA256, timestamp.chain_pem)
    assert refused.value.code == errors.TIMESTAMP_INVALID


def test_stamp_asks_next_tsa_when_first_fails(tsa):
    with TestTSA("Broken TSA", failing=True) as broken:
        timestamp = stamp(MANIFEST, f"{broken.url},{tsa.url}", ca_file=tsa.ca_file)
        assert broken.requests == 1
    assert timestamp.tsa_url == tsa.url


def test_stamp_reports_each_tsa_that_refused(tsa):
    with TestTSA("Refusing TSA", rejecting=True) as refusing, \
            TestTSA("Broken TSA", failing=True) as broken:
        with pytest.raises(TimestampError) as refused:
            stamp(MANIFEST, [refusing.url, broken.url], ca_file=tsa.ca_file)
    assert refused.value.code == errors.TSA_UNAVAILABLE
    assert f"{refusing.url}: refused the request (status 2)" in refused.value.message
    assert f"{broken.url}: no usable answer (HTTPError)" in refused.value.message


def test_stamp_refuses_tsa_whose_chain_is_not_trusted(tsa, other_tsa):
    with pytest.raises(TimestampError) as refused:
        stamp(MANIFEST, [other_tsa.url], ca_file=tsa.ca_file)
    assert refused.value.code == errors.TSA_UNAVAILABLE
    assert "trusted root" in refused.value.message


def test_stamp_without_tsa_is_refused():
    with pytest.raises(TimestampError) as refused:
        stamp(MANIFEST, [])
    assert refused.value.code == errors.TSA_UNAVAILABLE


def test_token_verifies_with_openssl_outside_casedesk(tsa, tmp_path):
    timestamp = stamp(MANIFEST, [tsa.url], ca_file=tsa.ca_file)
    (tmp_path / "token.der").write_bytes(timestamp.token)
    (tmp_path / "chain.pem").write_text(timestamp.chain_pem)

    def openssl_verify(digest):
        return subprocess.run(
            ["openssl", "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der"),
             "-digest", digest, "-CAfile", str(tmp_path / "chain.pem")],
            capture_output=True, text=True)

    assert "Verification: OK" in openssl_verify(MANIFEST_SHA256).stdout
    wrong = openssl_verify(hashlib.sha256(b"another manifest").hexdigest())
    assert wrong.returncode != 0
    assert "message imprint mismatch" in wrong.stderr
