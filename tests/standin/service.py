"""A scriptable loopback service for the health and drain checks.

What a test may rely on:

- It binds 127.0.0.1 port 0 (a free port) or, with ``unix=PATH``, a unix
  socket; it never resolves a name nor opens an outbound connection.
- ``tls=True`` serves HTTPS with the stand-ins' self-signed certificate
  for 127.0.0.1 (common.test_certificate); ``tls=(cert_file, key_file)``
  with that one.  ``ca_file`` is then the certificate to trust and ``url``
  starts with https://.  The handshake happens in the connection's thread;
  a client that rejects the certificate just ends that connection.
- Every connection is served by its own thread: one request, one reply,
  ``Connection: close`` (so no reply depends on an earlier one's connection).
- The behaviour is ``service.mode`` (set with ``service.set(mode, **kw)`` at
  any time; it applies to requests that arrive afterwards):

  ``ok``         200 with ``body`` (default ``ok``)
  ``late``       503 ``starting`` until ``after`` seconds after set(), then ok
  ``flap``       alternates per request: ok, then 503 ``down``, ok, ...
  ``status``     ``status`` (default 500) with ``body`` (default ``error``)
  ``hang``       accepts the connection and never reads nor answers
                 (until ``release()`` or ``stop()``)
  ``close_mid``  headers promising ``size`` bytes (default 1000), the first
                 10 bytes of the body, then the connection is closed
  ``big``        200 with a ``size``-byte body (default 10 MiB) of "ok" runs
  ``redirect``   302 to ``location`` (default ``/moved``); any other path
                 than the health path answers ok there
  ``loop``       302 to the same path, for ever

- ``requests`` lists every request read: {"path", "headers" (lower-case
  names), "time"}; ``count`` is its length; ``hits(path)`` counts a path.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from typing import Optional, Union

from standin.common import test_certificate

MAX_HEAD = 16384
READ_TIMEOUT = 10.0


class Service:
    def __init__(self, unix: Optional[str] = None, health_path: str = "/health",
                 tls: Union[bool, tuple, None] = None):
        self.unix = unix
        self.health_path = health_path
        self.ca_file: Optional[str] = None
        self._ssl: Optional[ssl.SSLContext] = None
        if tls:
            cert, key = tls if isinstance(tls, tuple) else test_certificate()
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(cert, key)
            self.ca_file = cert
        self.port: Optional[int] = None
        self.requests: list = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._stop = threading.Event()
        self._conns: set = set()
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._flap = 0
        self.set("ok")

    # -- lifecycle --
    def start(self) -> "Service":
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                os.unlink(self.unix)
            except FileNotFoundError:
                pass
            s.bind(self.unix)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        s.listen(64)
        s.settimeout(0.05)
        self._sock = s
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"service-{self.port or self.unix}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._release.set()
        if self._thread:
            self._thread.join(5)
        if self._sock:
            self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            _close(c)
        if self.unix:
            try:
                os.unlink(self.unix)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        """The health URL as cdgate.ini spells it."""
        if self.unix:
            return f"unix:{self.unix}:{self.health_path}"
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.health_path}"

    # -- behaviour --
    def set(self, mode: str, **kw) -> None:
        if mode not in ("ok", "late", "flap", "status", "hang", "close_mid",
                        "big", "redirect", "loop"):
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self.mode, self.kw, self._since, self._flap = mode, kw, time.monotonic(), 0

    def release(self) -> None:
        """Ends every hang in progress (the connections are closed)."""
        self._release.set()
        self._release = threading.Event()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"] == path)

    # -- serving --
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        try:
            with self._lock:
                mode, kw = self.mode, dict(self.kw)
            if mode == "hang":
                self._release.wait()
                return
            if self._ssl is not None:
                c.settimeout(READ_TIMEOUT)
                raw, c = c, self._ssl.wrap_socket(c, server_side=True)
                with self._lock:
                    self._conns.discard(raw)
                    self._conns.add(c)
            head = _read_head(c)
            if head is None:
                return
            path, headers = head
            with self._lock:
                self.requests.append({"path": path, "headers": headers,
                                      "time": time.monotonic()})
            c.sendall(self._reply(mode, kw, path))
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(c)
            _close(c)

    def _reply(self, mode: str, kw: dict, path: str) -> bytes:
        body = kw.get("body", "ok")
        if mode in ("redirect",) and path != self.health_path:
            return _response(200, "ok")
        if mode == "ok":
            return _response(200, body)
        if mode == "late":
            if time.monotonic() - self._since >= kw.get("after", 2.0):
                return _response(200, body)
            return _response(503, "starting")
        if mode == "flap":
            with self._lock:
                self._flap += 1
                n = self._flap
            return _response(200, body) if n % 2 == 1 else _response(503, "down")
        if mode == "status":
            return _response(kw.get("status", 500), kw.get("body", "error"))
        if mode == "close_mid":
            size = kw.get("size", 1000)
            return _head(200, size) + b"x" * 10
        if mode == "big":
            size = kw.get("size", 10 * 1024 * 1024)
            return _head(200, size) + (b"ok" * (size // 2 + 1))[:size]
        if mode == "redirect":
            return _response(302, "moved", [("Location", kw.get("location", "/moved"))])
        if mode == "loop":
            return _response(302, "again", [("Location", path)])
        raise AssertionError(mode)


def _head(status: int, length: int, headers=()) -> bytes:
    reason = {200: "OK", 302: "Found", 404: "Not Found", 500: "Internal Server Error",
              503: "Service Unavailable"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain",
             f"Content-Length: {length}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response(status: int, body, headers=()) -> bytes:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return _head(status, len(data), headers) + data


def _read_head(c: socket.socket):
    """(path, {lower-case name: value}) of one request, or None."""
    c.settimeout(READ_TIMEOUT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk or len(data) > MAX_HEAD:
            return None
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return parts[1], headers


def _close(c: socket.socket) -> None:
    try:
        c.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        c.close()
    except OSError:
        pass
