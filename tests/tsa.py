"""A real Time-Stamp Authority on 127.0.0.1 for the tests: OpenSSL's `ts -reply` signs.

`TestTSA()` makes a throwaway CA and a TSA certificate (extendedKeyUsage timeStamping,
critical, as RFC 3161 requires) in a temporary folder, writes an `openssl ts` configuration,
and serves timestamp requests over HTTP (POST, application/timestamp-query) from a thread.
`ca_file` is the CA's certificate, to trust it (CAPTURE_TSA_CA_FILE); `url` the address to
ask. `failing=True` makes one that answers every request with a 500, `rejecting=True` one
that answers with a TimeStampResp whose status is "rejection". Without an `openssl`
command the tests that need one skip, saying so.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def require_openssl() -> None:
    if not Path(OPENSSL).exists():
        import pytest

        pytest.skip(f"No openssl command at {OPENSSL}: install Debian's openssl package to "
                    "run the tests that need a Time-Stamp Authority.")

TS_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
other_policies = 1.3.6.1.4.1.4146.2.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casedesk tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool):
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestTSA:
    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, name: str = "Casedesk test TSA", *, failing: bool = False,
                 rejecting: bool = False):
        require_openssl()
        self.rejecting = rejecting
        self.folder = Path(tempfile.mkdtemp(prefix="casedesk-tsa-"))
        self.failing = failing
        self.requests = 0
        ca_key = ec.generate_private_key(ec.SECP256R1())
        tsa_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(f"{name} root")
        ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
        tsa = _certificate(_name(name), ca_name, tsa_key.public_key(), ca_key, ca=False)
        (self.folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.folder / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
        (self.folder / "tsa.key").write_bytes(_pem_key(tsa_key))
        (self.folder / "serial").write_text("01\n")
        (self.folder / "ts.cnf").write_text(TS_CONFIG.format(dir=self.folder))
        self.ca_file = str(self.folder / "ca.pem")
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    def reply(self, query: bytes) -> bytes:
        """OpenSSL's answer to a timestamp query (DER TimeStampResp)."""
        stem = self.folder / uuid.uuid4().hex
        query_file, reply_file = stem.with_suffix(".tsq"), stem.with_suffix(".tsr")
        query_file.write_bytes(query)
        with self._lock:  # one at a time: OpenSSL increments the serial file
            subprocess.run([OPENSSL, "ts", "-reply", "-config", str(self.folder / "ts.cnf"),
                            "-queryfile", str(query_file), "-out", str(reply_file)],
                           check=True, capture_output=True, timeout=30)
        return reply_file.read_bytes()

    def _handler(self):
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                tsa.requests += 1
                query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if tsa.failing:
                    self.send_error(500, "This test TSA is out of order")
                    return
                try:
                    # PKIStatusInfo { rejection(2) }, no token
                    body = b"\x30\x05\x30\x03\x02\x01\x02" if tsa.rejecting else tsa.reply(query)
                except subprocess.CalledProcessError:
                    self.send_error(400, "OpenSSL refused the query")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
