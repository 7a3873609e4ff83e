"""HTTP machinery shared by the loopback stand-ins (IMDS, EC2).

What every stand-in built on this module guarantees:

- It binds 127.0.0.1 only (port 0 = a free port chosen by the kernel), never
  resolves a name and never opens an outbound connection.
- Every reply is built completely in memory (status line, headers, body) and
  sent with ONE ``sendall`` on a socket with TCP_NODELAY set, so a client
  never sees a reply split by the server into a header write and a body
  write.  ``Content-Length`` is always set.  The only deliberate exceptions
  are fault replies that are broken on purpose (``truncate``: the promised
  length is not delivered; ``hang``/``disconnect``/``rst``: no reply).
- HTTP/1.1 keep-alive works; ``Connection: close`` from the client is
  honoured and echoed.
- Faults are set by the test at any time, on the server's ``state``, and
  apply to requests that start after they are set.  A fault matches a request
  by a glob (``fnmatch``) on a key the server chooses (IMDS: the path and the
  item below ``/latest/``; EC2: the ``Action``), optionally by method, and
  fires for the next ``count`` matching requests (``None`` = always).  The
  first matching fault wins.
- ``hang`` and ``delay`` end early when the server is reset or stopped, so
  a hung client never keeps a test (or pytest) alive.
- Standalone mode (``serve_main``): ``--port N --state FILE.json`` loads the
  state from JSON and reloads it whenever the file's mtime changes (checked
  on every request), prints ``listening on PORT`` and flushes.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import email.utils
import fnmatch
import http
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, asdict
from typing import Callable, Iterable, Optional

MAX_REQUEST_BODY = 16 * 1024 * 1024   # larger request bodies get 413

# ---------------------------------------------------------------------------
# Faults


FAULT_KINDS = (
    "status",        # reply `status` with `body` (or the server's error body)
    "error",         # EC2: an error reply with `code` / `message` / `status`
    "delay",         # wait `delay` seconds, then answer normally
    "hang",          # read the request, never answer (until reset()/stop())
    "disconnect",    # read the request, close the connection without a reply
    "rst",           # read the request, reset the connection (RST)
    "truncate",      # send the headers and half the promised body, then close
    "garbage",       # 200 with a binary, non-text body
    "invalid_utf8",  # the normal reply with invalid UTF-8 bytes inserted
    "oversized",     # the normal reply padded to `size` bytes
    "malformed",     # EC2: 200 with truncated XML
)


@dataclass
class Fault:
    """One injected fault.  See FAULT_KINDS for ``kind``.

    ``match`` is a glob matched against the server's request keys;
    ``count`` is how many more requests it applies to (None = always);
    ``skip`` matching requests are let through before it starts to apply;
    ``delay`` seconds are waited before any kind acts; ``hits`` counts how
    often it fired.
    """
    kind: str
    match: str = "*"
    count: Optional[int] = None
    method: Optional[str] = None
    status: Optional[int] = None
    delay: float = 0.0
    body: Optional[bytes] = None
    size: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None
    skip: Optional[int] = None
    hits: int = 0

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")

    def matches(self, method: str, keys: Iterable[str]) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return any(fnmatch.fnmatchcase(k, self.match) for k in keys)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["body"] is not None:
            d["body"] = d["body"].decode("utf-8", "surrogateescape")
        del d["hits"]
        return {k: v for k, v in d.items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict) -> "Fault":
        d = dict(d)
        d.pop("hits", None)
        if isinstance(d.get("body"), str):
            d["body"] = d["body"].encode("utf-8", "surrogateescape")
        return cls(**d)


class FaultSet:
    """Fault-injection API shared by the stand-in states (mixin).

    All methods are thread-safe; they return the Fault so a test can look at
    ``fault.hits`` afterwards.
    """

    def _init_faults(self):
        self._fault_lock = threading.RLock()
        self._faults: list[Fault] = []

    # -- generic --
    def add_fault(self, kind: str, match: str = "*", count: Optional[int] = None,
                  **kw) -> Fault:
        f = Fault(kind=kind, match=match, count=count, **kw)
        if f.count is not None and f.count <= 0:
            return f
        with self._fault_lock:
            self._faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._fault_lock:
            return list(self._faults)

    def take_fault(self, method: str, keys: Iterable[str]) -> Optional[Fault]:
        """Server side: the first fault matching this request, consumed once."""
        keys = list(keys)
        with self._fault_lock:
            for f in self._faults:
                if f.matches(method, keys):
                    if f.skip:
                        f.skip -= 1
                        continue
                    f.hits += 1
                    if f.count is not None:
                        f.count -= 1
                        if f.count <= 0:
                            self._faults.remove(f)
                    return f
        return None

    # -- conveniences --
    def fail(self, status: int, match: str = "*", count: Optional[int] = None,
             body: Optional[bytes] = None, **kw) -> Fault:
        """Reply HTTP `status` (403, 429, 500, ...) instead of answering."""
        return self.add_fault("status", match, count, status=status, body=body, **kw)

    def delay(self, seconds: float, match: str = "*",
              count: Optional[int] = None, **kw) -> Fault:
        """Wait `seconds` before answering normally."""
        return self.add_fault("delay", match, count, delay=seconds, **kw)

    def hang(self, match: str = "*", count: Optional[int] = None, **kw) -> Fault:
        """Accept and read the request, never answer (until reset/stop)."""
        return self.add_fault("hang", match, count, **kw)

    def disconnect(self, match: str = "*", count: Optional[int] = None,
                   rst: bool = False, **kw) -> Fault:
        """Close the connection without answering (RST if `rst`)."""
        return self.add_fault("rst" if rst else "disconnect", match, count, **kw)

    def truncate(self, match: str = "*", count: Optional[int] = None, **kw) -> Fault:
        """Promise a Content-Length, send half the body, close."""
        return self.add_fault("truncate", match, count, **kw)

    def garbage(self, match: str = "*", count: Optional[int] = None, **kw) -> Fault:
        """200 with a binary body instead of the item."""
        return self.add_fault("garbage", match, count, **kw)

    def invalid_utf8(self, match: str = "*", count: Optional[int] = None, **kw) -> Fault:
        """The normal reply with invalid UTF-8 bytes in it."""
        return self.add_fault("invalid_utf8", match, count, **kw)

    def oversized(self, match: str = "*", count: Optional[int] = None,
                  size: Optional[int] = None, **kw) -> Fault:
        """The normal reply padded to `size` bytes (server default if None)."""
        return self.add_fault("oversized", match, count, size=size, **kw)

    # -- JSON --
    def _faults_to_list(self) -> list:
        return [f.to_dict() for f in self.faults]

    def _faults_from_list(self, items) -> None:
        new = [Fault.from_dict(d) for d in (items or [])]
        with self._fault_lock:
            self._faults[:] = new


GARBAGE = bytes(range(256)) * 4               # binary, NULs, invalid UTF-8
BAD_UTF8 = b"\xc3\x28\xa0\xa1\xff\xfe"        # invalid in every position


# ---------------------------------------------------------------------------
# Replies


@dataclass
class Reply:
    """What a stand-in answers.  ``action`` None = a normal one-write reply;
    otherwise one of hang / disconnect / rst / truncate."""
    status: int = 200
    body: bytes = b""
    headers: list = field(default_factory=list)
    close: bool = False
    action: Optional[str] = None
    delay: float = 0.0
    note: str = ""          # for the request log (e.g. the fault kind)


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def build_response(status: int, body: bytes, headers=(), close: bool = False,
                   server: str = "standin", head: bool = False) -> bytes:
    """The complete HTTP/1.1 response as bytes: status line, headers
    (always Date, Server, Content-Length, Connection), body (omitted for a
    HEAD request, whose Content-Length is still the body's)."""
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}",
             f"Date: {email.utils.formatdate(usegmt=True)}",
             f"Server: {server}"]
    names = set()
    for k, v in headers:
        names.add(k.lower())
        lines.append(f"{k}: {v}")
    if "content-type" not in names:
        lines.append("Content-Type: text/plain")
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close" if close else "Connection: keep-alive")
    top = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return top if head else top + body


# ---------------------------------------------------------------------------
# TLS: one self-signed certificate per test session


_cert_lock = threading.Lock()
_cert_paths: Optional[tuple[str, str]] = None


def test_certificate() -> tuple[str, str]:
    """(cert_file, key_file) of a self-signed certificate for 127.0.0.1 and
    localhost, made once per process with the openssl CLI into a temporary
    directory removed at exit.  The certificate is its own CA: give
    ``cert_file`` to clients as the CA bundle."""
    global _cert_paths
    with _cert_lock:
        if _cert_paths is None:
            d = tempfile.mkdtemp(prefix="cdgate-standin-tls-")
            atexit.register(shutil.rmtree, d, True)
            _cert_paths = make_certificate(d)
        return _cert_paths


def make_certificate(directory, name: str = "127.0.0.1",
                     alt_names: str = "IP:127.0.0.1,DNS:localhost") -> tuple[str, str]:
    """(cert_file, key_file) of a new self-signed certificate written into
    `directory` (cert.pem, key.pem): subject CN `name`, subjectAltName
    `alt_names` (openssl syntax), its own CA (give cert_file to clients as
    the CA bundle)."""
    cert = os.path.join(str(directory), "cert.pem")
    key = os.path.join(str(directory), "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "7",
         "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={alt_names}",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


# ---------------------------------------------------------------------------
# Server and handler


class _BodyError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


class StandinHandler(http.server.BaseHTTPRequestHandler):
    """Request handler: reads the request (and its body), asks the stand-in
    for a Reply, delivers it in one write."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # StreamRequestHandler sets TCP_NODELAY
    timeout = 300                      # idle keep-alive connections end
    server_version = "standin"

    # -- connection bookkeeping --
    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
        self.server.standin._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, False)

    def log_message(self, format, *args):       # noqa: A002 (stdlib name)
        if self.server.standin.verbose:
            sys.stderr.write("%s %s\n" % (self.server.standin.name, format % args))

    # -- one-write output --
    def _send_bytes(self, data: bytes) -> None:
        try:
            self.connection.sendall(data)
        except OSError:
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """Replaces the stdlib's multi-write error reply (bad request line,
        unsupported method, ...) by a one-write reply."""
        self.close_connection = True
        text = f"{code} {message or reason_phrase(code)}\n".encode("latin-1", "replace")
        self._send_bytes(build_response(code, text, close=True,
                                        server=self.server.standin.server_header))

    # -- methods --
    def do_GET(self):
        self._run()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BodyError(400, "bad chunk size")
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + n > MAX_REQUEST_BODY:
                    raise _BodyError(413, "request body too large")
                out += self.rfile.read(n)
                self.rfile.readline(1024)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
        except ValueError:
            raise _BodyError(400, "bad Content-Length")
        if n < 0:
            raise _BodyError(400, "bad Content-Length")
        if n > MAX_REQUEST_BODY:
            raise _BodyError(413, "request body too large")
        body = self.rfile.read(n)
        if len(body) != n:
            raise _BodyError(400, "short body")
        return body

    def _run(self):
        standin = self.server.standin
        try:
            body = self._read_body()
        except _BodyError as e:
            self.send_error(e.status, str(e))
            return
        path, _, query = self.path.partition("?")
        try:
            reply = standin.dispatch(self, self.command, path, query, body)
        except Exception as e:   # a stand-in bug must not look like a hang
            import traceback
            traceback.print_exc()
            reply = Reply(500, f"stand-in error: {e}\n".encode(), close=True)
        self._deliver(reply)

    def _deliver(self, r: Reply) -> None:
        standin = self.server.standin
        if r.delay > 0:
            standin.wait_released(r.delay)
        if r.action == "hang":
            standin.wait_released(None)
            self.close_connection = True
            return
        if r.action == "disconnect":
            self.close_connection = True
            return
        if r.action == "rst":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            except OSError:
                pass
            return
        close = r.close or self.close_connection
        head = self.command == "HEAD"
        data = build_response(r.status, r.body, r.headers, close,
                              server=standin.server_header, head=head)
        if r.action == "truncate" and not head:
            head_len = len(data) - len(r.body)
            data = data[:head_len + len(r.body) // 2]
            close = True
        self._send_bytes(data)
        if close:
            self.close_connection = True


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256     # a fleet benchmark opens many connections
    allow_reuse_address = True

    def server_bind(self):
        # No getfqdn(): never resolve names.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        ctx = self.standin._ssl_context
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_side=True,
                                   do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError, TimeoutError)):
            return                      # client went away: not our problem
        super().handle_error(request, client_address)


class StandinServer:
    """Base class of the stand-ins: lifecycle, request log, counters,
    hang release, state-file reload.  Subclasses implement ``handle``."""

    name = "standin"
    server_header = "standin"
    state_class: type = object

    def __init__(self, state=None, *, tls: bool = False, port: int = 0,
                 verbose: bool = False):
        self.state = state if state is not None else self.state_class()
        self.tls = tls
        self.port = port
        self.verbose = verbose
        self.ca_file: Optional[str] = None
        self._ssl_context = None
        if tls:
            cert, key = test_certificate()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._ssl_context = ctx
            self.ca_file = cert
        self.counts: collections.Counter = collections.Counter()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._conns: set = set()
        self._httpd = None
        self._thread = None
        self.state_file: Optional[str] = None
        self._state_mtime = None

    # -- lifecycle --
    def start(self) -> "StandinServer":
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(("127.0.0.1", self.port), StandinHandler)
        self._httpd.standin = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hung and delayed replies end, open connections close."""
        if self._httpd is None:
            return
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Back to the initial state: state reset, faults cleared, counters
        and log emptied, hung replies released."""
        self.state.reset()
        self.release()
        with self._lock:
            self.counts.clear()
            self.log.clear()

    def release(self) -> None:
        """End every hang and delay in progress (they close the connection)."""
        with self._lock:
            old, self._release = self._release, threading.Event()
        old.set()

    def wait_released(self, seconds: Optional[float]) -> bool:
        """Sleep up to `seconds` (None: forever) unless released/stopped."""
        with self._lock:
            ev = self._release
        return ev.wait(seconds)

    def _track(self, conn, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # -- per request --
    def record(self, **entry) -> dict:
        entry.setdefault("time", time.time())
        with self._lock:
            self.log.append(entry)
            self.counts[(entry.get("method"), entry.get("path"))] += 1
        return entry

    def requests(self, **match) -> list[dict]:
        """Log entries whose fields equal all of `match`."""
        with self._lock:
            log = list(self.log)
        return [e for e in log if all(e.get(k) == v for k, v in match.items())]

    def dispatch(self, handler, method, path, query, body) -> Reply:
        self._maybe_reload()
        return self.handle(handler, method, path, query, body)

    def handle(self, handler, method, path, query, body) -> Reply:
        raise NotImplementedError

    # -- standalone state file --
    def watch_state_file(self, path: str) -> None:
        self.state_file = path
        self._maybe_reload()

    def _maybe_reload(self) -> None:
        if not self.state_file:
            return
        try:
            mtime = os.stat(self.state_file).st_mtime_ns
        except OSError:
            return
        if mtime == self._state_mtime:
            return
        with self._lock:
            if mtime == self._state_mtime:
                return
            try:
                with open(self.state_file, encoding="utf-8") as f:
                    data = json.load(f)
                self.state.load_dict(data)
            except (OSError, ValueError, TypeError) as e:
                # half-written file: keep the old state, retry next request
                sys.stderr.write(f"{self.name}: state file not loaded: {e}\n")
                return
            self._state_mtime = mtime


def serve_main(server_factory: Callable[..., StandinServer], argv=None,
               description: str = "", tls_option: bool = False) -> int:
    """Standalone entry point shared by imds.py and ec2.py."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    ap.add_argument("--state", help="JSON state file, reloaded when its mtime changes")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    if tls_option:
        ap.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a self-signed certificate "
                             "(its path is printed as 'ca_file PATH')")
    args = ap.parse_args(argv)
    kw = {"port": args.port, "verbose": args.verbose}
    if tls_option:
        kw["tls"] = args.tls
    srv = server_factory(**kw)
    if args.state:
        srv.watch_state_file(os.path.abspath(args.state))
    srv.start()
    done = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: done.set())
    print(f"listening on {srv.port}", flush=True)
    if srv.ca_file:
        print(f"ca_file {srv.ca_file}", flush=True)
    while not done.wait(1.0):
        pass
    srv.stop()
    return 0
