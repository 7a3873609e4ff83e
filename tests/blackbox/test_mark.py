"""cdgate-mark and cdgate-wait (issue 2): the User Data side of the gate."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from lib.agent import SLACK, assert_agent_clean, assert_term_prompt, run_program
from lib.marker import INSTANCE_ID


@pytest.fixture
def setup(build, imds, tmp_path):
    marker = tmp_path / "state" / "provisioned"
    ini = tmp_path / "cdgate.ini"
    ini.write_text(f"[gate]\ntimeout = 5\nhistory = {tmp_path}/history.jsonl\n"
                   f"[marker]\npath = {marker}\n")
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}

    def mark(*args, **kw):
        return run_program(build / "bin" / "cdgate-mark", ["-c", str(ini), *args],
                           env=env, **kw)

    def wait(*args, **kw):
        return run_program(build / "bin" / "cdgate-wait", ["-c", str(ini), *args],
                           env=env, **kw)
    return marker, ini, mark, wait


def read_marker(path):
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read_string(path.read_text())
    return cp


def last_line(r):
    return r.stdout.rstrip("\n").splitlines()[-1]


CLOSED = "http://127.0.0.1:9"      # a loopback port nothing listens on


def started_pid(r) -> int:
    """The shell's pid from its "started PID ..." line (it leads the
    command's process group)."""
    for ln in r.output:
        if ln.startswith("started "):
            return int(ln.split()[1])
    raise AssertionError("the command did not start:\n" + r.describe())


def alive_in_group(pgid: int) -> list:
    """Processes of process group pgid that are not zombies."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{d} {stat[:80]}")
    return found


def test_mark_writes_ok_marker(setup):
    marker, _, mark, _ = setup
    r = mark("--tag", "Role=api", "--tag", "aws:autoscaling:groupName=web-asg")
    assert r.returncode == 0, r.describe()
    assert last_line(r).startswith("cdgate: cdgate-mark: PASS:")
    cp = read_marker(marker)
    p = cp["provision"]
    assert p["status"] == "ok" and p["instance_id"] == INSTANCE_ID
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["finished_at"])
    assert p["boot_id"] == open("/proc/sys/kernel/random/boot_id").read().strip()
    assert cp["tags"]["Role"] == "api"
    assert cp["tags"]["aws%3Aautoscaling%3AgroupName"] == "web-asg"
    st = marker.stat()
    assert oct(st.st_mode & 0o777) == "0o644" and st.st_uid == 0
    assert sorted(os.listdir(marker.parent)) == ["provisioned"], "temporary file left behind"


def test_mark_run_ok_passes_output_through_and_records_ok(setup):
    marker, _, mark, _ = setup
    r = mark("--run", "--", "sh", "-c", "echo provisioning step 1; echo err step >&2")
    assert r.returncode == 0, r.describe()
    assert "provisioning step 1" in r.stdout and "err step" in r.stdout
    assert read_marker(marker)["provision"]["status"] == "ok"


def test_mark_run_failed_records_failed_and_returns_its_status(setup, deploy):
    marker, _, mark, _ = setup
    r = mark("--run", "--", "sh", "-c", "echo half done; exit 7")
    assert r.returncode == 7, r.describe()
    p = read_marker(marker)["provision"]
    assert p["status"] == "failed" and "exited with status 7" in p["message"]
    # and the hook then fails at once with that message
    dep = deploy(f"[gate]\ntimeout = 30\n[marker]\npath = {marker}\n"
                 "[BeforeInstall]\nchecks = marker\n")
    h = dep.run("before-install", timeout=60)
    assert_agent_clean(h, "FAIL")
    assert "exited with status 7" in h.verdict and h.elapsed < 3 + SLACK


def test_mark_run_command_not_found_is_127(setup):
    marker, _, mark, _ = setup
    r = mark("--run", "--", "/nonexistent/provision")
    assert r.returncode == 127, r.describe()
    assert read_marker(marker)["provision"]["status"] == "failed"


def test_mark_run_killed_by_signal(setup):
    marker, _, mark, _ = setup
    r = mark("--run", "--", "sh", "-c", "kill -9 $$")
    assert r.returncode == 128 + 9
    assert "signal 9" in read_marker(marker)["provision"]["message"]


def test_mark_failed_message(setup):
    marker, _, mark, _ = setup
    r = mark("--failed", "chef: recipe api; exploded")
    assert r.returncode == 0, r.describe()
    p = read_marker(marker)["provision"]
    assert p["status"] == "failed" and p["message"] == "chef: recipe api, exploded"


def test_mark_digest_is_stable_and_checked_by_the_hook(setup, tmp_path, deploy):
    marker, _, mark, _ = setup
    tree = tmp_path / "provision"
    (tree / "roles").mkdir(parents=True)
    (tree / "roles" / "api.rb").write_text("package 'nginx'\n")
    (tree / "run.sh").write_text("#!/bin/sh\n")
    assert mark("--digest", str(tree)).returncode == 0
    d1 = read_marker(marker)["provision"]["digest"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", d1)
    assert mark("--digest", str(tree)).returncode == 0
    assert read_marker(marker)["provision"]["digest"] == d1
    dep = deploy(f"[gate]\ntimeout = 5\n[marker]\npath = {marker}\ndigest = {d1}\n"
                 "[BeforeInstall]\nchecks = marker\n")
    assert_agent_clean(dep.run("before-install", timeout=30), "PASS")
    (tree / "roles" / "api.rb").write_text("package 'apache2'\n")
    assert mark("--digest", str(tree)).returncode == 0
    assert read_marker(marker)["provision"]["digest"] != d1
    h = dep.run("before-install", timeout=30)
    assert_agent_clean(h, "FAIL")
    assert "digest" in h.verdict


def test_mark_digest_missing_path_records_failed(setup, tmp_path):
    """A digest that cannot be made is a failed provisioning, recorded,
    so the hooks fail at once with it instead of waiting for a marker."""
    marker, _, mark, _ = setup
    r = mark("--digest", str(tmp_path / "nope"))
    assert r.returncode == 64 and str(tmp_path / "nope") in last_line(r)
    p = read_marker(marker)["provision"]
    assert p["status"] == "failed" and str(tmp_path / "nope") in p["message"]
    assert "digest" not in p


def test_mark_run_outcome_recorded_even_if_digest_fails(setup, tmp_path):
    marker, _, mark, _ = setup
    r = mark("--digest", str(tmp_path / "made-by-run"), "--run", "--", "true")
    assert r.returncode == 64, r.describe()
    assert read_marker(marker)["provision"]["status"] == "failed"
    tree = tmp_path / "made-by-run"
    r = mark("--digest", str(tree), "--run", "--", "sh", "-c", f"mkdir {tree}; echo x > {tree}/f")
    assert r.returncode == 0, r.describe()
    p = read_marker(marker)["provision"]
    assert p["status"] == "ok" and p["digest"].startswith("sha256:")


def test_mark_without_instance_id_does_not_run_the_command(setup, build, tmp_path):
    """The instance id comes first: with metadata unreachable the command
    is not run (its outcome could not be recorded) and that is said."""
    marker, ini, _, _ = setup
    flag = tmp_path / "ran"
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", str(ini), "--run", "--", "touch", str(flag)],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"})
    assert r.returncode == 69, r.describe()
    assert not flag.exists() and not marker.exists()


@pytest.mark.parametrize("args,expect", [
    (["--tag", "novalue"], "KEY=VALUE"),
    (["--run"], "needs a command"),
    (["--bogus"], "bad option"),
    (["extra"], "unexpected argument"),
    (["--path", "relative/marker"], "not absolute"),
    (["--instance-id", "i-1 2"], "not an instance id"),
    (["--failed", "x", "--run", "--", "true"], "exclude each other"),
])
def test_mark_usage_errors(setup, args, expect):
    marker, _, mark, _ = setup
    r = mark(*args)
    assert r.returncode == 64, r.describe()
    assert expect in last_line(r)
    assert not marker.exists()


def test_mark_without_imds_fails_closed(setup, build):
    marker, ini, _, _ = setup
    r = run_program(build / "bin" / "cdgate-mark", ["-c", str(ini)],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"})
    assert r.returncode == 69, r.describe()
    assert "instance metadata" in last_line(r)
    assert not marker.exists()


def test_mark_refuses_directory_writable_by_others(setup, tmp_path):
    _, _, mark, _ = setup
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    r = mark("--path", str(d / "provisioned"))
    assert r.returncode == 1, r.describe()
    assert "writable by everyone" in last_line(r)
    assert not (d / "provisioned").exists()


def test_mark_is_atomic_no_reader_sees_a_partial_marker(setup):
    """While cdgate-mark rewrites the marker 40 times with markers of
    different sizes, a reader polling as fast as it can only ever sees a
    whole marker (or none before the first)."""
    marker, _, mark, _ = setup
    seen, bad, stop = [0], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                data = marker.read_bytes()
            except FileNotFoundError:
                continue
            seen[0] += 1
            text = data.decode()
            if not (text.startswith("[provision]\n") and text.endswith("\n")
                    and "finished_at = " in text
                    and (text.count("[tags]") == 0 or text.rstrip().endswith("X"))):
                bad.append(text)
    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(40):
            args = ["--tag", f"Pad={'X' * (i * 37 % 200 + 1)}"] if i % 2 else []
            assert mark("-q", *args).returncode == 0
    finally:
        stop.set()
        t.join()
    assert seen[0] > 40
    assert not bad, f"{len(bad)} partial reads, first: {bad[0]!r}"
    assert sorted(os.listdir(marker.parent)) == ["provisioned"]


def test_mark_sigterm_forwards_to_the_command_and_leaves_no_temp(setup, report):
    """SIGTERM while the --run command runs: the command's group gets it,
    cdgate-mark says why and exits 3 at once, nothing of the command is left
    and no marker or temporary file."""
    marker, _, mark, _ = setup
    r = mark("--run", "--", "sh", "-c", "echo started $$; exec sleep 30", timeout=2.0)
    pgid = started_pid(r)
    assert_term_prompt(r, report, ", cdgate-mark --run (command ends on SIGTERM)")
    assert "SIGTERM" in last_line(r) and r.verdict == last_line(r), r.describe()
    assert not alive_in_group(pgid), f"the command outlived cdgate-mark: {alive_in_group(pgid)}"
    assert not marker.exists()
    assert not marker.parent.exists() or os.listdir(marker.parent) == [], "temporary file left"


def test_mark_sigterm_while_reading_the_instance_id_exits_at_once(setup, build, report):
    """Before --run: SIGTERM during the instance metadata retries (nothing
    answers) ends cdgate-mark at once and the command never starts."""
    marker, ini, _, _ = setup
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", str(ini), "--run", "--", "sh", "-c", "echo started"],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": CLOSED}, timeout=1.0)
    assert_term_prompt(r, report, ", cdgate-mark reading the instance id")
    assert "started" not in r.stdout and "SIGTERM" in last_line(r), r.describe()
    assert not marker.exists()


def test_wait_passes_when_marker_appears(setup):
    marker, _, mark, wait = setup
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", wait("-t", "20")))
    t.start()
    time.sleep(0.8)
    assert mark("-q").returncode == 0
    t.join()
    r = box["r"]
    assert r.returncode == 0, r.describe()
    assert last_line(r).startswith("cdgate: cdgate-wait: PASS:")


def test_wait_times_out(setup):
    marker, _, _, wait = setup
    r = wait("-t", "1")
    assert r.returncode == 2, r.describe()
    assert str(marker) in last_line(r) and 0.9 < r.elapsed < 3 + SLACK


def test_wait_sigterm_while_waiting_exits_3_at_once(setup, report):
    marker, _, _, wait = setup
    # the harness's deadline (1.5 s) comes long before cdgate-wait's (300 s)
    r = wait("-t", "300", timeout=1.5)
    assert_term_prompt(r, report, "during cdgate-wait's marker wait")
    assert any("waiting up to 300s" in ln for ln in r.output), r.describe()
    last = last_line(r)
    assert r.verdict == last, r.describe()
    assert last.startswith("cdgate: cdgate-wait: FAIL:") and "SIGTERM" in last, r.describe()
    assert not marker.exists()


def test_wait_usage(setup):
    _, _, _, wait = setup
    assert wait("-t", "0").returncode == 64
    assert wait("-t", "abc").returncode == 64
    r = wait("x")
    assert r.returncode == 64 and last_line(r).endswith(
        "unexpected argument 'x'; see cdgate-wait -h"), r.describe()
    r = wait("-n")
    assert r.returncode == 0 and "check mode" in last_line(r)


def test_mark_system_error_is_71(setup):
    """A marker directory that cannot be created (here under /proc) is a
    system error, exit 71, and says which directory."""
    _, _, mark, _ = setup
    r = mark("--instance-id", "i-0123456789abcdef0", "--path", "/proc/cdgate-test/provisioned")
    assert r.returncode == 71, r.describe()
    assert "cannot create directory '/proc/cdgate-test'" in last_line(r)


@pytest.mark.parametrize("script", [
    "sleep 37 & echo started $$ $!; wait",                    # a grandchild
    "trap '' TERM; sleep 37 & echo started $$ $!; sleep 38",   # all ignore SIGTERM
], ids=["grandchild", "ignores-sigterm"])
def test_mark_sigterm_ends_everything_the_command_started(setup, build, report, script):
    """No descendant of --run outlives cdgate-mark holding its stdout, even
    one that ignores SIGTERM (SIGKILLed after PROC_CHILD_GRACE_MS, 30 ms),
    and cdgate-mark says why and exits 3 at once."""
    _, ini, _, _ = setup
    r = run_program(build / "bin" / "cdgate-mark",
                    ["-c", str(ini), "--instance-id", "i-0123456789abcdef0",
                     "--run", "--", "sh", "-c", script], timeout=1.5)
    pgid = started_pid(r)
    # the harness lists what is left in the program's group or still holds
    # its output pipes (the command's sleeps never end on their own)
    assert_term_prompt(r, report, f", cdgate-mark --run ({script.split(';')[0]})")
    assert "SIGTERM" in last_line(r) and r.verdict == last_line(r), r.describe()
    left = alive_in_group(pgid)
    assert not left, f"outlived cdgate-mark: {left}"


# ---------------------------------------------------------------------------
# check mode (-n): no instance metadata, nothing run, nothing waited for


def test_mark_check_mode_reads_no_metadata_and_prints_the_plan(setup, build, imds):
    marker, ini, _, _ = setup
    for url in (CLOSED, imds.url):
        r = run_program(build / "bin" / "cdgate-mark", ["-c", str(ini), "-n", "--tag", "Role=api"],
                        env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": url}, timeout=10)
        assert r.returncode == 0 and not r.timed_out, r.describe()
        assert r.elapsed < 2 + SLACK, r.describe()
        out = r.output
        assert out[0] == f"cdgate: cdgate-mark: cdgate-mark 0.1.0, config '{ini}'", r.describe()
        assert f"cdgate: cdgate-mark: marker: '{marker}'" in out, r.describe()
        assert ("cdgate: cdgate-mark: instance id: would be read from instance metadata at "
                f"'{url.rstrip('/')}'; deadline 5s ([gate] timeout)") in out, r.describe()
        assert "instance_id = <from instance metadata>" in out and "Role = api" in out
        assert last_line(r) == f"cdgate: cdgate-mark: PASS: check mode: would write '{marker}'"
    assert not imds.log and sum(imds.counts.values()) == 0
    assert not marker.exists() and not (ini.parent / "history.jsonl").exists()


def test_mark_check_mode_runs_nothing(setup, tmp_path):
    marker, ini, mark, _ = setup
    flag = tmp_path / "ran"
    r = mark("-n", "--instance-id", "i-0123456789abcdef0", "--failed", "x")
    assert r.returncode == 0, r.describe()
    assert "status = failed" in r.output and "message = x" in r.output
    # without --run the digest is made in check mode too, and fails as a run would
    r = mark("-n", "--instance-id", "i-0123456789abcdef0", "--digest", str(tmp_path / "made-later"))
    assert r.returncode == 64 and "made-later' does not exist" in last_line(r), r.describe()
    r = mark("-n", "--instance-id", "i-0123456789abcdef0", "--digest", str(tmp_path / "made-later"),
             "--run", "--", "touch", str(flag))
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r.describe()
    assert ("cdgate: cdgate-mark: instance id: 'i-0123456789abcdef0' (--instance-id); "
            "deadline: none, no instance metadata is read") in r.output, r.describe()
    assert any(ln.startswith("cdgate: cdgate-mark: would withdraw the previous marker, run 'touch'") for ln in r.output)
    assert ("cdgate: cdgate-mark: digest: over 1 path, made after the command "
            "(not made in check mode)") in r.output, r.describe()
    assert "instance_id = i-0123456789abcdef0" in r.output
    assert not flag.exists() and not marker.exists()


def test_mark_check_mode_with_built_in_defaults(build, tmp_path):
    (tmp_path / "opt" / "bin").mkdir(parents=True)
    prog = tmp_path / "opt" / "bin" / "cdgate-mark"
    shutil.copy(build / "bin" / "cdgate-mark", prog)
    r = run_program(prog, ["-n"], env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": CLOSED}, timeout=10)
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r.describe()
    etc = Path("/etc/cdgate/cdgate.ini")
    if etc.exists():
        assert r.output[0].endswith(f"config '{etc}'"), r.describe()
    else:
        assert r.output[0].endswith("config built-in defaults (no cdgate.ini found)"), r.describe()
        assert "cdgate: cdgate-mark: marker: '/var/lib/cdgate/provisioned'" in r.output
        assert any(ln.endswith("deadline 300s ([gate] timeout)") for ln in r.output), r.describe()


def test_mark_check_mode_checks_like_a_run(setup):
    """-n validates as a run would: imds = no needs --instance-id."""
    marker, ini, mark, _ = setup
    ini.write_text(ini.read_text().replace("[gate]\n", "[gate]\nimds = no\n"))
    r = mark("-n")
    assert r.returncode == 64 and "[gate] imds = no: give --instance-id" in last_line(r), r.describe()
    r = mark("-n", "--instance-id", "i-0123456789abcdef0")
    assert r.returncode == 0, r.describe()
    assert not marker.exists()


def test_mark_and_wait_version(setup):
    _, _, mark, wait = setup
    for run, name in ((mark, "cdgate-mark"), (wait, "cdgate-wait")):
        for opt in ("-V", "--version") if name == "cdgate-mark" else ("-V",):
            r = run(opt)
            assert r.returncode == 0, r.describe()
            assert re.fullmatch(rf"{name} \d+\.\d+\.\d+\n", r.stdout), r.describe()


def test_wait_check_mode_waits_for_nothing(setup, build, imds):
    marker, ini, _, _ = setup
    r = run_program(build / "bin" / "cdgate-wait", ["-c", str(ini), "-n"],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": CLOSED}, timeout=10)
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r.describe()
    assert f"cdgate: cdgate-wait: config {ini}; waiting up to 5s for '{marker}'" in r.output
    assert "cdgate: cdgate-wait: checks: marker; deadline 5s ([gate] timeout)" in r.output
    assert last_line(r).startswith("cdgate: cdgate-wait: PASS: configuration is valid (check mode")
    r = run_program(build / "bin" / "cdgate-wait", ["-c", str(ini), "-n", "-t", "900"],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}, timeout=10)
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r.describe()
    assert "cdgate: cdgate-wait: checks: marker; deadline 900s (-t)" in r.output, r.describe()
    assert not imds.log and not marker.exists()


# ---------------------------------------------------------------------------
# --digest PATH...


def mark_digest(mark, *args):
    r = mark("-n", "--instance-id", "i-0123456789abcdef0", *args)
    assert r.returncode == 0, r.describe()
    (line,) = [ln for ln in r.output if ln.startswith("digest = ")]
    return line.split(" = ", 1)[1]


def test_mark_digest_takes_several_paths(setup, tmp_path):
    marker, _, mark, _ = setup
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "sub").mkdir(parents=True)
    (a / "sub" / "f").write_text("one\n")
    b.write_text("two\n")
    both = mark_digest(mark, "--digest", str(a), str(b))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", both)
    # stable, and the same as the flag repeated
    assert mark_digest(mark, "--digest", str(a), str(b)) == both
    assert mark_digest(mark, "--digest", str(a), "--digest", str(b)) == both
    assert mark_digest(mark, "--digest", str(a), "--tag", "Role=api", "--digest", str(b)) == both
    # every path counts, and so does their order (man page: "in the order given")
    assert mark_digest(mark, "--digest", str(a)) != both
    assert mark_digest(mark, "--digest", str(b), str(a)) != both
    # not where the trees live, nor their times or modes
    c = tmp_path / "elsewhere"
    shutil.copytree(a, c / "a")
    shutil.copy(b, c / "b")
    os.utime(c / "b", (1, 1))
    os.chmod(c / "b", 0o600)
    assert mark_digest(mark, "--digest", str(c / "a"), str(c / "b")) == both
    # a real run records the same digest
    r = mark("--digest", str(a), str(b))
    assert r.returncode == 0, r.describe()
    assert read_marker(marker)["provision"]["digest"] == both


def test_mark_digest_paths_end_at_the_next_option(setup, tmp_path):
    """--digest a b --run -- CMD: the command is not taken for a path."""
    marker, _, mark, _ = setup
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1\n")
    b.write_text("2\n")
    flag = tmp_path / "ran"
    r = mark("--digest", str(a), str(b), "--run", "--", "touch", str(flag))
    assert r.returncode == 0, r.describe()
    assert flag.exists(), "the command was eaten as a digest path"
    p = read_marker(marker)["provision"]
    assert p["status"] == "ok"
    assert p["digest"] == mark_digest(mark, "--digest", str(a), str(b))
    # after another option's argument a bare word is no digest path
    r = mark("--digest", str(a), "--tag", "Role=api", str(b))
    assert r.returncode == 64 and f"unexpected argument '{b}'" in last_line(r), r.describe()
    # a path starting with '-' goes right after --digest
    (tmp_path / "-dash").write_text("3\n")
    r = mark("-n", "--instance-id", "i-0123456789abcdef0", "--digest", "-dash", cwd=str(tmp_path))
    assert r.returncode == 0 and any(ln.startswith("digest = sha256:") for ln in r.output), \
        r.describe()


def test_mark_digest_several_paths_one_missing_records_failed(setup, tmp_path):
    marker, _, mark, _ = setup
    a = tmp_path / "a"
    a.write_text("1\n")
    r = mark("--digest", str(a), str(tmp_path / "nope"))
    assert r.returncode == 64 and str(tmp_path / "nope") in last_line(r), r.describe()
    p = read_marker(marker)["provision"]
    assert p["status"] == "failed" and "digest" not in p


def test_mark_digest_more_than_64_paths_is_a_usage_error(setup, tmp_path):
    marker, _, mark, _ = setup
    a = tmp_path / "a"
    a.write_text("1\n")
    r = mark("--digest", *([str(a)] * 65))
    assert r.returncode == 64 and "more than 64 --digest paths" in last_line(r), r.describe()
    assert not marker.exists()
    assert mark_digest(mark, "--digest", *([str(a)] * 64)).startswith("sha256:")
