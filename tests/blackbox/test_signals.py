"""Signals and output (issue 15, items 2, 3, 4, 5, 12, 15): what an
inherited signal mask, a late SIGTERM, SIGQUIT, a stdout pipe nobody reads,
a history lock held elsewhere and too few file descriptors do to a run.

Most runs go through the agent's harness (tests/lib/agent.py); the ones
that need what it cannot do (a signal on a given output line, a stdout pipe
nobody reads) start the hook themselves with the agent's environment, in
their own process group, and bound it with a harness-only SIGKILL.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lib.agent import AGENT_PATH, SLACK, agent_env, assert_agent_clean, run_program
from lib.marker import INSTANCE_ID, marker_text, write_marker

# A wrapper that execs the program in place (same pid, same group) with
# SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 blocked and SIGUSR2 ignored:
# what a careless parent can leave to the agent's children.
WRAP_BLOCKED = [sys.executable, "-c",
                "import os, signal, sys\n"
                "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT,"
                " signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1})\n"
                "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
                "os.execv(sys.argv[1], sys.argv[1:])\n"]
WRAP_IGNORED = [sys.executable, "-c",
                "import os, signal, sys\n"
                "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):\n"
                "    signal.signal(s, signal.SIG_IGN)\n"
                "os.execv(sys.argv[1], sys.argv[1:])\n"]


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    return d


def config(state, timeout=20, checks="lifecycle marker"):
    return (f"[gate]\ntimeout = {timeout}\nhistory = {state}/history.jsonl\n"
            f"[marker]\npath = {state}/provisioned\n"
            f"[BeforeInstall]\nchecks = {checks}\n")


def history(state):
    p = state / "history.jsonl"
    if not p.exists():
        return []
    data = p.read_bytes()
    assert data == b"" or data.endswith(b"\n"), data[-200:]
    return [json.loads(x) for x in data.split(b"\n")[:-1]]


def spawn(dep, program="before-install", stdout=subprocess.PIPE, env=None):
    """The hook started as the agent starts it, but by the test itself."""
    path = dep.hook(program)
    full = agent_env("BeforeInstall", dep.archive, dep.env(env))
    return subprocess.Popen([str(path)], cwd="/", env=full, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.STDOUT if stdout ==
                            subprocess.PIPE else stdout, process_group=0, close_fds=True)


def wait_or_kill(p, seconds):
    """The exit code, or None when it had to be SIGKILLed (harness only)."""
    try:
        return p.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return None


# ---------------------------------------------------------------------------
# item 2: SIGTERM blocked or ignored in what the program inherits


@pytest.mark.parametrize("wrap", [WRAP_BLOCKED, WRAP_IGNORED], ids=["blocked", "ignored"])
def test_inherited_blocked_or_ignored_sigterm_still_ends_the_hook(deploy, imds, state, wrap):
    """Blocked, SIGTERM used to stay pending for ever: no verdict, no history
    line, and the agent never sends SIGKILL.  It is unblocked at start-up."""
    r = deploy(config(state)).run("before-install", timeout=2, safety=8, wrap=wrap)
    assert not r.hung, "SIGTERM was never handled\n" + r.describe()
    assert r.timed_out and r.returncode == 3 and r.signal is None, r.describe()
    # (the runner closes the pipes at its timeout, as the agent does: the
    # verdict line is lost, the history line is not)
    assert r.exit_monotonic - r.term_monotonic < 1.0 + SLACK, r.describe()
    (e,) = history(state)
    assert e["exit"] == 3 and e["verdict"] == "fail" and "SIGTERM" in e["reason"]


def test_mark_run_command_gets_a_clean_mask_and_default_dispositions(build, tmp_path):
    """cdgate-mark started with signals blocked and ignored: its command
    starts with none blocked and none ignored, as the agent would start it."""
    ini = tmp_path / "c.ini"
    ini.write_text(f"[gate]\nhistory = none\n[marker]\npath = {tmp_path}/m/provisioned\n")
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", ini, "--instance-id", INSTANCE_ID, "--run", "--",
                     "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"],
                    timeout=20, wrap=WRAP_BLOCKED)
    assert r.returncode == 0, r.describe()
    got = {ln.split(":")[0].split("]")[-1]: ln.split(":")[1].strip() for ln in r.output
           if ln.split("]")[-1].startswith("Sig")}
    assert got == {"SigBlk": "0" * 16, "SigIgn": "0" * 16}, r.describe()


def test_mark_run_blocked_sigterm_still_reaches_the_command(build, tmp_path):
    ini = tmp_path / "c.ini"
    marker = tmp_path / "m" / "provisioned"
    ini.write_text(f"[gate]\nhistory = none\n[marker]\npath = {marker}\n")
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", ini, "--instance-id", INSTANCE_ID, "--run", "--", "sleep", "30"],
                    timeout=1.5, safety=8, wrap=WRAP_BLOCKED)
    assert not r.hung and r.timed_out and r.returncode == 3, r.describe()
    assert not r.leftover_pids and not marker.exists(), r.describe()


# ---------------------------------------------------------------------------
# item 3: a SIGTERM right after the verdict


def test_sigterm_right_after_pass_keeps_exit_history_and_status_agreeing(deploy, imds, state,
                                                                         build):
    """SIGTERM sent as soon as PASS is read used to exit 3 while the
    history said pass (29 of 30).  The outcome, once recorded, stands: the
    exit code, the history line and cdgate-status agree every time."""
    write_marker(state / "provisioned", marker_text())
    dep = deploy(config(state))
    ini = dep.path / "cdgate" / "cdgate.ini"
    for i in range(12):
        p = spawn(dep)
        for raw in p.stdout:
            if b": PASS:" in raw or b": FAIL:" in raw:
                os.killpg(p.pid, signal.SIGTERM)
                break
        rest = p.stdout.read()
        rc = wait_or_kill(p, 10 + SLACK)
        assert rc is not None, "not ended by SIGTERM"
        last = history(state)[-1]
        assert last["exit"] == rc, (i, rc, last, rest)
        assert last["verdict"] == ("pass" if rc == 0 else "fail"), (i, rc, last)
        assert rc == 0, (i, rc, last)           # the verdict was out: it stands
        assert b"SIGTERM" not in rest, rest     # and nothing is printed after it
        s = run_program(build / "bin" / "cdgate-status", ["-c", ini, "--json"],
                        env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                             "DEPLOYMENT_ID": None}, timeout=20)
        lp = json.loads(s.stdout_bytes)["last_passed"]
        assert lp is not None and lp["pid"] == last["pid"], (i, lp, last)


# ---------------------------------------------------------------------------
# item 4: a stdout pipe nobody reads


def full_pipe():
    """A pipe whose write end has no room left, and whose read end is
    kept open and never read."""
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    try:
        while True:
            os.write(w, b"x")
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return r, w


@pytest.mark.parametrize("marker,code", [(False, 2), (True, 0)], ids=["timeout", "pass"])
def test_unread_stdout_pipe_does_not_hold_the_run(deploy, imds, state, marker, code):
    """printf used to block for ever on the full pipe, past the deadline.
    Now: the deadline (2 s) holds, plus at most one OUT_WAIT_MS (1 s) for
    the pipe; the exit code and the history line are the run's."""
    if marker:
        write_marker(state / "provisioned", marker_text())
    dep = deploy(config(state, timeout=2))
    r, w = full_pipe()
    try:
        t0 = time.monotonic()
        p = spawn(dep, stdout=w)
        rc = wait_or_kill(p, 15 + SLACK)
        took = time.monotonic() - t0
        assert rc is not None, "blocked on the full pipe"
        assert rc == code, rc
        assert took < (2 if code else 0) + 1 + 1.5 + SLACK, took
        # the pipe still holds only what the test put there: nothing blocked
        assert fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK == 0, \
            "O_NONBLOCK was set on the inherited description"
    finally:
        os.close(r)
        os.close(w)
    (e,) = history(state)
    assert e["exit"] == code


def test_mark_run_relay_to_an_unread_stdout_pipe_does_not_hold_it(build, tmp_path):
    """cdgate-mark --run relays its command's output: with a stdout pipe
    nobody reads, the relay used to wait for room for ever (the command's
    1 MB never got through, and cdgate-mark never exited).  Now each chunk
    waits like a line (OUT_WAIT_MS at most once), the rest is dropped."""
    ini = tmp_path / "c.ini"
    marker = tmp_path / "m" / "provisioned"
    ini.write_text(f"[gate]\nhistory = none\n[marker]\npath = {marker}\n")
    r, w = full_pipe()
    try:
        t0 = time.monotonic()
        p = subprocess.Popen([str(build / "bin" / "cdgate-mark"), "-c", str(ini),
                              "--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c",
                              "head -c 1048576 /dev/zero | tr '\\0' x"],
                             cwd="/", stdin=subprocess.DEVNULL, stdout=w, stderr=w,
                             process_group=0, close_fds=True)
        rc = wait_or_kill(p, 20 + SLACK)
        took = time.monotonic() - t0
    finally:
        os.close(r)
        os.close(w)
    assert rc == 0, "blocked on the full pipe" if rc is None else rc
    assert took < 1 + 2 + SLACK, took
    assert "status = ok" in marker.read_text()


def test_sigterm_with_an_unread_stdout_pipe_ends_at_once(deploy, imds, state):
    """The handler's write() used to block on the full pipe too."""
    dep = deploy(config(state, timeout=20))
    r, w = full_pipe()
    try:
        p = spawn(dep, stdout=w)
        time.sleep(2.5)                  # past the one OUT_WAIT_MS of waiting
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGTERM)
        rc = wait_or_kill(p, 10 + SLACK)
        took = time.monotonic() - t0
    finally:
        os.close(r)
        os.close(w)
    assert rc == 3, rc
    assert took < 1.0 + SLACK, took
    (e,) = history(state)
    assert e["exit"] == 3 and "SIGTERM" in e["reason"]


# ---------------------------------------------------------------------------
# item 5: the history lock held elsewhere


def test_history_lock_held_elsewhere_is_not_waited_past_the_deadline(deploy, imds, state):
    """Deadline 2 s, the lock held by another process: the run used to end
    at 3.07 s (HISTORY_LOCK_MS after its deadline).  Now it ends by its
    deadline, says why, and the line is still appended (without the lock)."""
    hist = state / "history.jsonl"
    hist.write_text("")
    os.chmod(hist, 0o644)
    fd = os.open(hist, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        res = deploy(config(state, timeout=2)).run("before-install", timeout=30)
    finally:
        os.close(fd)
    assert_agent_clean(res, "FAIL")
    assert res.returncode == 2, res.describe()
    assert res.elapsed < 2 + 0.8 + SLACK, res.describe()
    assert any("lock was held by another process" in ln and "up to the deadline" in ln
               for ln in res.output), res.describe()
    (e,) = history(state)
    assert e["exit"] == 2


# ---------------------------------------------------------------------------
# item 12: SIGQUIT, core files


def test_sigquit_ends_the_hook_like_sigterm_without_a_core(deploy, imds, state, tmp_path):
    """SIGQUIT used to dump core (in /, the agent's cwd) with the role's
    secret key and the IMDS token in it.  It is handled: a verdict, a
    history line, exit 3, no death by signal; the process is non-dumpable
    (its /proc files belong to root even when it runs as another user: see
    unit/test_proc.c for prctl itself)."""
    dep = deploy(config(state, timeout=20))
    p = spawn(dep, env={})
    try:
        for line in p.stdout:            # the marker wait has begun
            if b"waiting" in line:
                break
        os.killpg(p.pid, signal.SIGQUIT)
        out = p.stdout.read()
        rc = wait_or_kill(p, 10 + SLACK)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert rc == 3, (rc, out)           # not -SIGQUIT: no core dump
    assert b"FAIL: interrupted" in out and b"(signal 3 after" in out, out
    (e,) = history(state)
    assert e["exit"] == 3 and "SIGQUIT" in e["reason"]


# ---------------------------------------------------------------------------
# item 15: too few file descriptors


@pytest.mark.parametrize("limit", [4, 6, 8, 16])
def test_too_few_file_descriptors_is_a_system_error(build, state, tmp_path, limit):
    """ulimit -n 4..16 used to give 1 (cannot open the marker) or 69 (no
    socket for instance metadata): now 71 at once, saying so."""
    ini = tmp_path / "c.ini"
    ini.write_text(f"[gate]\ntimeout = 2\nimds = no\nhistory = {state}/history.jsonl\n"
                   f"[marker]\npath = {state}/provisioned\n[BeforeInstall]\nchecks = marker\n")
    # (make asan: LeakSanitizer's own check at exit needs descriptors such
    # a limit does not leave it)
    env = ({"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"] + ":detect_leaks=0"}
           if "ASAN_OPTIONS" in os.environ else {})
    r = run_program(sys.executable, ["-c",
                    "import os, resource, sys\n"
                    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))\n"
                    "os.execv(sys.argv[1], sys.argv[1:])\n",
                    build / "hooks" / "before-install", "-c", ini], env=env, timeout=20)
    assert r.returncode == 71, r.describe()
    assert "too few file descriptors" in r.output[-1] and f"{limit}" in r.output[-1], \
        r.describe()


def test_socket_refused_for_want_of_descriptors_mid_run_is_a_system_error(deploy, imds,
                                                                          state):
    """Past the start-up check, a socket() that fails with EMFILE (strace
    injects it into every socket() call; before-install opens none but
    libcurl's) used to be retried as an unreachable service, then 69."""
    dep = deploy(config(state, timeout=5))
    env = {"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"] + ":detect_leaks=0"} \
        if "ASAN_OPTIONS" in os.environ else {}      # LeakSanitizer and ptrace
    r = dep.run("before-install", env=env, timeout=30,
                wrap=["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=socket",
                      "-e", "inject=socket:error=EMFILE"])
    assert r.returncode == 71, r.describe()
    assert "(the system is out of descriptors or memory)" in r.verdict, r.describe()
    assert r.elapsed < 2 + SLACK, "retried as if the service were down"
