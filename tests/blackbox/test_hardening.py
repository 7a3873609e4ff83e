"""Hardening rules of issue 6 that docs/dev/hardening.md lists, where a test of
the built programs or of the source shows them: deadlines on the monotonic
clock (a wall clock stepped 10 years changes no wait), no child left holding the output, and source rules every file keeps
(opens, wall-clock uses, libcurl in one place, banned calls).
"""

from __future__ import annotations

import glob
import os
import re
import signal
from pathlib import Path

import pytest

from lib.agent import SLACK, assert_agent_clean, run_program
from lib.marker import marker_text, write_marker

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("src/*/*.c"), *ROOT.glob("bin/*.c"), *ROOT.glob("hooks/*.c")])
# Debian's libfaketime, wherever the architecture puts it (no fixed path)
FAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))),
                "libfaketimeMT.so.1 (not found under /usr/lib/*/faketime)")


def gate_cfg(marker, timeout=2):
    return (f"[gate]\ntimeout = {timeout}\nhistory = none\n[marker]\npath = {marker}\n"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


# ---------------------------------------------------------------------------
# deadlines: the monotonic clock only


@pytest.mark.parametrize("offset,after", [("+3650d", "1"), ("-3650d", "1"),
                                          ("-3650d", None)])
def test_wall_clock_jump_changes_no_deadline(deploy, imds, tmp_path, offset, after):
    """libfaketime steps the wall clock (time, CLOCK_REALTIME) 10 years
    forward or back, 1 s into a 2 s wait for a marker that never comes (or
    from the start), CLOCK_MONOTONIC untouched: the wait still takes 2 s,
    neither cut nor extended.  (A speed factor would not do: libfaketime
    scales sleeps by it too.)"""
    assert os.path.exists(FAKETIME), "install faketime (tools/deps)"
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME": offset,
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1",
           # an ASan build must accept a preloaded library before its own
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    if after:
        env["FAKETIME_START_AFTER_SECONDS"] = after
    r = deploy(gate_cfg(tmp_path / "never" / "provisioned")).run(
        "before-install", env=env, timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2 and "did not appear within 2s" in r.verdict, r.describe()
    assert 1.9 <= r.elapsed < 4 + SLACK, r.describe()


# wall-clock reads allowed, and why; any other is a deadline risk
WALL_CLOCK_ALLOWED = {
    ("src/base/mono.c", "mono_utc"): "prints the time",
    ("src/aws/creds.c", "creds_fresh"): "role credentials expire at a wall time",
    ("src/aws/ec2.c", "ec2_amz_date"): "SigV4 signs the wall time",
    ("src/checks/notices.c", "notices_in"): "says how far a notice's time is",
    ("src/checks/notices.c", "notices_scheduled"): "event windows are wall times",
}
WALL_RE = re.compile(r"\btime\s*\(\s*(NULL|&)|CLOCK_REALTIME|gettimeofday|\bclock\s*\(")


def functions_using(pattern, path):
    """(function name) for each line of path matching pattern."""
    out, fn = [], None
    for line in path.read_text().splitlines():
        m = re.match(r"^([a-z_][a-z0-9_]*)\(", line)
        if m:
            fn = m.group(1)
        if pattern.search(line) and not line.lstrip().startswith(("*", "/*")):
            out.append(fn)
    return out


def test_only_the_monotonic_clock_times_waits():
    found = {}
    for p in SOURCES:
        for fn in functions_using(WALL_RE, p):
            found[(str(p.relative_to(ROOT)), fn)] = True
    extra = set(found) - set(WALL_CLOCK_ALLOWED)
    assert not extra, f"wall clock read outside {sorted(WALL_CLOCK_ALLOWED)}: {sorted(extra)}"
    mono = (ROOT / "src" / "base" / "mono.c").read_text()
    assert "CLOCK_MONOTONIC" in mono and "CLOCK_REALTIME" not in mono


# ---------------------------------------------------------------------------
# files: O_NOFOLLOW | O_CLOEXEC


OPEN_RE = re.compile(r"\b(open|openat|mkostemp|fopen|fdopen|opendir|creat)\s*\(")
# opens that need no O_NOFOLLOW: fixed system paths and directories;
# /proc/self/fd/1 is a magic link to stdout's own pipe (out_open), which
# O_NOFOLLOW would refuse by design
NOFOLLOW_EXEMPT = ("/dev/null", "O_DIRECTORY", "mkostemp", '"/proc/self/fd/1"')


def open_calls():
    for p in SOURCES:
        text = p.read_text()
        for m in OPEN_RE.finditer(text):
            if text[max(0, m.start() - 1)] in "_.":         # e.g. json_*_open
                continue
            call = text[m.start():text.find(";", m.start())]
            yield p.relative_to(ROOT), m.group(1), " ".join(call.split())


def test_every_open_is_close_on_exec():
    bad = [(str(p), c) for p, kind, c in open_calls()
           if kind in ("open", "openat") and "O_CLOEXEC" not in c
           or kind == "mkostemp" and "O_CLOEXEC" not in c
           or kind in ("fopen", "creat")]
    assert not bad, bad


def test_every_file_open_refuses_links():
    bad = [(str(p), c) for p, kind, c in open_calls()
           if kind in ("open", "openat") and "O_NOFOLLOW" not in c
           and not any(e in c for e in NOFOLLOW_EXEMPT)]
    assert not bad, bad


# ---------------------------------------------------------------------------
# libcurl in one place, banned calls nowhere


def test_libcurl_is_wrapped_once():
    users = [str(p.relative_to(ROOT)) for p in SOURCES
             if re.search(r"\bcurl_easy_(setopt|perform)\b", p.read_text())]
    assert users == ["src/aws/http.c"], users
    http = (ROOT / "src" / "aws" / "http.c").read_text()
    for opt in ("CURLOPT_PROTOCOLS_STR", "CURLOPT_REDIR_PROTOCOLS_STR", "CURLOPT_TIMEOUT_MS",
                "CURLOPT_CONNECTTIMEOUT_MS", "CURLOPT_NOPROXY", "CURLOPT_SSL_VERIFYPEER, 1L",
                "CURLOPT_SSL_VERIFYHOST, 2L", "CURLOPT_WRITEFUNCTION"):
        assert opt in http, opt


BANNED = re.compile(r"(?<![a-z_])(sprintf|vsprintf|strcpy|strcat|atoi|atol|gets|system|popen"
                    r"|strtok|tmpnam|mktemp)\s*\(")


def test_no_banned_calls():
    bad = []
    for p in SOURCES:
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if BANNED.search(line) and not line.lstrip().startswith(("*", "/*")):
                bad.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, bad


def test_secrets_are_wiped_where_they_live():
    """Every module holding a token, a key or a reply that may carry one
    wipes it with OPENSSL_cleanse."""
    for f in ("src/aws/imds.c", "src/aws/creds.c", "src/aws/sigv4.c", "src/aws/ec2.c", "src/aws/http.c"):
        assert "OPENSSL_cleanse" in (ROOT / f).read_text(), f


# ---------------------------------------------------------------------------
# children


def test_sigterm_kills_a_child_that_ignores_it(build, imds, tmp_path):
    """cdgate-mark --run: the command ignores SIGTERM; cdgate-mark still ends
    it (SIGKILL after PROC_CHILD_GRACE_MS) before it exits, so nothing of it
    holds the output or outlives the run."""
    ini = tmp_path / "c.ini"
    marker = tmp_path / "state" / "provisioned"
    ini.write_text(f"[gate]\nhistory = none\n[marker]\npath = {marker}\n")
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", str(ini), "--instance-id", "i-0123456789abcdef0", "--run", "--",
                     "sh", "-c", "trap '' TERM; exec sleep 30"], timeout=1.0, safety=10)
    assert r.timed_out and r.returncode == 3, r.describe()
    assert not r.pipes_held and not r.hung and not r.leftover_pids, r.describe()
    assert r.elapsed < 1.0 + 2.0 + 1.0 + SLACK, r.describe()
    assert "SIGTERM" in r.output[-1] and not marker.exists()
