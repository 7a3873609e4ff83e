"""The drain check ([drain]) through the hooks, run the way the agent runs
them, with real TCP connections on 127.0.0.1 (and ::1).

A listening socket that never accepts is enough: the kernel completes the
handshake, so each client connection is an ESTABLISHED socket whose local
port is the listening port (in the accept queue); when the client closes,
it leaves ESTABLISHED.  Each test asserts the exit code, the time taken
against the deadline and the verdict line.

Run from tests/: /usr/bin/python3 -m pytest -q -p no:cacheprovider
blackbox/test_drain.py
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import threading
import time

import pytest

from lib.agent import AGENT_PATH, SLACK, assert_agent_clean


def bind_outside_ephemeral(sock, host: str) -> None:
    """Bind below the kernel's ephemeral port range, as a real service port
    is. bind(host, 0) takes a port from that range, which a client socket of
    another test (to ::1, say) may hold as its local port too: the hook
    would rightly count that connection."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(x) for x in f.read().split())
    ports = list(range(10000, low)) if low > 11000 else list(range(high + 1, 64000))
    random.shuffle(ports)
    for port in ports[:200]:
        try:
            sock.bind((host, port))
            return
        except OSError:
            continue
    raise RuntimeError("no free port outside the ephemeral range")


class Listener:
    """A listening socket on loopback and client connections to it."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.family, self.host = family, host
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        bind_outside_ephemeral(self.sock, host)
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.clients: list = []

    def connect(self, n: int) -> None:
        for _ in range(n):
            c = socket.socket(self.family, socket.SOCK_STREAM)
            c.connect((self.host, self.port))
            self.clients.append(c)

    def release(self) -> None:
        for c in self.clients:
            c.close()
        self.clients = []

    def close(self) -> None:
        self.release()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def established(port: int) -> int:
    """ESTABLISHED sockets with this local port, counted by ss(8) (iproute2,
    over sock_diag). Not from /proc/net/tcp: that is read 4 KiB at a time,
    and a socket another test opens meanwhile can show a line twice."""
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          f"( sport = :{port} )"], capture_output=True,
                         text=True, check=True, timeout=10).stdout
    return len(out.splitlines())


def config(ports, timeout: int = 10, extra: str = "", event: str = "AfterBlockTraffic",
           checks=None) -> str:
    lines = ["[gate]", "history = none", "[drain]",
             "ports = " + " ".join(str(p) for p in ports), extra,
             f"[{event}]", f"timeout = {timeout}"]
    if checks:
        lines.append(f"checks = {checks}")
    return "\n".join(lines) + "\n"


def run(deploy, cfg: str, program: str = "after-block-traffic", release=None):
    """Run the hook; release=(seconds, fn) calls fn that long after the
    timer starts, just before the hook does. The result's `released` is the
    monotonic time fn was called (None without release or if it never ran):
    bound the hook's exit by it, not by the hook's own start."""
    released = []

    def fire():
        released.append(time.monotonic())     # before: exit >= it, surely
        release[1]()

    t = threading.Timer(release[0], fire) if release else None
    d = deploy(config=cfg)
    if t:
        t.start()
    try:
        res = d.run(program, timeout=60)
    finally:
        if t:
            t.cancel()
    res.released = released[0] if released else None
    return res


def after_release(res, within: float = 2.5) -> bool:
    """The hook exited after the connections closed, and soon after."""
    return (res.released is not None
            and res.released <= res.exit_monotonic < res.released + within)


def test_drain_passes_soon_after_connections_close(deploy, listener):
    listener.connect(3)
    assert established(listener.port) == 3
    res = run(deploy, config([listener.port, 65000]), release=(2.0, listener.release))
    assert_agent_clean(res, "PASS")
    assert res.returncode == 0
    assert after_release(res), res
    assert any(ln.endswith(f"drain: 3 established connections on local ports "
                           f"{listener.port} 65000") for ln in res.output), res
    # default checks of AfterBlockTraffic with [drain]: lifecycle and drain
    assert any(ln.endswith("checks: lifecycle notices drain; deadline 10s")
               for ln in res.output), res
    assert re.search(rf"PASS: lifecycle InService; drained \(ports {listener.port} "
                     r"65000\) \(\d\.\ds\)$", res.verdict), res


def test_drain_never_drains_passes_with_warning_at_deadline(deploy, listener):
    listener.connect(2)
    res = run(deploy, config([listener.port], timeout=3))
    assert_agent_clean(res, "PASS")
    assert res.returncode == 0
    assert 3.0 <= res.elapsed < 5.0 + SLACK, res
    assert any(f"drain: WARNING: 2 connections still established on port "
               f"{listener.port} at the deadline (3s); going on (on_timeout = pass)"
               in ln for ln in res.output), res
    assert re.search(r"PASS: lifecycle InService; drain: 2 connections left open at "
                     r"the deadline \(3\.\ds\)$", res.verdict), res
    assert established(listener.port) == 2


def test_drain_on_timeout_fail_fails_at_deadline(deploy, listener):
    listener.connect(1)
    res = run(deploy, config([listener.port], timeout=3, extra="on_timeout = fail"))
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert 3.0 <= res.elapsed < 5.0 + SLACK, res
    assert res.verdict.endswith(
        f"FAIL: drain: 1 connection still established on local port "
        f"{listener.port} after 3s; stop the clients, raise timeout, or set "
        f"[drain] on_timeout = pass"), res


def test_drain_without_connections_passes_at_once(deploy, listener):
    res = run(deploy, config([listener.port]))
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 2.0 + SLACK, res
    assert any(ln.endswith(f"drain: 0 established connections on local port "
                           f"{listener.port}") for ln in res.output), res
    assert f"drained (port {listener.port})" in res.verdict, res


def test_drain_counts_only_the_local_port(deploy, listener):
    # the clients' sockets have the port as their REMOTE port: only the
    # listener's side counts, so 2 connections count 2, not 4
    listener.connect(2)
    res = run(deploy, config([listener.port], timeout=2, extra="on_timeout = fail"))
    assert_agent_clean(res, "FAIL")
    assert "FAIL: drain: 2 connections still established" in res.verdict, res
    assert 2.0 <= res.elapsed < 4.0 + SLACK, res


def test_drain_counts_ipv6_connections(deploy):
    lst = Listener(socket.AF_INET6, "::1")
    try:
        lst.connect(2)
        res = run(deploy, config([lst.port], timeout=10), release=(1.5, lst.release))
    finally:
        lst.close()
    assert_agent_clean(res, "PASS")
    assert after_release(res), res
    assert any(ln.endswith(f"drain: 2 established connections on local port "
                           f"{lst.port}") for ln in res.output), res
    assert "drained" in res.verdict, res


def test_drain_counts_exactly_over_sixteen_ports_and_both_families(deploy):
    # 16 listed ports (the most the kernel filter is built for), two of them
    # in use over IPv4 and IPv6; a busy port that is not listed never counts
    v4, v6, other = Listener(), Listener(socket.AF_INET6, "::1"), Listener()
    try:
        v4.connect(3)
        v6.connect(2)
        other.connect(4)
        unused = [p for p in range(64001, 64100)
                  if p not in (v4.port, v6.port, other.port)][:14]
        ports = unused[:7] + [v4.port] + unused[7:] + [v6.port]
        assert established(v4.port) + established(v6.port) == 5
        res = run(deploy, config(ports, timeout=2, extra="on_timeout = fail"))
    finally:
        for lst in (v4, v6, other):
            lst.close()
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2
    assert any(ln.endswith("drain: 5 established connections on local ports "
                           + " ".join(map(str, ports))) for ln in res.output), res
    assert "FAIL: drain: 5 connections still established" in res.verdict, res


def test_drain_counts_a_dump_of_many_datagrams(deploy):
    # 300 sockets do not fit the kernel's first reply datagram: the count
    # spans several, each socket once
    lst = Listener()
    lst.sock.listen(512)
    try:
        lst.connect(300)
        assert established(lst.port) == 300
        res = run(deploy, config([lst.port], timeout=10), release=(1.5, lst.release))
    finally:
        lst.close()
    assert_agent_clean(res, "PASS")
    assert after_release(res), res
    assert any(ln.endswith(f"drain: 300 established connections on local port "
                           f"{lst.port}") for ln in res.output), res
    assert not any("counting from /proc" in ln for ln in res.output), res


# Run in a network namespace of its own (unshare -n): loopback up, a
# listener on 8080 with 3 connections, then the command of argv.
NETNS_SCRIPT = """
import socket, subprocess, sys
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
lst = socket.socket()
lst.bind(("127.0.0.1", 8080))
lst.listen(16)
clients = [socket.create_connection(("127.0.0.1", 8080)) for _ in range(3)]
p = subprocess.run(sys.argv[1:], cwd="/", stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, timeout=60)
sys.stdout.write(p.stdout)
sys.stderr.write(p.stderr)
sys.exit(p.returncode)
"""


def test_drain_without_sock_diag_counts_from_proc(build, tmp_path):
    """A kernel without sock_diag: strace makes socket() fail with
    EAFNOSUPPORT (with imds = no the hook opens no other socket). The count
    comes from /proc/net/tcp and tcp6, said once for each, and is exact. In
    a network namespace of its own, where no other test's sockets come and
    go while the file is read (it is no snapshot: that is why sock_diag)."""
    cfg = tmp_path / "cdgate.ini"
    cfg.write_text(config([8080], timeout=2, extra="on_timeout = fail")
                   .replace("[gate]\n", "[gate]\nimds = no\n"))
    os.chmod(cfg, 0o644)
    env = {"PATH": AGENT_PATH, "LIFECYCLE_EVENT": "AfterBlockTraffic",
           "CDGATE_CONFIG": str(cfg),
           # the ASan build: LeakSanitizer cannot run under ptrace
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
    p = subprocess.run(["unshare", "-n", "/usr/bin/python3", "-c", NETNS_SCRIPT,
                        "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=socket",
                        "-e", "inject=socket:error=EAFNOSUPPORT",
                        str(build / "hooks" / "after-block-traffic")],
                       cwd="/", env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=90)
    out = p.stdout.splitlines()
    assert p.returncode == 2, p.stdout + p.stderr
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        said = [ln for ln in out if ln.endswith(
            f"drain: counting from {path} (no sock_diag dump: Address family not "
            f"supported by protocol)")]
        assert len(said) == 1, out
    assert any(ln.endswith("drain: 3 established connections on local port 8080")
               for ln in out), out
    assert out[-1].endswith("FAIL: drain: 3 connections still established on local "
                            "port 8080 after 2s; stop the clients, raise timeout, or "
                            "set [drain] on_timeout = pass"), out


def test_drain_is_not_a_default_of_before_block_traffic(deploy, listener):
    listener.connect(1)
    res = run(deploy, config([listener.port], event="BeforeBlockTraffic"),
              program="before-block-traffic")
    assert_agent_clean(res, "PASS")
    assert res.elapsed < 2.0 + SLACK, res
    assert any(ln.endswith("checks: lifecycle notices; deadline 10s") for ln in res.output), res
    assert "drain" not in res.verdict, res


def test_drain_in_before_block_traffic_when_named(deploy, listener):
    listener.connect(1)
    res = run(deploy, config([listener.port], event="BeforeBlockTraffic",
                             checks="drain"),
              program="before-block-traffic", release=(1.0, listener.release))
    assert_agent_clean(res, "PASS")
    assert after_release(res), res
    assert f"PASS: drained (port {listener.port})" in res.verdict, res


FLIP_LIMIT = 3.0        # seconds from the flip to Terminated to the hook's exit


@pytest.mark.parametrize("delay", [0.8, 2.3])
def test_drain_wait_ends_within_3s_of_flip_to_terminated(deploy, listener, imds, report,
                                                         delay):
    listener.connect(1)
    dep = deploy(config=config([listener.port], timeout=30))
    box = {}
    start = time.monotonic()
    t = threading.Thread(target=lambda: box.setdefault(
        "r", dep.run("after-block-traffic", timeout=60)))
    t.start()
    # delay s after the start, and not before the drain wait began (a hook
    # started late on a loaded machine would read Terminated at its start)
    dep.wait_output(f"drain: 1 established connection on local port {listener.port}")
    time.sleep(max(0.0, start + delay - time.monotonic()))
    imds.state.lifecycle_state = "Terminated"
    flipped = time.monotonic()
    t.join()
    res = box["r"]
    after = res.exit_monotonic - flipped
    assert_agent_clean(res, "SKIP")
    assert res.returncode == 0
    report(f"Terminated flip (at {delay}s) during the drain wait -> exit: "
           f"{after * 1000:.0f} ms")
    assert 0 < after < FLIP_LIMIT + SLACK, res
    assert any(f"drain: 1 established connection on local port {listener.port}" in ln
               for ln in res.output), res        # it was in the drain wait
    assert "instance is leaving (target lifecycle state Terminated)" in res.verdict, res
    assert established(listener.port) == 1       # nothing was drained


@pytest.mark.parametrize("cfg", ["[AfterBlockTraffic]\nchecks = lifecycle drain\n",
                                 "[drain]\n"], ids=["listed", "bare-section"])
def test_drain_without_ports_is_refused_not_passed(deploy, cfg):
    """A checks list naming drain with no [drain], or a [drain] with no
    key: the configuration is refused (it passed, 'drained (ports )')."""
    res = deploy(config="[gate]\nhistory = none\n" + cfg).run("after-block-traffic",
                                                               timeout=60)
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 78, res
    assert "[drain] needs ports, such as ports = 80 443" in res.verdict, res


@pytest.mark.parametrize("lines,needle", [
    ("ports = 0", "ports: '0' is not a port from 1 to 65535"),
    ("ports = http", "ports: 'http' is not a port"),
    ("ports =", "ports: expected one or more ports"),
    ("ports = 80\non_timeout = maybe", "on_timeout = 'maybe': expected pass or fail"),
    ("on_timeout = fail", "[drain] needs ports, such as ports = 80 443"),
    ("ports = 80\nport = 81", "unknown key 'port' in [drain] (known: ports on_timeout)"),
])
def test_drain_config_errors(deploy, lines, needle):
    cfg = "[gate]\nhistory = none\n[drain]\n" + lines + "\n"
    res = deploy(config=cfg).run("after-block-traffic", timeout=60)
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 78
    assert res.elapsed < 2.0 + SLACK, res
    assert needle in res.verdict, res
