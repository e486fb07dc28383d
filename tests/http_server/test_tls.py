"""HTTPS on the gateway (issue 10 item 8, review H6): a certificate and key
from files (TLS_CERT_FILE, TLS_KEY_FILE), read again on SIGHUP without
dropping the listener, HSTS on every answer. The certificates are made here
with the openssl command line."""
import http.client
import shutil
import signal
import ssl
import subprocess
import time

import pytest


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)


def make_server_cert(d, ca, name):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture
def pki(tmp_path):
    if not shutil.which("openssl"):
        pytest.fail("openssl not found: apt-get install openssl")
    d = tmp_path / "pki"
    d.mkdir()
    make_ca(d, "test-ca")
    make_ca(d, "other-ca")
    make_server_cert(d, "test-ca", "first")
    make_server_cert(d, "test-ca", "second")
    make_server_cert(d, "other-ca", "stranger")
    return d


@pytest.fixture
def tls_gateway(start_gateway, pki):
    shutil.copy(pki / "first.pem", pki / "server.pem")
    shutil.copy(pki / "first.key", pki / "server.key")
    return start_gateway("tls", port_offset=2, TLS_CERT_FILE=pki / "server.pem", TLS_KEY_FILE=pki / "server.key")


def https_get(port, cafile, path="/health"):
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status, dict(r.getheaders()), conn.sock.getpeercert()
    finally:
        conn.close()


def common_name(cert):
    return dict(pair[0] for pair in cert["subject"])["commonName"]


def test_a_client_trusting_the_ca_gets_200_with_hsts(tls_gateway, pki):
    status, headers, cert = https_get(tls_gateway.port, pki / "test-ca.pem")
    assert status == 200
    assert common_name(cert) == "first"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_client_trusting_another_ca_fails_verification(tls_gateway, pki):
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(tls_gateway.port, pki / "other-ca.pem")


def test_plain_http_on_the_tls_port_gets_no_answer(tls_gateway):
    conn = http.client.HTTPConnection("127.0.0.1", tls_gateway.port, timeout=5)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", "/health")
        conn.getresponse()
    conn.close()


def test_sighup_serves_the_new_certificate_without_dropping_the_listener(tls_gateway, pki):
    assert common_name(https_get(tls_gateway.port, pki / "test-ca.pem")[2]) == "first"
    shutil.copy(pki / "second.pem", pki / "server.pem")
    shutil.copy(pki / "second.key", pki / "server.key")
    tls_gateway.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while common_name(https_get(tls_gateway.port, pki / "test-ca.pem")[2]) != "second":
        assert time.monotonic() < deadline, "the new certificate was not served within 10 s of SIGHUP"
        time.sleep(0.1)
    assert tls_gateway.proc.poll() is None
    assert any(line.get("event") == "tls_reloaded" for line in tls_gateway.log_lines())


def test_a_bad_file_on_sighup_keeps_the_current_certificate(tls_gateway, pki):
    (pki / "server.key").write_text("not a key\n")
    tls_gateway.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not any(line.get("event") == "tls_reload_failed" for line in tls_gateway.log_lines()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, _, cert = https_get(tls_gateway.port, pki / "test-ca.pem")
    assert status == 200 and common_name(cert) == "first"


def test_a_key_that_is_not_the_certificates_stops_the_start(tmp_path, pki):
    from conftest import BASE_PORT, BINARY
    done = subprocess.run([str(BINARY)], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                          env={"PORT": str(BASE_PORT + 2), "OMS_LOCAL_RUN": "1", "TLS_CERT_FILE": str(pki / "first.pem"),
                               "TLS_KEY_FILE": str(pki / "second.key")})
    assert done.returncode != 0
    assert "is not the key of the certificate" in done.stderr
