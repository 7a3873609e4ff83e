"""The marker gate (issue 2), run exactly as codedeploy-agent runs a hook.

Each test builds a revision with the nine hooks and a cdgate.ini, points
the hooks at the loopback IMDS stand-in, and runs before-install like the
agent (tests/lib/agent.py).  Markers live in the test's own tmp directory
(mode 0700, so the "directory not writable by others" rule holds).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lib.agent import SANITIZED, SLACK, assert_agent_clean, assert_term_prompt, assert_verdict_lost
from lib.marker import INSTANCE_ID, marker_text, write_marker


def gate_config(marker, timeout=5, extra=""):
    return (f"[gate]\ntimeout = {timeout}\n"
            f"[marker]\npath = {marker}\n{extra}"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


@pytest.fixture
def marker(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    return d / "provisioned"


def run_async(dep, program="before-install", **kw):
    """Start a hook run in a thread; returns (thread, holder)."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", dep.run(program, **kw)))
    t.start()
    return t, box


def test_valid_marker_passes(deploy, marker, imds):
    write_marker(marker, marker_text())
    r = deploy(gate_config(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert "marker ok" in r.verdict
    assert r.elapsed < 3 + SLACK


def test_marker_written_mid_wait_passes_and_reports_latency(deploy, marker, imds, report):
    dep = deploy(gate_config(marker, timeout=20))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")
    written = write_marker(marker, marker_text())
    t.join()
    r = box["r"]
    assert_agent_clean(r, "PASS")
    assert any("waiting" in ln for ln in r.output), r.describe()
    latency = (r.exit_monotonic - written) * 1000
    report(f"marker rename -> before-install exit: {latency:.1f} ms")
    assert latency < 1000 + SLACK * 1000, r.describe()


def test_directory_created_mid_wait_by_cdgate_mark(deploy, build, tmp_path, imds, report):
    marker = tmp_path / "state" / "deep" / "er" / "provisioned"
    cfg = gate_config(marker, timeout=20)
    dep = deploy(cfg)
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")
    cfgfile = dep.path / "cdgate" / "cdgate.ini"
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "PATH": os.environ["PATH"]}
    from lib.agent import run_program
    t0 = time.monotonic()
    m = run_program(build / "bin" / "cdgate-mark", ["-c", str(cfgfile)], env=env)
    t.join()
    r = box["r"]
    assert m.returncode == 0, m.describe()
    assert_agent_clean(r, "PASS")
    assert marker.is_file()
    assert oct(marker.parent.stat().st_mode & 0o777) == "0o755"
    report(f"cdgate-mark start -> before-install exit (dirs created): "
           f"{(r.exit_monotonic - t0) * 1000:.1f} ms")
    # woken by inotify as the directories appear, not by the heartbeat
    # (GATE_HEARTBEAT_MS) or the 20 s deadline; generous for a loaded machine
    assert r.exit_monotonic - t0 < 3.0 + SLACK, r


def test_marker_never_written_fails_at_deadline_naming_it(deploy, marker, imds):
    r = deploy(gate_config(marker, timeout=2)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2
    assert str(marker) in r.verdict and "did not appear within 2s" in r.verdict
    assert 1.9 <= r.elapsed < 4 + SLACK, r.describe()


def test_failed_status_fails_at_once_with_message(deploy, marker, imds):
    write_marker(marker, marker_text(status="failed", message="itamae: apt-get failed"))
    r = deploy(gate_config(marker, timeout=30)).run("before-install", timeout=60)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1
    assert "provisioning failed" in r.verdict and "itamae: apt-get failed" in r.verdict
    assert r.elapsed < 3 + SLACK, "status = failed must not wait"


def test_other_instances_marker_waits_then_fails_naming_both(deploy, marker, imds):
    write_marker(marker, marker_text(instance_id="i-0aaaaaaaaaaaaaaaa"))
    r = deploy(gate_config(marker, timeout=2)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2
    assert "i-0aaaaaaaaaaaaaaaa" in r.verdict and INSTANCE_ID in r.verdict
    assert "AMI" in r.verdict


def test_other_instances_marker_replaced_mid_wait_passes(deploy, marker, imds):
    write_marker(marker, marker_text(instance_id="i-0aaaaaaaaaaaaaaaa"))
    dep = deploy(gate_config(marker, timeout=20))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")
    write_marker(marker, marker_text())
    t.join()
    assert_agent_clean(box["r"], "PASS")


def bad_marker_cases(tmp):
    """name -> function(marker path) making the bad marker."""
    def symlink(p):
        real = p.parent / "real"
        write_marker(real, marker_text())
        p.symlink_to(real)

    def fifo(p):
        os.mkfifo(p, 0o644)

    def directory(p):
        p.mkdir(mode=0o755)

    def world_writable(p):
        write_marker(p, marker_text(), mode=0o666)

    def group_writable(p):
        write_marker(p, marker_text(), mode=0o664)

    def wrong_owner(p):
        write_marker(p, marker_text())
        os.chown(p, 65534, 65534)

    def empty(p):
        write_marker(p, "")

    def binary(p):
        write_marker(p, data=b"\x7fELF\x02\x01\x01\x00\x00\x00" + os.urandom(64))

    def invalid_utf8(p):
        write_marker(p, data=marker_text(message="caf\xe9").encode("latin-1"))

    def oversized(p):
        write_marker(p, marker_text() + "; pad\n" * 4000)

    def malformed(p):
        write_marker(p, "this is not a marker\n")

    def unknown_key(p):
        write_marker(p, marker_text().replace("[provision]\n", "[provision]\nhacked = 1\n"))

    def no_instance(p):
        write_marker(p, "\n".join(ln for ln in marker_text().splitlines()
                                  if not ln.startswith("instance_id")) + "\n")

    def bad_status(p):
        write_marker(p, marker_text(status="maybe"))

    def long_line(p):
        write_marker(p, marker_text(message="x" * 5000))

    return {
        "symlink": (symlink, "symbolic link"),
        "fifo": (fifo, "FIFO"),
        "directory": (directory, "directory"),
        "world-writable": (world_writable, "world-writable"),
        "group-writable": (group_writable, "group-writable"),
        "wrong-owner": (wrong_owner, "owned by uid 65534"),
        "empty": (empty, "is empty"),
        "binary": (binary, "NUL"),
        "invalid-utf8": (invalid_utf8, "not valid UTF-8"),
        "oversized": (oversized, "too large"),
        "malformed": (malformed, "malformed"),
        "unknown-key": (unknown_key, "unknown key 'hacked'"),
        "no-instance-id": (no_instance, "no instance_id"),
        "bad-status": (bad_status, "expected ok or failed"),
        "long-line": (long_line, "line longer than"),
    }


@pytest.mark.parametrize("case", sorted(bad_marker_cases(None)))
def test_bad_marker_fails_at_once_with_reason(deploy, marker, imds, case):
    make, expect = bad_marker_cases(None)[case]
    make(marker)
    r = deploy(gate_config(marker, timeout=20)).run("before-install", timeout=60)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1, r.describe()
    assert expect in r.verdict, r.describe()
    assert r.elapsed < 3 + SLACK, "a bad marker fails at once"


def test_digest_mismatch_fails(deploy, marker, imds):
    want = "sha256:" + "a" * 64
    write_marker(marker, marker_text(digest="sha256:" + "b" * 64))
    r = deploy(gate_config(marker, extra=f"digest = {want}\n")).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1
    assert "digest" in r.verdict and want in r.verdict


def test_digest_match_passes(deploy, marker, imds):
    d = "sha256:" + "c" * 64
    write_marker(marker, marker_text(digest=d))
    r = deploy(gate_config(marker, extra=f"digest = {d.upper().replace('SHA256', 'sha256')}\n")
               ).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


def test_sigterm_during_wait_exits_3_at_once(deploy, marker, imds, report, tmp_path):
    """The agent's timeout comes first (no appspec timeout below 300 s):
    exit 3 at once; the SIGTERM verdict is lost with the closed pipes, as
    the real agent shows, and kept in the history line."""
    dep = deploy(gate_config(marker, timeout=300))
    r = dep.run("before-install", timeout=1.5)
    assert_term_prompt(r, report, "during the marker wait")
    assert_verdict_lost(r)
    line = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
    assert line["exit"] == 3 and "SIGTERM" in line["reason"], line


def find_pid(argv0: str) -> int:
    """The pid of the process whose argv[0] is `argv0`, or 0."""
    want = argv0.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read().split(b"\0", 1)[0] == want:
                    return int(d)
        except OSError:
            pass
    return 0


def inotify_watches(pid: int) -> list:
    """(inode, major, minor) of every inotify watch of the process, from
    /proc/PID/fdinfo ("inotify wd:1 ino:1a2b sdev:800001 mask:..."; ino
    and sdev in hex, sdev the kernel's dev_t: major << 20 | minor)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for ln in lines:
            if ln.startswith("inotify wd:"):
                kv = dict(w.split(":", 1) for w in ln.split()[1:] if ":" in w)
                sdev = int(kv["sdev"], 16)
                found.append((int(kv["ino"], 16), sdev >> 20, sdev & 0xfffff))
    return found


def cpu_ticks(pid: int) -> int:
    """utime + stime of the process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # fields 14 and 15 of stat(5)


def test_marker_wait_uses_inotify_not_polling(deploy, marker, imds, report):
    """While it waits for a marker that never comes, before-install holds an
    inotify watch on the marker's directory and uses almost no CPU."""
    import resource
    dep = deploy(gate_config(marker, timeout=4))
    hook = str(dep.hook("before-install"))
    st = os.stat(marker.parent)
    want = (st.st_ino, os.major(st.st_dev), os.minor(st.st_dev))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t, box = run_async(dep, timeout=30)
    try:
        pid, watches, give_up = 0, [], time.monotonic() + 2.5
        while time.monotonic() < give_up and want not in watches:
            time.sleep(0.02)
            pid = pid or find_pid(hook)
            if pid:
                try:
                    watches = inotify_watches(pid)
                except OSError:
                    break                   # it exited
        assert pid, f"no process runs {hook}"
        assert want in watches, (f"pid {pid} has no inotify watch on {marker.parent} "
                                 f"(inode {want[0]}); its watches: {watches}")
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0 = time.monotonic(), cpu_ticks(pid)
        time.sleep(2.0)
        c1, t1 = cpu_ticks(pid), time.monotonic()
        assert find_pid(hook) == pid, "the hook ended during the measurement"
    finally:
        t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = box["r"]
    assert r.returncode == 2, r.describe()
    assert r.exit_monotonic > t1, "the hook ended during the measurement"
    report(f"CPU ticks of before-install over {t1 - t0:.1f}s of a marker wait: "
           f"{c1 - c0} (1/{hz} s)")
    assert c1 - c0 <= 5 * hz // 100, f"{c1 - c0} ticks in {t1 - t0:.1f}s of waiting"
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report(f"CPU during a 4 s marker wait: {cpu * 1000:.1f} ms")
    # the whole run, start and exit included: ASan's shadow memory and leak
    # check cost more than the wait itself (the ticks above bound the wait)
    assert cpu < (0.3 if SANITIZED else 0.1), f"{cpu:.3f} CPU-seconds for a 4 s wait"
    assert imds.count("meta-data/instance-id") == 1


def cloud_init_config(marker, tmp_path, timeout=5):
    ci = tmp_path / "cloud-init"
    ci.mkdir(mode=0o755, exist_ok=True)
    return ci, gate_config(marker, timeout=timeout, extra=(
        f"cloud_init = yes\ncloud_init_result = {ci}/result.json\n"
        f"cloud_init_status = {ci}/status.json\n"))


def write_json(path, obj):
    import json
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def test_cloud_init_finished_without_errors_passes(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path)
    write_json(ci / "result.json", {"v1": {"datasource": "DataSourceEc2", "errors": []}})
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert "cloud-init ok" in r.verdict


def test_cloud_init_errors_fail_with_the_first_error(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path)
    write_json(ci / "result.json", {"v1": {"datasource": "DataSourceEc2", "errors": [
        "('scripts_user', RuntimeError('Runparts: 1 failures in 1 attempted commands'))"]}})
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1
    assert "cloud-init finished with 1 error" in r.verdict and "scripts_user" in r.verdict


def test_cloud_init_result_written_mid_wait_passes(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path, timeout=20)
    dep = deploy(cfg)
    t, box = run_async(dep, timeout=60)
    dep.wait_output("cloud-init: waiting")
    write_json(ci / "result.json", {"v1": {"datasource": "DataSourceEc2", "errors": []}})
    t.join()
    r = box["r"]
    assert_agent_clean(r, "PASS")
    assert any("cloud-init: waiting" in ln for ln in r.output)
    assert r.elapsed < 5 + SLACK


def test_cloud_init_never_finishing_fails_at_the_deadline(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    _, cfg = cloud_init_config(marker, tmp_path, timeout=2)
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2 and "cloud-init did not finish within 2s" in r.verdict


def test_cloud_init_recoverable_errors_warn_but_pass(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path)
    write_json(ci / "result.json", {"v1": {"datasource": "DataSourceEc2", "errors": []}})
    write_json(ci / "status.json", {"v1": {"stage": None, "init": {
        "errors": [], "recoverable_errors": {"DEPRECATED": ["key 'x' is deprecated"]}}}})
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("warning: 1 recoverable" in ln for ln in r.output), r.describe()


@pytest.mark.parametrize("status_json,problem", [
    (None, "cloud-init status '{ci}/status.json' does not exist"),
    ({"v1": {"init": {"errors": [], "recoverable_errors": ["not", "an", "object"]}}},
     "cloud-init status '{ci}/status.json' has a \"v1\".\"init\".\"recoverable_errors\" "
     "that is not an object"),
    ({"v1": {"init": {"errors": [], "recoverable_errors": {"WARNING": "x"}}}},
     "cloud-init status '{ci}/status.json' has a \"v1\".\"init\".\"recoverable_errors\"."
     "\"WARNING\" that is not an array"),
], ids=["missing", "not-an-object", "not-an-array"])
def test_cloud_init_status_problem_is_said_and_passes(deploy, marker, imds, tmp_path,
                                                      status_json, problem):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path)
    write_json(ci / "result.json", {"v1": {"datasource": "DataSourceEc2", "errors": []}})
    if status_json is not None:
        write_json(ci / "status.json", status_json)
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    note = ("cloud-init: recoverable errors not read (passing on result.json alone): "
            + problem.format(ci=ci))
    assert any(ln.endswith(note) for ln in r.output), r.describe()
    assert not any("recoverable errors, first" in ln for ln in r.output), r.describe()


def test_malformed_cloud_init_result_fails(deploy, marker, imds, tmp_path):
    write_marker(marker, marker_text())
    ci, cfg = cloud_init_config(marker, tmp_path)
    (ci / "result.json").write_text('{"v1": {"errors": ')
    os.chmod(ci / "result.json", 0o644)
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and "result.json" in r.verdict


def test_failed_marker_of_another_instance_is_waited_for(deploy, marker, imds):
    """A failed marker baked into the AMI must not abandon every new
    instance at once: it is another instance's, and is waited past."""
    write_marker(marker, marker_text(status="failed", instance_id="i-0aaaaaaaaaaaaaaaa",
                                     message="old build failed"))
    dep = deploy(gate_config(marker, timeout=20))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")
    write_marker(marker, marker_text())
    t.join()
    assert_agent_clean(box["r"], "PASS")


# ---------------------------------------------------------------------------
# owner "root or the running user": the non-root half (every other test runs
# as root, where the two are the same uid)

NOBODY = 65534


def run_as(uid, argv, env, timeout=30):
    """Runs argv as uid/gid (agent-like: cwd /, stdin at EOF, one stream)."""
    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return subprocess.run(argv, cwd="/", env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, preexec_fn=drop)


@pytest.mark.parametrize("owner,want", [(NOBODY, 0), (NOBODY - 1, 1), (0, 0)])
def test_marker_owned_by_the_running_user_or_root_only(build, imds, owner, want):
    """Run as uid 65534: a marker it owns passes, root's passes, a third
    user's fails naming the owner."""
    top = Path(tempfile.mkdtemp(prefix="cdgate-owner-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        hook = top / "before-install"
        shutil.copy2(build / "hooks" / "before-install", hook)
        os.chmod(hook, 0o755)
        state = top / "state"
        state.mkdir(mode=0o755)
        marker = state / "provisioned"
        write_marker(marker, marker_text())
        os.chown(state, owner, owner)
        os.chown(marker, owner, owner)
        os.chmod(marker, 0o644)
        ini = top / "cdgate.ini"
        ini.write_text(gate_config(marker, timeout=3).replace(
            "[gate]\n", "[gate]\nhistory = none\n"))
        os.chmod(ini, 0o644)
        env = {"PATH": "/usr/bin:/bin", "LIFECYCLE_EVENT": "BeforeInstall",
               "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
        p = run_as(NOBODY, [str(hook), "-c", str(ini)], env)
        last = p.stdout.rstrip("\n").splitlines()[-1]
        assert p.returncode == want, p.stdout
        if want == 0:
            assert last.startswith("cdgate: BeforeInstall: PASS"), p.stdout
        else:
            assert f"is owned by uid {owner}" in last, p.stdout
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_interrupt_by_hand_says_interrupted_not_the_agents_timeout(deploy, marker, imds, sig,
                                                                  tmp_path):
    """SIGINT (Ctrl-C) and SIGHUP end a wait like SIGTERM (exit 3, a last
    line, at once), but do not blame the agent's timeout, on screen or in
    the history line."""
    dep = deploy(gate_config(marker, timeout=20))
    env = {"PATH": "/usr/bin:/bin", "LIFECYCLE_EVENT": "BeforeInstall", **dep.env()}
    p = subprocess.Popen([str(dep.hook("before-install"))], cwd="/", env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        seen = ""
        while "marker: waiting" not in seen:
            line = p.stdout.readline()
            assert line, seen
            seen += line
        t0 = time.monotonic()
        p.send_signal(sig)
        rest = p.stdout.read()
        rc = p.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
    last = rest.rstrip("\n").splitlines()[-1]
    assert rc == 3, rest
    assert took < 1.0 + SLACK, took
    assert last.startswith(f"cdgate: BeforeInstall: FAIL: interrupted (signal {int(sig)} after "), last
    assert "timeout" not in last, last
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(lines) == 1, lines
    rec = json.loads(lines[0])
    assert (rec["verdict"], rec["exit"]) == ("fail", 3), rec
    assert rec["reason"] == ("interrupted by SIGINT, SIGHUP or SIGQUIT (stopped by hand, "
                             "not by the agent's timeout)"), rec
