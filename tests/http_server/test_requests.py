"""What every process's HTTP server does to any request, seen on the
gateway: an access line that stays valid JSON (review M9), requests refused
early (L12, M5), and the security headers of every answer."""
import socket

from conftest import open_from


def raw_exchange(port, data, source="127.0.0.1"):
    [sock] = open_from(source, port, 1, first=data)
    sock.settimeout(5)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
    except socket.timeout:
        pass
    finally:
        sock.close()
    return b"".join(chunks)


def access_lines(gateway):
    return [line for line in gateway.log_lines() if line.get("event") == "http_request"]


def test_an_8_kib_path_leaves_a_valid_access_line_with_status_and_client(start_gateway):
    gateway = start_gateway("long-url")
    path = "/" + "A" * 8100
    status, _, _, _ = gateway.get(path)
    assert status == 404
    [line] = [line for line in access_lines(gateway) if line.get("path_length") == len(path)]
    assert line["status"] == 404
    assert line["client_ip"] == "127.0.0.1"
    assert len(line["path"]) == 512


def test_header_values_with_a_bare_cr_are_400(start_gateway):
    gateway = start_gateway("bare-cr")
    answer = raw_exchange(gateway.port, b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n"
                                        b"Accept: application/json\rX-Injected: yes\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"invalid_header" in answer


def test_dot_and_empty_segments_are_400(start_gateway):
    gateway = start_gateway("dots")
    for path in ["/customers/../orders", "/customers/%2e%2e/orders", "/orders/./x", "/orders//x", "/orders/"]:
        status, _, body, _ = gateway.get(path)
        assert status == 400, path
        assert b"invalid_path" in body


def test_every_answer_carries_the_security_headers(start_gateway):
    gateway = start_gateway("headers")
    for path in ["/health", "/openapi.yaml", "/nothing"]:
        _, headers, _, _ = gateway.get(path)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would mean nothing
