"""Configuration, options and environment of the hook programs (issue 2)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from lib.agent import AGENT_PATH, HOOKS, assert_agent_clean, run_program
from lib.marker import marker_text, write_marker


def ok_config(marker, extra=""):
    return (f"[gate]\ntimeout = 3\n[marker]\npath = {marker}\n"
            f"[BeforeInstall]\nchecks = lifecycle marker\n{extra}")


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "state" / "provisioned"
    write_marker(m, marker_text())
    return m


BAD_CONFIGS = {
    "unknown-section": ("[gates]\ntimeout = 3\n", ":1: unknown section [gates]"),
    "unknown-key": ("[gate]\ntimeout = 3\ntimout = 4\n", ":3: unknown key 'timout'"),
    "bad-timeout": ("[gate]\ntimeout = soon\n", ":2: timeout = 'soon'"),
    "timeout-too-big": ("[gate]\ntimeout = 99999\n", ":2: timeout"),
    "negative-timeout": ("[gate]\ntimeout = -5\n", ":2: timeout"),
    "bad-on-terminating": ("[gate]\non_terminating = maybe\n", "expected skip or fail"),
    "bad-bool": ("[gate]\nimds = perhaps\n", "expected yes or no"),
    "relative-marker": ("[marker]\npath = provisioned\n", "absolute path"),
    "bad-digest": ("[marker]\ndigest = md5:abc\n", "64 hex digits"),
    "bad-source": ("[tags]\nsource = ldap\n", "expected auto, imds or ec2"),
    "unknown-check": ("[BeforeInstall]\nchecks = marker magic\n", "unknown check 'magic'"),
    "duplicate-key": ("[gate]\ntimeout = 3\ntimeout = 4\n", ":3: 'timeout' is given twice"),
    "no-section": ("timeout = 3\n", ":1: 'timeout' is outside any [section]"),
    "syntax": ("[gate]\nthis line has no equals sign\n", ":2: syntax error"),
    "unclosed-section": ("[gate\ntimeout = 3\n", ":1: syntax error"),
    "long-line": ("[gate]\n; " + "x" * 3000 + "\n", ":2: line longer than"),
    "health-without-url": ("[health]\nstatus = 200\n", "url"),
    "health-interval-too-short": ("[health]\nurl = http://127.0.0.1/\ninterval = 50ms\n",
                                  ":3: interval = '50ms'"),
    "health-interval-max-too-long": ("[health]\nurl = http://127.0.0.1/\n"
                                     "interval_max = 11m\n", ":3: interval_max = '11m'"),
    "cloud-init-not-bool": ("[marker]\ncloud_init = maybe\n", ":2: cloud_init = 'maybe'"),
    "event-timeout-zero": ("[BeforeInstall]\ntimeout = 0\n", ":2: timeout = '0'"),
    "event-on-terminating": ("[BeforeInstall]\non_terminating = maybe\n",
                             ":2: on_terminating = 'maybe'"),
    "event-checks-empty": ("[BeforeInstall]\nchecks =\n", ":2: checks is empty"),
    "tag-key-bad-escape": ("[tags]\na%ZZ = x\n", ":2: tag key 'a%ZZ': bad %XX escape"),
    "tag-key-too-long": ("[tags]\n" + "K" * 129 + " = x\n", ":2: tag key too long"),
    "too-many-tags": ("[tags]\n" + "".join(f"T{i} = x\n" for i in range(51)),
                      ":52: more than 50 required tags"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_error_with_file_and_line(deploy, case):
    text, expect = BAD_CONFIGS[case]
    dep = deploy(text)
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r.describe()
    assert "cdgate.ini" in r.verdict and expect in r.verdict, r.describe()


def bad_config_files():
    def world_writable(p):
        os.chmod(p, 0o666)

    def group_writable(p):
        os.chmod(p, 0o664)

    def wrong_owner(p):
        os.chown(p, 65534, 65534)

    def symlink(p):
        real = p.parent / "real.ini"
        os.rename(p, real)
        p.symlink_to(real)

    def directory(p):
        os.unlink(p)
        p.mkdir()

    def fifo(p):
        os.unlink(p)
        os.mkfifo(p, 0o644)

    def huge(p):
        p.write_text("; comment\n" * 10000)

    def nul(p):
        p.write_bytes(b"[gate]\ntimeout = 3\x00\n")

    def invalid_utf8(p):
        p.write_bytes(b"[gate]\n; caf\xe9\ntimeout = 3\n")

    def unreadable_dir_entry(p):
        os.unlink(p)
        os.symlink("/nonexistent/target", p)

    return {
        "world-writable": (world_writable, "' is world-writable; chmod go-w '"),
        "group-writable": (group_writable, "' is group-writable; chmod go-w '"),
        "wrong-owner": (wrong_owner, "' is owned by uid 65534"),
        "symlink": (symlink, "' is a symbolic link; links are refused, use the real path"),
        "dangling-symlink": (unreadable_dir_entry,
                             "' is a symbolic link; links are refused, use the real path"),
        "directory": (directory, "' is a directory"),
        "fifo": (fifo, "' is a FIFO"),
        "huge": (huge, "' is too large (100000 bytes, at most 65536)"),
        "nul": (nul, "' holds NUL bytes (binary data, not text)"),
        "invalid-utf8": (invalid_utf8, "' is not valid UTF-8 text"),
    }


@pytest.mark.parametrize("case", sorted(bad_config_files()))
def test_unsafe_config_file_is_refused(deploy, marker, case):
    make, expect = bad_config_files()[case]
    dep = deploy(ok_config(marker))
    make(dep.path / "cdgate" / "cdgate.ini")
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78
    assert f"config '{dep.path / 'cdgate' / 'cdgate.ini'}{expect}" in r.verdict, r.describe()


def test_config_found_beside_program_and_path_printed(deploy, marker):
    dep = deploy(ok_config(marker))
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    want = str(dep.path / "cdgate" / "cdgate.ini")
    assert any(want in ln for ln in r.output)


def test_config_found_in_parent_directory(deploy, marker):
    dep = deploy(ok_config(marker), config_dir=".")
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any(str(dep.path / "cdgate.ini") in ln for ln in r.output), r.describe()


def test_config_search_order_ends_at_etc(build, tmp_path):
    """Without CDGATE_CONFIG: beside the program, its parent directory, then
    /etc/cdgate/cdgate.ini, then built-in defaults.  The files looked at are
    read from strace (the /etc step cannot be staged without writing to the
    machine's /etc, which parallel tests rely on being empty of cdgate)."""
    app = tmp_path / "revision" / "cdgate"
    app.mkdir(parents=True)
    hook = app / "before-install"
    hook.write_bytes((build / "hooks" / "before-install").read_bytes())
    os.chmod(hook, 0o755)
    trace = tmp_path / "trace"
    env = {"PATH": AGENT_PATH, "LIFECYCLE_EVENT": "BeforeInstall",
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
           # the ASan build: LeakSanitizer cannot run under ptrace
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=%file", "-o", str(trace),
                        str(hook), "-n"], cwd="/", env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    looked = []
    for path in re.findall(r'"([^"]*/cdgate\.ini)"', trace.read_text()):
        if path not in looked:
            looked.append(path)
    etc = "/etc/cdgate/cdgate.ini"
    assert looked[:3] == [str(app / "cdgate.ini"), str(app.parent / "cdgate.ini"), etc], looked
    if os.path.exists(etc):     # a machine with cdgate installed: it is used
        assert f"config '{etc}'" in p.stdout, p.stdout
    else:
        assert "config built-in defaults (no cdgate.ini found)" in p.stdout, p.stdout


def test_cdgate_config_variable_wins(deploy, marker, tmp_path):
    other = tmp_path / "other.ini"
    other.write_text(ok_config(marker).replace("timeout = 3", "timeout = 7"))
    dep = deploy("[gate]\nbogus = 1\n")
    r = dep.run("before-install", timeout=30, env={"CDGATE_CONFIG": str(other)})
    assert_agent_clean(r, "PASS")
    assert any("deadline 7s" in ln for ln in r.output)


def test_cdgate_config_missing_is_an_error(deploy, tmp_path):
    r = deploy(None).run("before-install", timeout=30,
                         env={"CDGATE_CONFIG": str(tmp_path / "nope.ini")})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r.describe()
    assert f"config '{tmp_path / 'nope.ini'}' (from CDGATE_CONFIG) does not exist" in r.verdict


def test_event_section_overrides_checks_and_timeout(deploy, marker):
    dep = deploy(ok_config(marker) + "timeout = 9\n")
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("checks: lifecycle marker; deadline 9s" in ln for ln in r.output)


def test_event_mismatch_is_a_usage_error(deploy, marker):
    dep = deploy(ok_config(marker))
    r = dep.run("before-install", event="AfterInstall", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64
    assert "LIFECYCLE_EVENT is 'AfterInstall'" in r.verdict


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_check_mode_prints_plan(build, hook, marker, tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text(ok_config(marker))
    r = run_program(build / "hooks" / hook, ["-n", "-c", str(ini)])
    assert r.returncode == 0, r.describe()
    out = r.stdout
    assert str(ini) in out and "checks:" in out and "deadline" in out
    assert out.rstrip().splitlines()[-1].endswith("(check mode: nothing verified)")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_runs_with_defaults_of_its_event(deploy, hook, marker):
    """Each hook runs like the agent runs it; all but the marker events only
    check the lifecycle state, and pass."""
    dep = deploy(f"[gate]\ntimeout = 3\n[marker]\npath = {marker}\n")
    r = dep.run(hook, timeout=30)
    assert_agent_clean(r, "PASS")


def test_help_and_version(build):
    h = run_program(build / "hooks" / "before-install", ["-h"])
    assert h.returncode == 0 and "usage:" in h.stdout
    v = run_program(build / "hooks" / "before-install", ["-V"])
    assert v.returncode == 0 and "cdgate" in v.stdout


def test_bad_option_and_argument_are_usage_errors(build):
    r = run_program(build / "hooks" / "before-install", ["-z"])
    assert r.returncode == 64
    r = run_program(build / "hooks" / "before-install", ["extra"])
    assert r.returncode == 64


def test_hostile_environment_values_are_sanitized(deploy, marker):
    evil = "\x1b[31mred\udcff" + "A" * 5000
    dep = deploy(ok_config(marker))
    r = dep.run("before-install", event="Before\x01Install" + "x" * 3000, timeout=30,
                env={"DEPLOYMENT_ID": evil, "APPLICATION_NAME": evil})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64
    assert "LIFECYCLE_EVENT is 'Before?Installxxx" in r.verdict, r.describe()
    assert b"\x1b" not in r.stdout_bytes + r.stderr_bytes
    assert b"\x1b" not in dep.archive.scripts_log.read_bytes()


# Starts argv with fds 0, 1 and 2 closed (a shell closes them, then execs:
# no preexec_fn in a process that runs stand-in threads).
CLOSE_0_1_2 = ["/bin/sh", "-c", 'exec "$@" <&- >&- 2>&-', "sh"]

# What fds 0-2 of the process are, written to the file argv[1].
FD_PROBE = ("import os, sys\n"
            "def link(fd):\n"
            "    try:\n"
            "        return os.readlink(f'/proc/self/fd/{fd}')\n"
            "    except OSError:\n"
            "        return 'closed'\n"
            "links = [link(fd) for fd in (0, 1, 2)]\n"
            "with open(sys.argv[1], 'w') as f:\n"
            "    f.write(' '.join(links))\n")


def test_closed_stdin_stdout_fds_are_handled(build, tmp_path):
    """Started with fds 0-2 closed, cdgate-mark opens /dev/null on each
    (proc_start) before anything else can land there: the command it runs
    inherits /dev/null as stdin, and its stdout and stderr are the one pipe
    cdgate-mark relays (to its own stdout, /dev/null here; test_hardening2.py
    says why), never a file cdgate-mark opened; the marker and the history
    are written whole."""
    marker = tmp_path / "state" / "provisioned"
    hist = tmp_path / "history.jsonl"
    report = tmp_path / "fds"
    ini = tmp_path / "c.ini"
    ini.write_text(f"[gate]\nhistory = {hist}\n[marker]\npath = {marker}\n")
    p = subprocess.run(CLOSE_0_1_2 + [str(build / "bin" / "cdgate-mark"), "-c", str(ini),
                                      "--instance-id", "i-0123456789abcdef0", "--run", "--",
                                      "/usr/bin/python3", "-c", FD_PROBE, str(report)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env={"PATH": AGENT_PATH}, timeout=30)
    assert p.returncode == 0
    fd0, fd1, fd2 = report.read_text().split()
    assert fd0 == "/dev/null" and fd1 == fd2 and fd1.startswith("pipe:["), report.read_text()
    assert "status = ok" in marker.read_text()
    entries = [json.loads(ln) for ln in hist.read_text().splitlines()]
    assert [(e["program"], e["exit"]) for e in entries] == [("cdgate-mark", 0)]

