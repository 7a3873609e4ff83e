"""The bad-input matrix (docs/dev/bad-input.md): files, HTTP replies and
environment values no hook may crash, hang, pass by accident or leak on
(issue 6).  Rows already covered by test_marker.py, test_config.py,
test_imds_faults.py, test_tags.py and test_health.py are referenced from the
document, not repeated here.

HTTP faults the stand-ins cannot produce (a garbage status line, a body cut
short, a reply dripped byte by byte, a wrong content type, a redirect, an
endless chunked body) come from RawServer: a loopback server answering
every request with bytes the test chose.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import EC2_SECRET
from lib.agent import SLACK, assert_agent_clean, run_program
from lib.marker import marker_text, write_marker
from standin import imds as imds_mod

INSTANCE = "i-0123456789abcdef0"
HUGE = 100 * 1024


# ---------------------------------------------------------------------------
# helpers


def gate_cfg(marker, timeout=3, extra=""):
    return (f"[gate]\ntimeout = {timeout}\nhistory = none\n[marker]\npath = {marker}\n"
            f"[BeforeInstall]\nchecks = lifecycle marker\n{extra}")


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "state" / "provisioned"
    write_marker(m, marker_text())
    return m


def reply(status="200 OK", body=b"", headers=(), length=None):
    body = body.encode() if isinstance(body, str) else body
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body) if length is None else length}"]
    head += list(headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class RawServer:
    """A loopback HTTP server whose replies are raw bytes from `answer`.

    answer(method, path, headers, body) returns bytes (sent, then the
    connection closes), a generator of (delay, bytes) steps, or None (close
    at once).  `requests` lists (method, path, headers) seen; `connections`
    counts accepted connections.  Stops by itself with the test."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return method, path, headers, body

    def _serve(self, conn):
        conn.settimeout(10)
        try:
            while not self.stopping.is_set():
                req = self._read_request(conn)
                if req is None:
                    return
                self.requests.append(req[:3])
                out = self.answer(*req)
                if out is None:
                    return
                if isinstance(out, bytes):
                    conn.sendall(out)
                    continue        # keep-alive: the reply says its length
                for delay, data in out:
                    if self.stopping.wait(delay):
                        return
                    conn.sendall(data)
                return
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def raw():
    servers = []

    def make(answer):
        s = RawServer(answer)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def imds_answer(instance_reply, lifecycle=None):
    """A minimal IMDSv2: a token, 404 for the lifecycle state (not in a
    group, unless `lifecycle` is given), `instance_reply` for the id."""
    def answer(method, path, headers, body):
        if method == "PUT" and path == "/latest/api/token":
            return reply(body="AQAEAFakeToken==")
        if path.endswith("autoscaling/target-lifecycle-state"):
            return lifecycle if lifecycle is not None else reply("404 Not Found")
        if path.endswith("meta-data/instance-id"):
            return instance_reply
        return reply("404 Not Found")
    return answer


# ---------------------------------------------------------------------------
# files: the marker


def test_marker_device_is_refused(deploy, imds):
    r = deploy(gate_cfg("/dev/null")).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and "'/dev/null' is a device" in r.verdict, r.describe()
    assert r.elapsed < 3 + SLACK


def test_marker_unreadable_is_refused(deploy, imds):
    # /proc/self/mem opens as a regular root-owned file and fails on read
    # (EIO), which root cannot get from permissions
    r = deploy(gate_cfg("/proc/self/mem")).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1, r.describe()
    assert "cannot read marker '/proc/self/mem': Input/output error" in r.verdict, r.describe()


def test_marker_directory_writable_by_others_is_refused(deploy, tmp_path, imds):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    write_marker(d / "provisioned", marker_text())
    r = deploy(gate_cfg(d / "provisioned")).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1, r.describe()
    assert f"marker directory '{d}' is writable by everyone; chmod go-w '{d}'" in r.verdict, \
        r.describe()


@pytest.mark.valgrind
def test_marker_duplicate_key_is_refused(deploy, marker, imds):
    write_marker(marker, marker_text() + "[provision]\nstatus = ok\n")
    r = deploy(gate_cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and "'status' is given twice" in r.verdict, r.describe()


def test_marker_crlf_line_ends_are_read(deploy, marker, imds):
    write_marker(marker, marker_text().replace("\n", "\r\n"))
    r = deploy(gate_cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


def test_mark_tag_value_with_newline_is_refused(build, tmp_path, imds):
    """A value holding a newline would add lines (even [provision] keys) to
    the marker: cdgate-mark refuses it before running anything."""
    m = tmp_path / "state" / "provisioned"
    r = cdgate_mark(build, m, ["--tag", "Role=api\n[provision]\nmessage = injected"])
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64, r.describe()
    assert r.verdict.startswith("cdgate: cdgate-mark: FAIL: --tag 'Role=api"), r.describe()
    assert ("the value holds a control character, a leading or trailing blank, or ' ;'"
            in r.verdict), r.describe()
    assert not m.exists()


@pytest.mark.valgrind
def test_mark_tag_key_with_newline_round_trips(build, deploy, tmp_path, imds):
    m = tmp_path / "state" / "provisioned"
    r = cdgate_mark(build, m, ["--tag", "a\nb=api"])
    assert r.returncode == 0, r.describe()
    assert "a%0Ab = api" in m.read_text()
    r = deploy(gate_cfg(m)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


def cdgate_mark(build, marker, args):
    from lib.agent import run_program
    ini = marker.parent.parent / "mark.ini"
    ini.write_text(f"[gate]\nhistory = none\n[marker]\npath = {marker}\n")
    return run_program(build / "bin" / "cdgate-mark",
                       ["-c", str(ini), "--instance-id", INSTANCE, *args])


# ---------------------------------------------------------------------------
# files: the configuration


@pytest.mark.parametrize("path,expect", [("/dev/null", "is a device"),
                                         ("/proc/self/mem", "cannot read config")])
def test_config_device_or_unreadable_is_refused(deploy, marker, path, expect):
    r = deploy(gate_cfg(marker)).run("before-install", timeout=30,
                                     env={"CDGATE_CONFIG": path})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and expect in r.verdict, r.describe()


def test_config_missing_everywhere_means_built_in_defaults(build, imds, tmp_path):
    """No CDGATE_CONFIG and no cdgate.ini beside the hook, in its parent or
    in /etc/cdgate: the built-in defaults, which check mode prints (a real
    run would wait for /var/lib/cdgate/provisioned)."""
    from lib.agent import run_program
    (tmp_path / "opt" / "hooks").mkdir(parents=True)
    hook = tmp_path / "opt" / "hooks" / "before-install"
    shutil.copy(build / "hooks" / "before-install", hook)
    r = run_program(hook, ["-n"], env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                                       "CDGATE_CONFIG": None})
    assert_agent_clean(r, "PASS")
    assert r.returncode == 0, r.describe()
    etc = Path("/etc/cdgate/cdgate.ini")
    if etc.exists():
        assert f"config '{etc}'" in r.stdout, r.describe()
    else:
        assert "config built-in defaults (no cdgate.ini found)" in r.stdout, r.describe()
        assert "checks: lifecycle notices marker tags; deadline 300s" in r.stdout, r.describe()
        assert "marker: '/var/lib/cdgate/provisioned'" in r.stdout, r.describe()
    assert sum(imds.counts.values()) == 0, "check mode asks nothing"


def test_config_empty_file_means_defaults(deploy):
    """An empty cdgate.ini is valid: every setting is the default (check
    mode shows them; a real run would wait for /var/lib/cdgate/provisioned)."""
    from lib.agent import run_program
    dep = deploy("")
    r = run_program(dep.hook("before-install"), ["-n"])
    assert r.returncode == 0, r.describe()
    assert "deadline 300s" in r.stdout, r.describe()
    assert str(dep.path / "cdgate" / "cdgate.ini") in r.stdout, r.describe()


def test_config_line_of_exactly_the_cap_is_read(deploy, marker):
    line = "; " + "x" * (1024 - 2)
    r = deploy(gate_cfg(marker) + line + "\n").run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    r = deploy(gate_cfg(marker) + line + "x\n").run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and "line longer than 1024 bytes" in r.verdict


def test_config_same_key_in_two_sections_is_fine(deploy, marker):
    text = gate_cfg(marker) + "[AfterInstall]\nchecks = lifecycle\n[AfterInstall]\ntimeout = 5\n"
    r = deploy(text).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


# ---------------------------------------------------------------------------
# HTTP replies from instance metadata


GET_ID = "GET /latest/meta-data/instance-id"
NOT_TEXT = "instance metadata item 'meta-data/instance-id' is not valid text"
IMDS_FAULTS = {
    # name: (instance-id reply, expected verdict text)
    "garbage-status-line": (b"XYZZY garbage\r\n\r\n",
                            f"did not answer {GET_ID}: Received HTTP/0.9 when not allowed"),
    "truncated-body": ([(0, reply(body="i-0123", length=400))],
                       f"did not answer {GET_ID}: transfer closed with 394 bytes remaining"),
    "truncated-stalled": (reply(body="i-0123", length=400),
                          f"did not answer {GET_ID}: Operation timed out after"),
    "huge-body": ([(0, b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n")] +
                  [(0, b"A" * 65536)] * 160, f"{GET_ID}: reply larger than 65536 bytes"),
    "endless-chunked": ([(0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")] +
                        [(0.01, b"10000\r\n" + b"B" * 65536 + b"\r\n")] * 200,
                        f"{GET_ID}: reply larger than 65536 bytes"),
    "dripped-reply": ([(0, b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n")] +
                      [(0.4, b"i")] * 19, f"did not answer {GET_ID}: Operation timed out"),
    "header-only-close": (b"HTTP/1.1 200 OK\r\n", f"did not answer {GET_ID}"),
    "hang-after-accept": ([(30, b"")], f"did not answer {GET_ID}"),
    "garbage-body": (reply(body="<html>captive portal</html>"),
                     "instance metadata sent a malformed instance id "
                     "'<html>captive portal</html>'"),
    "invalid-utf8": (reply(body=b"i-0123\xff\xfe456789abcdef0"), NOT_TEXT),
    "nul-in-body": (reply(body=b"i-0123\x00456789abcdef0"), NOT_TEXT),
    "redirect": (reply("302 Found", headers=["Location: http://127.0.0.1:9/x"]),
                 "answered HTTP 302 for 'meta-data/instance-id'"),
    "status-999": (reply("999 Odd"), "answered HTTP 999 for 'meta-data/instance-id'"),
}
# a reply that arrived but is unusable fails at once, not retried
IMDS_AT_ONCE = {"huge-body", "endless-chunked", "garbage-body", "invalid-utf8", "nul-in-body",
                "redirect", "status-999"}


@pytest.mark.parametrize("case", sorted(IMDS_FAULTS))
def test_imds_bad_reply_fails_closed_by_the_deadline(deploy, marker, raw, case):
    ans, expect = IMDS_FAULTS[case]
    srv = raw(imds_answer(_Steps(ans) if isinstance(ans, list) else ans))
    r = deploy(gate_cfg(marker, timeout=2)).run(
        "before-install", timeout=30, env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r.describe()
    assert expect in r.verdict, r.describe()
    assert r.elapsed < 2 + 1.5 + SLACK, "ended by the deadline"
    if case in IMDS_AT_ONCE:
        asked = [p for _, p, _ in srv.requests if p.endswith("/instance-id")]
        assert len(asked) == 1, f"at once, not retried: {len(asked)} requests"


class _Steps:
    """A fresh generator of (delay, bytes) steps for every request."""

    def __init__(self, steps):
        self.steps = steps

    def __iter__(self):
        return iter(self.steps)


def test_imds_redirect_is_not_followed(deploy, marker, raw):
    target = raw(lambda *a: reply(body=INSTANCE))
    srv = raw(imds_answer(reply("301 Moved", headers=[f"Location: {target.url}/latest/"
                                                      "meta-data/instance-id"])))
    r = deploy(gate_cfg(marker, timeout=2)).run(
        "before-install", timeout=30, env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r.describe()
    assert "answered HTTP 301 for 'meta-data/instance-id'" in r.verdict, r.describe()
    assert target.connections == 0


def test_imds_wrong_content_type_is_still_text(deploy, marker, raw):
    """IMDS items are text whatever the Content-Type says: JSON or HTML
    labels change nothing, the bytes are checked."""
    srv = raw(imds_answer(reply(body=INSTANCE, headers=["Content-Type: application/json"])))
    r = deploy(gate_cfg(marker)).run(
        "before-install", timeout=30, env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url})
    assert_agent_clean(r, "PASS")


def test_imds_huge_lifecycle_state_fails_closed(deploy, marker, raw):
    srv = raw(imds_answer(reply(body=INSTANCE), lifecycle=reply(body="S" * 70000)))
    r = deploy(gate_cfg(marker)).run(
        "before-install", timeout=30, env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": srv.url})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r.describe()
    assert (f"lifecycle: instance metadata '{srv.url}' GET /latest/meta-data/autoscaling/"
            "target-lifecycle-state: reply larger than 65536 bytes") in r.verdict, r.describe()
    asked = [p for _, p, _ in srv.requests if p.endswith("/target-lifecycle-state")]
    assert len(asked) == 1, f"at once, not retried: {len(asked)} requests"


# ---------------------------------------------------------------------------
# HTTP replies from EC2 (tags through DescribeTags)


def tags_cfg(timeout=3):
    return (f"[gate]\ntimeout = {timeout}\nhistory = none\n[tags]\nsource = ec2\n"
            "Role = api\n[BeforeInstall]\nchecks = lifecycle tags\n")


REPLY_TO = "reply to DescribeTags: "
EC2_FAULTS = {
    "html-content-type": (reply(body="<html><body>Service Unavailable</body></html>",
                                headers=["Content-Type: text/html"]),
                          REPLY_TO + "line 1: unexpected root element 'html', "
                          "not 'DescribeTagsResponse'"),
    "json-reply": (reply(body='{"Tags": []}', headers=["Content-Type: application/json"]),
                   REPLY_TO + "XML parse error at line 1, column 0: "
                   "not well-formed (invalid token)"),
    "garbage": (reply(body=b"\x00\x01\x02 not a reply \xff"),
                REPLY_TO + "XML parse error at line 1, column 0: "
                "not well-formed (invalid token)"),
    "redirect": (reply("307 Temporary Redirect",
                       headers=["Location: http://127.0.0.1:9/"]),
                 "tags: EC2 DescribeTags failed: HTTP 307 (no EC2 error code)"),
    "invalid-utf8-xml": (reply(body=b"<DescribeTagsResponse><tagSet><item><key>Role</key>"
                                    b"<value>\xff\xfe</value></item></tagSet>"
                                    b"</DescribeTagsResponse>"),
                         REPLY_TO + "XML parse error at line 1, column 58: "
                         "not well-formed (invalid token)"),
    "doctype-entities": (reply(body='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">'
                                    ']><DescribeTagsResponse>&a;</DescribeTagsResponse>'),
                         REPLY_TO + "line 1: a DOCTYPE, which is refused"),
}


@pytest.mark.valgrind
@pytest.mark.parametrize("case", sorted(EC2_FAULTS))
def test_ec2_bad_reply_fails_closed(deploy, imds, raw, case):
    ans, expect = EC2_FAULTS[case]
    srv = raw(lambda *a: ans)
    r = deploy(tags_cfg()).run("before-install", timeout=30,
                               env={"AWS_ENDPOINT_URL_EC2": srv.url})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r.describe()
    assert expect in r.verdict, r.describe()
    if case != "redirect":
        assert f"tags: EC2 DescribeTags at {srv.url}/: " in r.verdict, r.describe()
    assert len(srv.requests) == 1, "at once, not retried"


def test_ec2_truncated_reply_is_retried_until_the_deadline(deploy, imds, raw):
    # half a reply, then the connection closes
    srv = raw(lambda *a: [(0, reply(body="<DescribeTagsResponse>", length=5000))])
    r = deploy(tags_cfg(timeout=2)).run(
        "before-install", timeout=30,
        env={"AWS_ENDPOINT_URL_EC2": srv.url, "CDGATE_TEST_BACKOFF_MS": "20"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69 and "did not succeed before the deadline" in r.verdict
    assert len(srv.requests) >= 2 and r.elapsed < 2 + 1.5 + SLACK


def test_ec2_redirect_is_not_followed(deploy, imds, raw):
    target = raw(lambda *a: reply(body="<x/>"))
    srv = raw(lambda *a: reply("301 Moved", headers=[f"Location: {target.url}/"]))
    r = deploy(tags_cfg()).run("before-install", timeout=30,
                               env={"AWS_ENDPOINT_URL_EC2": srv.url})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r.describe()
    assert "tags: EC2 DescribeTags failed: HTTP 301 (no EC2 error code)" in r.verdict, \
        r.describe()
    assert len(srv.requests) == 1 and target.connections == 0


# ---------------------------------------------------------------------------
# HTTP replies from the service's health endpoint


def test_health_invalid_utf8_body_excerpt_is_cleaned(deploy, raw):
    """The verdict quotes the start of an unhealthy reply's body: invalid
    UTF-8 is cleaned to '?', and the excerpt is cut."""
    srv = raw(lambda *a: reply("500 Internal Server Error",
                               body=b"\xff\xfe" + "é".encode() * 300))
    r = deploy("[gate]\ntimeout = 1\nhistory = none\n"
               f"[health]\nurl = {srv.url}/health\n"
               "[ValidateService]\nchecks = health\n").run("validate-service", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r.describe()
    assert f"health '{srv.url}/health': 500 '??éé" in r.verdict, r.describe()
    assert "éééé...' after " in r.verdict, r.describe()


# ---------------------------------------------------------------------------
# proxies: never for instance metadata, never for a loopback endpoint


@pytest.mark.parametrize("var", ["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy",
                                 "https_proxy", "HTTPS_PROXY"])
def test_proxy_variables_never_see_imds_or_credentials(deploy, imds, ec2, raw, var):
    proxy = raw(lambda *a: reply("502 Bad Gateway"))
    r = deploy(tags_cfg()).run("before-install", timeout=30,
                               env={var: proxy.url, "NO_PROXY": "", "no_proxy": ""})
    assert_agent_clean(r, "PASS")
    assert proxy.connections == 0, proxy.requests


# ---------------------------------------------------------------------------
# the environment: every variable a program reads, with hostile values

BAD_UTF8 = "caf\udce9\udcff\udcfe"           # bytes e9 ff fe: not UTF-8
CONTROL = "\x1b[31mred\x07\x01\x7f\ttab\nline"
KINDS = {"empty": "", "huge": "A" * HUGE, "bad-utf8": BAD_UTF8, "control": CONTROL}

# Secrets must never be printed.  A hostile value of a secret variable
# carries a distinctive mark, so that a leak of it (whole, cut or cleaned)
# can be told from chance: "" or "caf" could appear anywhere.
SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
SECRET_MARK = "hostileSecret/Q7+zK9wX"
KNOWN_SECRETS = (EC2_SECRET, imds_mod.DEFAULT_ROLE_SECRET, imds_mod.DEFAULT_ROLE_TOKEN)
SECRET_WINDOW = 20


def env_value(var, kind):
    """The value of kind `kind` for `var`: KINDS, marked for a secret."""
    v = KINDS[kind]
    if var not in SECRET_VARS or not v:
        return v
    if kind == "huge":
        return (SECRET_MARK * (HUGE // len(SECRET_MARK) + 1))[:HUGE]
    return SECRET_MARK + v


def secret_windows(values):
    """Every distinctive SECRET_WINDOW-character piece of the values (a
    shorter one can be public: "0123456789abcdef" is in the instance id): runs
    of printable ASCII cut into windows, keeping those with at least 6
    different characters (not "AAAA...", not "//////...")."""
    out = set()
    for v in values:
        for run in re.findall("[\x21-\x7e]{%d,}" % SECRET_WINDOW, v):
            for i in range(min(len(run), 4096) - SECRET_WINDOW + 1):
                w = run[i:i + SECRET_WINDOW]
                if len(set(w)) >= 6:
                    out.add(w)
    return out


KNOWN_SECRET_WINDOWS = frozenset(secret_windows(KNOWN_SECRETS))


def assert_no_secret(env, *texts):
    """No piece of the stand-ins' secrets, nor of a secret the test put in
    `env`, in any of `texts` (output, history...)."""
    injected = [v for k, v in env.items() if k in SECRET_VARS and v]
    windows = KNOWN_SECRET_WINDOWS | secret_windows(injected)
    assert windows, "nothing to look for"
    for text in texts:
        leaked = sorted(w for w in windows if w in text)
        assert not leaked, f"secret printed: {leaked[:3]}"


# variable -> {kind: (exit code, verdict needle)}; "*" is every kind not
# named.  PASS rows: the value is ignored or harmless, and the run is the
# normal one (lifecycle, marker and tags through EC2 all pass).
ENV_MATRIX = {
    "CDGATE_CONFIG": {"empty": (0, "PASS"), "huge": (78, "CDGATE_CONFIG is too long"),
                      "*": (78, "does not exist")},
    "LIFECYCLE_EVENT": {"empty": (0, "PASS"), "*": (64, "LIFECYCLE_EVENT is")},
    "AWS_REGION": {"empty": (0, "PASS"), "*": (78, "AWS_REGION")},
    "AWS_DEFAULT_REGION": {"empty": (0, "PASS"), "*": (78, "AWS_DEFAULT_REGION")},
    "AWS_ENDPOINT_URL_EC2": {"empty": (0, "PASS"), "*": (78, "AWS_ENDPOINT_URL_EC2")},
    "AWS_ENDPOINT_URL": {"empty": (0, "PASS"), "*": (78, "AWS_ENDPOINT_URL")},
    "AWS_CA_BUNDLE": {"empty": (0, "PASS"), "*": (78, "AWS_CA_BUNDLE")},
    "AWS_ACCESS_KEY_ID": {"empty": (78, "AWS_ACCESS_KEY_ID is not"), "*": (78, "AWS_")},
    "AWS_SECRET_ACCESS_KEY": {"empty": (78, "AWS_SECRET_ACCESS_KEY is not"),
                              "*": (78, "AWS_")},
    "AWS_SESSION_TOKEN": {"empty": (0, "PASS"), "*": (78, "AWS_")},
    "AWS_EC2_METADATA_SERVICE_ENDPOINT": {"empty": (69, "169.254.169.254"),
                                          "*": (78, "AWS_EC2_METADATA_SERVICE_ENDPOINT")},
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": {"*": (0, "PASS")},
    "AWS_EC2_METADATA_DISABLED": {"*": (0, "PASS")},
    # test-only knobs (src/aws/ec2.c): ignored unless 1..60000
    "CDGATE_TEST_BACKOFF_MS": {"*": (0, "PASS")},
    "CDGATE_TEST_FIXED_RETRY_MS": {"*": (0, "PASS")},
    # libcurl's (CURL_CA_BUNDLE is the curl tool's, not libcurl's)
    "http_proxy": {"*": (0, "PASS")},
    "https_proxy": {"*": (0, "PASS")},
    "HTTPS_PROXY": {"*": (0, "PASS")},
    "all_proxy": {"*": (0, "PASS")},
    "ALL_PROXY": {"*": (0, "PASS")},
    "no_proxy": {"*": (0, "PASS")},
    "NO_PROXY": {"*": (0, "PASS")},
    "CURL_SSL_BACKEND": {"*": (0, "PASS")},
    # OpenSSL's
    "SSL_CERT_FILE": {"*": (0, "PASS")},
    "SSL_CERT_DIR": {"*": (0, "PASS")},
    "OPENSSL_CONF": {"*": (0, "PASS")},
    "OPENSSL_CONF_INCLUDE": {"*": (0, "PASS")},
    "OPENSSL_MODULES": {"*": (0, "PASS")},
    "OPENSSL_ENGINES": {"*": (0, "PASS")},
    "OPENSSL_ia32cap": {"*": (0, "PASS")},
    # the C library's
    "HOME": {"*": (0, "PASS")},
    "TZ": {"*": (0, "PASS")},
    "LANG": {"*": (0, "PASS")},
    "PATH": {"*": (0, "PASS")},
}
HISTORY_ENV = ("DEPLOYMENT_ID", "APPLICATION_NAME", "DEPLOYMENT_GROUP_NAME",
               "DEPLOYMENT_GROUP_ID", "BUNDLE_BUCKET", "BUNDLE_KEY", "BUNDLE_VERSION",
               "BUNDLE_ETAG", "BUNDLE_COMMIT")
HISTORY_ENV_FIELDS = tuple(v.lower() for v in HISTORY_ENV)
for _v in HISTORY_ENV:
    ENV_MATRIX[_v] = {"*": (0, "PASS")}

# the variable's neighbours for its row: what must (not) be set around it
ENV_CONTEXT = {
    "AWS_DEFAULT_REGION": {"AWS_REGION": None},
    "AWS_ENDPOINT_URL": {"AWS_ENDPOINT_URL_EC2": None},
    "AWS_ACCESS_KEY_ID": {"AWS_SECRET_ACCESS_KEY": EC2_SECRET},
    "AWS_SECRET_ACCESS_KEY": {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"},
    "AWS_SESSION_TOKEN": {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                          "AWS_SECRET_ACCESS_KEY": EC2_SECRET},
}
# empty values that fall through to a default endpoint: that default is not
# on loopback, so the fallback is pointed at the stand-in instead
ENV_EMPTY_CONTEXT = {
    "AWS_ENDPOINT_URL_EC2": "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL": "AWS_ENDPOINT_URL_EC2",
}
# rows run in a new network namespace (nothing reachable, not even the
# stand-ins): an empty endpoint falls back to 169.254.169.254
ENV_NETNS = {"AWS_EC2_METADATA_SERVICE_ENDPOINT"}
# rows whose variable acts on TLS: EC2 is reached over HTTPS (the TLS
# stand-in, trusted through AWS_CA_BUNDLE), so OpenSSL and libcurl's TLS
# side really run with the hostile value
ENV_TLS = {"SSL_CERT_FILE", "SSL_CERT_DIR", "OPENSSL_CONF", "OPENSSL_CONF_INCLUDE",
           "OPENSSL_MODULES", "OPENSSL_ENGINES", "OPENSSL_ia32cap", "CURL_SSL_BACKEND",
           "https_proxy", "HTTPS_PROXY"}
# rows whose variable sets the EC2 retry delay: the first DescribeTags is
# throttled, so the (production) delay is really taken, within the deadline
ENV_THROTTLED = {"CDGATE_TEST_BACKOFF_MS", "CDGATE_TEST_FIXED_RETRY_MS"}


def expected(var, kind):
    row = ENV_MATRIX[var]
    return row.get(kind, row["*"])


def assert_history_clean(hist):
    """History lines stay valid UTF-8 JSON, short, without control
    characters, the agent's variables cut to 256 bytes."""
    for line in hist.read_bytes().splitlines():
        assert len(line) <= 4096
        entry = json.loads(line.decode("utf-8"))        # valid UTF-8 JSON
        for k, v in entry.items():
            assert not isinstance(v, str) or not any(ord(c) < 0x20 for c in v)
            if k in HISTORY_ENV_FIELDS:         # values from the environment
                assert len(v.encode()) <= 256, (k, v)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("var", sorted(ENV_MATRIX))
def test_environment_value(request, deploy, imds, ec2, marker, tmp_path, var, kind):
    code, needle = expected(var, kind)
    hist = tmp_path / "hist" / "history.jsonl"
    text = gate_cfg(marker, extra="").replace("history = none", f"history = {hist}")
    text = text.replace("checks = lifecycle marker", "checks = lifecycle marker tags")
    text += "[tags]\nsource = ec2\nRole = api\n"
    dep = deploy(text)
    env = dict(ENV_CONTEXT.get(var, {}))
    if kind == "empty" and var in ENV_EMPTY_CONTEXT:
        env[ENV_EMPTY_CONTEXT[var]] = dep.ec2_url
    server = ec2
    if var in ENV_TLS:
        server = request.getfixturevalue("ec2_tls")
        env.update(AWS_ENDPOINT_URL_EC2=server.url, AWS_CA_BUNDLE=server.ca_file)
    if var in ENV_THROTTLED:
        ec2.state.throttle(count=1, match="DescribeTags")
    env[var] = env_value(var, kind)
    wrap = ["unshare", "-n", "--"] if var in ENV_NETNS else []
    r = dep.run("before-install", env=env, timeout=30, wrap=wrap)
    assert_agent_clean(r, "PASS" if code == 0 else "FAIL")
    assert r.returncode == code, r.describe()
    assert needle in r.verdict, r.describe()
    assert r.elapsed < 3 + 1 + SLACK, r.describe()     # by the 3 s deadline, plus slack
    if code == 0:                   # the run went where the row says
        assert server.actions("DescribeTags", verified=True), r.describe()
    if var in ENV_THROTTLED:
        assert len(ec2.actions("DescribeTags")) == 2, r.describe()
    texts = [r.stdout, r.stderr, dep.archive.scripts_log.read_text(errors="replace")]
    if hist.exists():
        assert_history_clean(hist)
        texts.append(hist.read_text(errors="replace"))
    assert_no_secret(env, *texts)


# ---------------------------------------------------------------------------
# the environment of cdgate-mark, cdgate-wait, cdgate-status and cdgate-tag:
# the same four kinds of value for every variable each of them reads

IMDS_ENV = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "AWS_EC2_METADATA_DISABLED")
EC2_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL",
           "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "CDGATE_TEST_BACKOFF_MS", "CDGATE_TEST_FIXED_RETRY_MS")
# what each reads (getenv in src/ and bin/ reached from its main): the
# config search, instance metadata (the instance id; status: the lifecycle
# state too), the agent's variables for the history line (mark, wait), EC2
# (tag); cdgate-status only reads the history
PROGRAM_ENV = {
    "cdgate-mark": ("CDGATE_CONFIG",) + IMDS_ENV + HISTORY_ENV,
    "cdgate-wait": ("CDGATE_CONFIG",) + IMDS_ENV + HISTORY_ENV,
    "cdgate-status": ("CDGATE_CONFIG",) + IMDS_ENV,
    "cdgate-tag": ("CDGATE_CONFIG",) + IMDS_ENV + EC2_ENV,
}
# the exit codes each documents (its -h, within cdgate(7)'s table)
CDGATE7_EXITS = {0, 1, 2, 3, 64, 69, 70, 71, 77, 78}
PROGRAM_EXITS = {
    "cdgate-mark": CDGATE7_EXITS,           # its -h names no subset
    "cdgate-wait": {0, 1, 2, 3, 64, 69, 78},
    "cdgate-status": {0, 64, 70, 71, 78},
    "cdgate-tag": {0, 2, 3, 64, 69, 70, 71, 77, 78},
}
PROGRAM_ARGS = {"cdgate-tag": ["Tier=web"]}
# "short lines": 400 bytes, as for the hooks (assert_agent_clean), but
# cdgate-status, which the agent never runs, prints a whole status message
# (at most 512 bytes) after its label: "instance: unknown: AWS_EC2_META..."
PROGRAM_MAX_LINE = {"cdgate-status": 600}
PROGRAM_TIMEOUT = 2                         # [gate] timeout; cdgate-status: 2 s of IMDS
PROGRAM_CASES = [(p, v, k) for p in sorted(PROGRAM_ENV) for v in PROGRAM_ENV[p]
                 for k in sorted(KINDS)]


def program_expected(prog, var, kind):
    """(exit code, needle): the hooks' row, but cdgate-status reports an
    instance-metadata failure inside its report (exit 0, on the instance
    line) and needs no EC2."""
    code, needle = expected(var, kind)
    if code == 0:
        return 0, "PASS" if prog != "cdgate-status" else f"instance: {INSTANCE}"
    if prog == "cdgate-status" and var in IMDS_ENV:
        return 0, "instance: unknown: " + ("instance metadata 'http://169.254.169.254'"
                                           if kind == "empty" else var)
    return code, needle


def assert_program_clean(r, prog):
    """What every program promises (cdgate(7), "Behaviour every program
    keeps"; docs/dev/agent.md), for one that is not a hook: ended by exit()
    with a documented code, by its deadline, one stream of short lines
    ending in a newline, valid UTF-8, no control character but the newline,
    no crash report."""
    ctx = "\n" + r.describe()
    assert not r.hung and not r.timed_out and not r.pipes_held, ctx
    assert r.signal is None and r.returncode in PROGRAM_EXITS[prog], ctx
    assert r.elapsed < PROGRAM_TIMEOUT + 1, "past its deadline" + ctx
    assert r.stdout_bytes and not r.stderr_bytes, "one stream: stdout" + ctx
    data = r.stdout_bytes
    assert data.endswith(b"\n"), ctx
    text = data.decode("utf-8")             # strict: valid UTF-8
    bad = sorted({c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0)})
    assert not bad, f"control characters {bad!r}" + ctx
    limit = PROGRAM_MAX_LINE.get(prog, 400)
    assert all(len(ln) <= limit for ln in data.split(b"\n")), \
        f"a line over {limit} bytes" + ctx
    for crash in ("Traceback", "Segmentation fault", "Aborted", "core dumped",
                  "AddressSanitizer", "runtime error:"):
        assert crash not in text, ctx


@pytest.mark.parametrize("prog,var,kind", PROGRAM_CASES)
def test_program_environment_value(build, imds, ec2, marker, tmp_path, prog, var, kind):
    """A copy of the program with its cdgate.ini beside it (so an empty
    CDGATE_CONFIG falls back to that one, never to /etc), the normal run
    passing: cdgate-mark writes the marker, cdgate-wait finds it,
    cdgate-status reports it, cdgate-tag tags through the EC2 stand-in."""
    code, needle = program_expected(prog, var, kind)
    assert code in PROGRAM_EXITS[prog]
    hist = tmp_path / "hist" / "history.jsonl"
    bindir = tmp_path / "opt" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "cdgate.ini").write_text(f"[gate]\ntimeout = {PROGRAM_TIMEOUT}\n"
                                       f"history = {hist}\n[marker]\npath = {marker}\n")
    shutil.copy(build / "bin" / prog, bindir / prog)
    if prog == "cdgate-mark":
        marker.unlink()
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_EC2": ec2.url, "CDGATE_TEST_BACKOFF_MS": "20"}
    env.update(ENV_CONTEXT.get(var, {}))
    if kind == "empty" and var in ENV_EMPTY_CONTEXT:
        env[ENV_EMPTY_CONTEXT[var]] = ec2.url
    if prog == "cdgate-tag" and var in ENV_THROTTLED:
        ec2.state.throttle(count=1, match="CreateTags")
    env[var] = env_value(var, kind)
    wrap = ["unshare", "-n", "--"] if var in ENV_NETNS else []
    r = run_program(bindir / prog, PROGRAM_ARGS.get(prog, []), env=env, timeout=30,
                    wrap=wrap)
    assert_program_clean(r, prog)
    assert r.returncode == code, r.describe()
    if prog != "cdgate-status" or code != 0:
        assert_agent_clean(r, "PASS" if code == 0 else "FAIL")
        assert needle in r.verdict, r.describe()
    else:
        assert any(ln.startswith(needle) for ln in r.output), r.describe()
    # what the run did, or did not do
    if prog == "cdgate-mark":
        assert marker.exists() == (code == 0), r.describe()
        if code == 0:
            assert f"instance_id = {INSTANCE}" in marker.read_text()
    if prog == "cdgate-tag":
        tagged = ec2.state.latest_tags(INSTANCE).get("Tier") == "web"
        assert tagged == (code == 0), r.describe()
        if var in ENV_THROTTLED:
            assert len(ec2.actions("CreateTags")) == 2, r.describe()
    texts = [r.stdout, r.stderr]
    if prog in ("cdgate-mark", "cdgate-wait") and code != 78:
        entries = [json.loads(ln) for ln in hist.read_text().splitlines()]
        assert entries and entries[-1]["program"] == prog, entries
    if hist.exists():
        assert_history_clean(hist)
        texts.append(hist.read_text(errors="replace"))
    assert_no_secret(env, *texts)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_environment_imds_endpoint_fallback_without_network(deploy, marker, kind):
    """Without AWS_EC2_METADATA_SERVICE_ENDPOINT the client goes to the
    default 169.254.169.254 (or [fd00:ec2::254]); these rows run without any
    network (a new network namespace) so that nothing leaves the machine:
    a bad MODE is a configuration error, an empty one means IPv4 and fails
    unavailable by the deadline."""
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": None,
           "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": KINDS[kind]}
    r = deploy(gate_cfg(marker, timeout=2)).run(
        "before-install", env=env, timeout=30, wrap=["unshare", "-n", "--"])
    assert_agent_clean(r, "FAIL")
    if kind == "empty":
        assert r.returncode == 69 and "169.254.169.254" in r.verdict, r.describe()
    else:
        assert r.returncode == 78 and "ENDPOINT_MODE" in r.verdict, r.describe()
    assert r.elapsed < 2 + 1.5 + SLACK


def test_environment_nothing_at_all(build, marker, tmp_path):
    """No variable at all, not even PATH: the hook still runs and decides."""
    from lib.agent import run_program
    ini = tmp_path / "c.ini"
    ini.write_text(gate_cfg(marker).replace("checks = lifecycle marker", "checks = marker")
                   .replace("[gate]\n", "[gate]\nimds = no\n"))
    r = run_program(build / "hooks" / "before-install", ["-c", str(ini)], env={"PATH": None})
    assert r.env == {}
    assert_agent_clean(r, "PASS")
