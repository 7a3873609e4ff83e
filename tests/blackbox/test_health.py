"""The health check ([health]) through the hooks, run the way the agent runs
them, against the scriptable loopback service (standin/service.py).

Every test asserts the exit code, the time taken against the deadline, and
the verdict line.  Most use ``checks = health`` in [ValidateService] so no
marker or instance metadata is involved; the BeforeAllowTraffic tests use
its default checks (lifecycle, marker, tags, health; cdgate-hooks(8)) with
a real marker.

Run from tests/: /usr/bin/python3 -m pytest -q -p no:cacheprovider
blackbox/test_health.py
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from lib.agent import SANITIZED, SLACK, assert_agent_clean, assert_term_prompt, assert_verdict_lost
from standin.common import make_certificate
from standin.service import Service

INSTANCE_ID = "i-0123456789abcdef0"
ATTEMPTS_RE = re.compile(r"after (\d+) attempts? in (\d+\.\d)s")


@pytest.fixture
def service():
    srv = Service().start()
    yield srv
    srv.stop()


@pytest.fixture
def service2():
    srv = Service().start()
    yield srv
    srv.stop()


def config(health: str, timeout: int = 10, event: str = "ValidateService",
           checks: str = "health", gate: str = "") -> str:
    """A cdgate.ini with [health] lines `health` and the event's checks."""
    lines = ["[gate]", f"timeout = {timeout}", "history = none", gate,
             "[health]", health.strip(), f"[{event}]"]
    if checks is not None:
        lines.append(f"checks = {checks}")
    return "\n".join(lines) + "\n"


def run(deploy, cfg: str, program: str = "validate-service", **kw):
    return deploy(config=cfg).run(program, timeout=60, **kw)


def attempts(res) -> int:
    m = ATTEMPTS_RE.search(res.verdict)
    assert m, f"no attempt count in the verdict\n{res}"
    return int(m.group(1))


def assert_deadline(res, timeout: float) -> None:
    """A failure at the deadline: the last attempt starts HEALTH_FINAL_MS
    (0.5 s) before it, and no attempt runs past it."""
    assert timeout - 0.6 <= res.elapsed < timeout + 2.0 + SLACK, res


def progress(res, needle: str) -> list:
    return [ln for ln in res.output if needle in ln and ": health: " in ln]


# ---------------------------------------------------------------------------
# becoming healthy, staying unhealthy


def test_health_late_service_passes_once_healthy(deploy, service):
    # the revision first (copying ASan's programs takes a while on a loaded
    # machine), so that the service is still starting when the hook starts
    dep = deploy(config=config(f"url = {service.url}\ninterval = 300ms\n"
                               "interval_max = 600ms", timeout=15))
    before_set = time.monotonic()
    service.set("late", after=2.0)
    res = dep.run("validate-service", timeout=60)
    assert_agent_clean(res, "PASS")
    assert res.returncode == 0
    # "late" counts from set(), before the hook starts: bound the exit by
    # the moment the service turned healthy, not by the hook's own start
    healthy_at = before_set + 2.0
    assert healthy_at <= res.exit_monotonic < healthy_at + 2.0 + SLACK, res
    assert re.search(r"PASS: health ok, \d+ attempts \(\d+\.\ds\)$", res.verdict), res
    # one progress line for the 503 however many attempts it took
    assert len(progress(res, "503 'starting'")) == 1, res
    assert service.count >= 3


def test_health_last_attempt_just_before_deadline(deploy, service):
    # the first backoff (5-10 s) is cut so that one more attempt starts
    # 0.5 s before the deadline, after the service came up
    dep = deploy(config=config(f"url = {service.url}\ninterval = 10\n"
                               "interval_max = 30", timeout=3))
    service.set("late", after=1.0)      # once the revision is in place
    res = dep.run("validate-service", timeout=60)
    assert_agent_clean(res, "PASS")
    assert service.count == 2
    # the last attempt at 2.5 s and its answer before the deadline (3 s),
    # on the hook's own clock; the harness's adds process start and exit
    m = re.search(r"PASS: health ok, 2 attempts \((\d+\.\d)s\)$", res.verdict)
    assert m and 2.4 <= float(m.group(1)) < 3.0, res
    assert 2.4 <= res.elapsed < 4.0 + SLACK, res


def test_health_never_healthy_fails_at_deadline_with_last_status(deploy, service):
    service.set("status", status=503, body="starting\n")
    res = run(deploy, config(f"url = {service.url}\ninterval = 200ms\n"
                             "interval_max = 400ms", timeout=3))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 3)
    assert f"FAIL: health '{service.url}': 503 'starting' after" in res.verdict, res
    n = attempts(res)
    assert n >= 4 and n == service.count, res
    assert len(progress(res, "503 'starting'")) == 1, res


@pytest.mark.parametrize("served,spec,ok", [
    (200, "200", True),
    (204, "200,204", True),
    (201, "2xx", True),
    (404, "200 404", True),
    (302, "3xx", True),
    (500, "200", False),
    (201, "200,204", False),
    (200, "5xx", False),
], ids=lambda v: str(v))
def test_health_status_spec(deploy, service, served, spec, ok):
    service.set("status", status=served, body="" if served == 204 else "x")
    res = run(deploy, config(f"url = {service.url}\nstatus = {spec}\n"
                             "interval = 200ms", timeout=2))
    if ok:
        assert_agent_clean(res, "PASS")
        assert res.elapsed < 1.5 + SLACK, res
        assert "PASS: health ok, 1 attempt " in res.verdict, res
    else:
        assert_agent_clean(res, "FAIL")
        assert res.returncode == 2
        assert_deadline(res, 2)
        assert f"health '{service.url}': {served}" in res.verdict, res


def test_health_wrong_body_names_substring_and_excerpt(deploy, service):
    service.set("ok", body="  status:\n   warming   up  ")
    res = run(deploy, config(f"url = {service.url}\nbody = ready\n"
                             "interval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    # blank runs squeezed, newlines gone
    assert ("200 without 'ready' in the body 'status: warming up' after"
            in res.verdict), res


def test_health_body_excerpt_is_cut_and_clean_utf8(deploy, service):
    service.set("status", status=500, body=b"\xff\xfe" + "é".encode() * 300)
    res = run(deploy, config(f"url = {service.url}", timeout=1))
    assert_agent_clean(res, "FAIL")
    m = re.search(r"500 '([^']*)' after", res.verdict)
    assert m, res
    excerpt = m.group(1)
    assert excerpt.startswith("??é") and excerpt.endswith("..."), res
    assert len(excerpt.encode()) <= 84, res


def test_health_body_found_passes(deploy, service):
    service.set("ok", body='{"status": "ready", "db": "up"}')
    res = run(deploy, config(f"url = {service.url}\nbody = \"ready\"", timeout=5))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK, res


# ---------------------------------------------------------------------------
# consecutive successes


def test_health_flapping_never_reaches_consecutive_successes(deploy, service):
    service.set("flap")
    res = run(deploy, config(f"url = {service.url}\nsuccesses = 3\n"
                             "interval = 200ms\ninterval_max = 200ms", timeout=3))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 3)
    assert re.search(r"503 'down' after \d+ attempts in \d+\.\ds \(passed \d+ "
                     r"times, never 3 in a row\)$", res.verdict), res
    assert attempts(res) >= 6, res
    # progress stays short: one line per kind of outcome
    assert len(progress(res, "'down'")) == 1, res
    assert len(progress(res, "passed (1 of 3")) == 1, res


def test_health_flapping_passes_with_one_success(deploy, service):
    service.set("flap")
    res = run(deploy, config(f"url = {service.url}", timeout=5))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK and service.count == 1, res


def test_health_needs_consecutive_successes(deploy, service):
    res = run(deploy, config(f"url = {service.url}\nsuccesses = 4\n"
                             "interval = 250ms", timeout=10))
    assert_agent_clean(res, "PASS")
    assert service.count == 4
    assert 0.75 <= res.elapsed < 2.0 + SLACK, res   # 3 intervals between 4 checks
    assert "health ok, 4 attempts" in res.verdict, res


# ---------------------------------------------------------------------------
# broken servers


def test_health_hang_after_accept_ends_at_deadline(deploy, service):
    service.set("hang")
    res = run(deploy, config(f"url = {service.url}", timeout=3))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert 3.0 <= res.elapsed < 5.0 + SLACK, res
    # the one attempt gets what is left of the deadline: 3.0 s, or less
    # when a loaded machine (ASan's build above all) started the hook late
    assert re.search(r"no reply within (3\.0|2\.\d)s \(cut at the deadline\) after "
                     r"1 attempt in 3\.\ds$", res.verdict), res


def test_health_hang_request_timeout_retries(deploy, service):
    service.set("hang")
    res = run(deploy, config(f"url = {service.url}\nrequest_timeout = 700ms\n"
                             "interval = 100ms\ninterval_max = 200ms", timeout=3))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 3)
    assert "no reply within" in res.verdict, res
    # 0.7 s attempts 0.1-0.2 s apart in 3 s: three or four, but a loaded
    # machine running the ASan build can fit only two
    assert attempts(res) >= (2 if SANITIZED else 3), res
    assert len(progress(res, "no reply within 0.7s (request_timeout)")) == 1, res


def test_health_close_mid_response(deploy, service):
    service.set("close_mid", size=1000)
    res = run(deploy, config(f"url = {service.url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert re.search(r"transfer closed with 990 bytes remaining to read after "
                     r"\d+ attempts", res.verdict), res


def test_health_10mb_body_is_refused_not_cut(deploy, service):
    service.set("big", size=10 * 1024 * 1024)
    res = run(deploy, config(f"url = {service.url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert "reply larger than 65536 bytes (HTTP 200) after" in res.verdict, res
    assert service.count >= 2


def test_health_connection_refused(deploy, refused_port):
    url = f"http://127.0.0.1:{refused_port}/health"
    res = run(deploy, config(f"url = {url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert f"health '{url}': " in res.verdict and "onnect" in res.verdict, res
    assert attempts(res) >= 3, res


# ---------------------------------------------------------------------------
# redirects


def test_health_redirect_not_followed_by_default(deploy, service):
    service.set("redirect", location="/moved")
    res = run(deploy, config(f"url = {service.url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert "302, a redirect (not followed: follow_redirects = no) after" in res.verdict, res
    assert service.hits("/moved") == 0


def test_health_redirect_followed_when_configured(deploy, service):
    service.set("redirect", location="/moved")
    res = run(deploy, config(f"url = {service.url}\nfollow_redirects = yes", timeout=5))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK, res
    assert service.hits("/health") == 1 and service.hits("/moved") == 1
    assert re.search(r"PASS: health ok, 1 attempt \(\d+\.\ds\)$", res.verdict), res


def test_health_redirect_loop_is_capped(deploy, service):
    service.set("loop")
    res = run(deploy, config(f"url = {service.url}\nfollow_redirects = 3\n"
                             "interval = 500ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert "Maximum (3) redirects followed" in res.verdict, res
    # each attempt: the request and 3 redirects, never more
    assert service.count == 4 * attempts(res), res


# ---------------------------------------------------------------------------
# unix socket, tcp, several targets, headers


def test_health_unix_socket(deploy, tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    with Service(unix=str(d / "app.sock")) as srv:
        res = run(deploy, config(f"url = {srv.url}", timeout=5))
        assert srv.count == 1
        assert srv.requests[0]["headers"].get("host") == "localhost"
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK, res
    assert srv.url == f"unix:{d}/app.sock:/health"
    assert re.search(r"PASS: health ok, 1 attempt \(\d+\.\ds\)$", res.verdict), res


def test_health_unix_socket_absent_fails_at_deadline(deploy, tmp_path):
    url = f"unix:{tmp_path}/none.sock:/health"
    res = run(deploy, config(f"url = {url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert f"health '{url}': " in res.verdict and "after" in res.verdict, res
    # the connection error itself, not just that it failed
    assert re.search(r"Couldn't connect|Could not connect|No such file", res.verdict), res


def test_health_tcp_only(deploy):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    try:
        res = run(deploy, config(f"tcp = 127.0.0.1:{port}", timeout=5))
    finally:
        lst.close()
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK, res
    assert "health ok, 1 attempt" in res.verdict, res


def test_health_tcp_refused_fails_at_deadline(deploy, refused_port):
    port = refused_port
    res = run(deploy, config(f"tcp = 127.0.0.1:{port}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert re.search(rf"health '127\.0\.0\.1:{port}': connect: Connection refused "
                     r"after \d+ attempts", res.verdict), res


def test_health_every_target_must_pass(deploy, service, service2):
    service2.set("status", status=503, body="db down")
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    try:
        cfg = config(f"url = {service.url} {service2.url}\n"
                     f"tcp = 127.0.0.1:{lst.getsockname()[1]}\ninterval = 200ms",
                     timeout=2)
        res = run(deploy, cfg)
    finally:
        lst.close()
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert f"health '{service2.url}': 503 'db down' after" in res.verdict, res
    assert service.count == service2.count >= 2


def test_health_every_target_passes(deploy, service, service2):
    res = run(deploy, config(f"url = {service.url} {service2.url}", timeout=5))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 1.5 + SLACK, res
    assert service.count == 1 and service2.count == 1
    assert any("and 1 more" in ln for ln in res.output), res


def test_health_headers_are_sent_and_never_printed(deploy, service):
    secret = "Bearer s3cr3t-t0ken-value"
    res = run(deploy, config(f"url = {service.url}\nheader.Authorization = {secret}\n"
                             "header.Host = app.example\nheader.X-Probe = cdgate",
                             timeout=5))
    assert_agent_clean(res, "PASS")
    h = service.requests[0]["headers"]
    assert h["authorization"] == secret
    assert h["host"] == "app.example"
    assert h["x-probe"] == "cdgate"
    assert "s3cr3t" not in res.stdout + res.stderr
    assert res.elapsed < 1.5 + SLACK, res


# ---------------------------------------------------------------------------
# configuration


@pytest.mark.parametrize("line,needle", [
    ("status = 2x", "status = '2x': expected codes such as 200"),
    ("url = ftp://127.0.0.1/", "expected http://, https:// or unix:"),
    ("url = http://u:p@127.0.0.1/", "holds credentials"),
    ("tcp = db.internal:5432", "names are not resolved"),
    ("successes = 0", "successes = '0': expected a count"),
    ("request_timeout = 1m", "request_timeout = '1m': expected seconds"),
    ("follow_redirects = 99", "follow_redirects = '99'"),
    ("header.Bad Name = x", "not a valid header name"),
    ("ca_file = relative.pem", "expected an absolute path"),
    ("colour = blue", "unknown key 'colour' in [health] (known: url tcp"),
], ids=lambda v: v.split(" ")[0] if " = " in v else None)
def test_health_config_errors_name_file_and_line(deploy, service, line, needle):
    cfg = config(f"url = {service.url}\n{line}" if not line.startswith(("url", "tcp"))
                 else line)
    res = run(deploy, cfg)
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 78
    assert res.elapsed < 1.5 + SLACK, res
    assert re.search(r"cdgate\.ini:\d+: ", res.verdict), res
    assert needle in res.verdict, res
    assert service.count == 0


def test_health_needs_url_or_tcp(deploy):
    res = run(deploy, config("body = ok"))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 78
    assert res.elapsed < 1.5 + SLACK, res     # a configuration error: at once
    assert "[health] needs a url or a tcp" in res.verdict, res


def test_health_unreadable_ca_file_is_a_config_error(deploy, service, tmp_path):
    res = run(deploy, config(f"url = {service.url}\nca_file = {tmp_path}/none.pem"))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 78
    assert res.elapsed < 1.5 + SLACK, res
    assert f"ca_file '{tmp_path}/none.pem' cannot be read" in res.verdict, res


# ---------------------------------------------------------------------------
# https: the server's certificate is verified (ca_file adds a trust anchor)


@pytest.fixture
def tls_service():
    srv = Service(tls=True).start()
    yield srv
    srv.stop()


def test_health_https_self_signed_fails_without_ca_file(deploy, tls_service):
    assert tls_service.url.startswith("https://127.0.0.1:")
    res = run(deploy, config(f"url = {tls_service.url}\ninterval = 200ms", timeout=2))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    assert f"health '{tls_service.url}': " in res.verdict, res
    assert re.search(r"SSL certificate problem: self[- ]signed certificate after "
                     r"\d+ attempts", res.verdict), res
    assert tls_service.count == 0       # no request went past the handshake


def test_health_https_self_signed_passes_with_ca_file(deploy, tls_service):
    res = run(deploy, config(f"url = {tls_service.url}\nca_file = {tls_service.ca_file}",
                             timeout=5))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 2.0 + SLACK, res
    assert "health ok, 1 attempt" in res.verdict, res
    assert tls_service.count == 1


def test_health_https_cert_for_another_name_fails_even_with_ca_file(deploy, tmp_path):
    d = tmp_path / "other-cert"
    d.mkdir()
    cert, key = make_certificate(d, "other.example", "DNS:other.example")
    with Service(tls=(cert, key)) as srv:
        res = run(deploy, config(f"url = {srv.url}\nca_file = {cert}\n"
                                 "interval = 200ms", timeout=2))
        served = srv.count
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 2)
    # the chain is trusted (ca_file): only the name is wrong
    assert "certificate problem" not in res.verdict, res
    assert (f"health '{srv.url}': SSL: no alternative certificate subject name "
            f"matches target host name '127.0.0.1' after") in res.verdict, res
    assert served == 0


# ---------------------------------------------------------------------------
# lifecycle: a terminating instance ends the wait


def test_health_wait_ends_when_instance_terminates(deploy, service, imds):
    service.set("status", status=503, body="starting")
    flipped = []

    def flip():
        flipped.append(time.monotonic())      # before: exit >= it, surely
        imds.state.lifecycle_state = "Terminated"

    t = threading.Timer(1.5, flip)
    t.start()
    try:
        res = run(deploy, config(f"url = {service.url}\ninterval = 200ms", timeout=30,
                                 checks="lifecycle health"))
    finally:
        t.cancel()
    assert_agent_clean(res, "SKIP")
    assert res.returncode == 0
    assert flipped and flipped[0] <= res.exit_monotonic < flipped[0] + 3.5, res
    assert "instance is leaving (target lifecycle state Terminated)" in res.verdict, res


@pytest.mark.parametrize("hang", [False, True], ids=["503", "hanging"])
def test_health_sigterm_during_wait_exits_3_at_once(deploy, service, report, hang):
    if hang:        # SIGTERM comes while a request waits for its reply
        service.set("hang")
    else:           # SIGTERM comes between attempts, most likely
        service.set("status", status=503, body="starting")
    # the harness's deadline (1.5 s) comes long before cdgate's own (300 s)
    res = deploy(config=config(f"url = {service.url}\ninterval = 200ms",
                               timeout=300)).run("validate-service", timeout=1.5 + SLACK)
    # the verdict goes to the pipes the agent closed: lost, as on the agent
    assert_verdict_lost(res)
    if not hang:    # it was in the health wait
        assert progress(res, "503 'starting'"), res
        assert service.count >= 2
    assert_term_prompt(res, report,
                       f"during the health wait ({'hanging' if hang else '503'})")


# ---------------------------------------------------------------------------
# BeforeAllowTraffic: marker, tags, lifecycle and health by default


def write_marker(tmp_path: Path) -> Path:
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    m = d / "provisioned"
    m.write_text("[provision]\nstatus = ok\n"
                 f"instance_id = {INSTANCE_ID}\nboot_id = {boot}\n"
                 f"finished_at = {now}\n")
    os.chmod(m, 0o644)
    assert m.stat().st_uid == 0
    return m


def test_before_allow_traffic_marker_and_health_pass(deploy, service, tmp_path):
    marker = write_marker(tmp_path)
    cfg = config(f"url = {service.url}", timeout=10, event="BeforeAllowTraffic",
                 checks=None, gate=f"[marker]\npath = {marker}")
    res = run(deploy, cfg, program="before-allow-traffic")
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 2.0 + SLACK, res
    assert any(ln.endswith("checks: lifecycle notices marker tags health; deadline 10s")
               for ln in res.output), res
    assert re.search(r"PASS: lifecycle InService; marker ok \([^)]*\); .*"
                     r"health ok, 1 attempt \(\d+\.\ds\)$", res.verdict), res
    assert service.count == 1


def test_before_allow_traffic_health_fails_after_marker_passes(deploy, service, tmp_path):
    marker = write_marker(tmp_path)
    service.set("status", status=500, body="migrations pending")
    cfg = config(f"url = {service.url}\ninterval = 200ms", timeout=3,
                 event="BeforeAllowTraffic", checks=None,
                 gate=f"[marker]\npath = {marker}")
    res = run(deploy, cfg, program="before-allow-traffic")
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert_deadline(res, 3)
    assert any("marker: ok" in ln for ln in res.output), res
    assert f"FAIL: health '{service.url}': 500 'migrations pending' after" in res.verdict, res


@pytest.mark.parametrize("case", ["tag-mismatch", "failed-marker", "other-instance",
                                  "terminated"])
def test_before_allow_traffic_re_verifies_before_the_health_check(deploy, service, imds,
                                                                  tmp_path, case):
    """BeforeAllowTraffic re-checks marker, tags and lifecycle (issue 5):
    each one failing stops the hook before the service is even asked."""
    marker = write_marker(tmp_path)
    text = marker.read_text()
    if case == "failed-marker":
        marker.write_text(text.replace("status = ok", "status = failed") +
                          "message = itamae: apt-get failed\n")
    elif case == "other-instance":
        marker.write_text(text.replace(INSTANCE_ID, "i-0aaaaaaaaaaaaaaaa"))
    elif case == "tag-mismatch":
        imds.state.tags = {"Role": "worker", "Env": "production"}
    elif case == "terminated":
        imds.state.lifecycle_state = "Terminated"
    cfg = config(f"url = {service.url}", timeout=3, event="BeforeAllowTraffic",
                 checks=None, gate=f"[marker]\npath = {marker}\n[tags]\n"
                                   "source = imds\nRole = api")
    res = run(deploy, cfg, program="before-allow-traffic")
    assert service.count == 0, res
    if case == "terminated":
        assert_agent_clean(res, "SKIP")
        assert res.returncode == 0 and res.elapsed < 2.0 + SLACK, res
        assert "instance is leaving (target lifecycle state Terminated)" in res.verdict, res
        return
    assert_agent_clean(res, "FAIL")
    if case == "failed-marker":
        assert res.returncode == 1 and res.elapsed < 2.0 + SLACK, res
        assert "itamae: apt-get failed" in res.verdict, res
    elif case == "other-instance":
        # another instance's marker (an AMI bake) is waited past, to the deadline
        assert res.returncode == 2, res
        assert_deadline(res, 3)
        assert "i-0aaaaaaaaaaaaaaaa" in res.verdict, res
    else:
        # tags are waited for (they may lag), then named with the live value
        assert res.returncode == 1, res
        assert_deadline(res, 3)
        assert res.verdict.endswith("1 mismatched): Role is 'worker' (want 'api')"), res
