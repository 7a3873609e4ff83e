"""Issue 15, "Hardening, second round": items 6-10, 16, 17 and closefrom.

Each test fails without its fix: the item it proves is named in its
docstring, and docs/dev/bad-input.md has its row.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lib.agent import SLACK, assert_agent_clean, assert_term_prompt, run_hook, run_program
from lib.marker import INSTANCE_ID, marker_text, write_marker
from standin.service import Service

NOBODY = 65534


def kill_pid_in(path: Path, wait: float = 0.0) -> None:
    """Ends the process whose pid a test command wrote to path (waiting up
    to `wait` seconds for the file), whatever the test's outcome."""
    until = time.monotonic() + wait
    while not path.exists() and time.monotonic() < until:
        time.sleep(0.01)
    try:
        os.kill(int(path.read_text().split()[0]), signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    until = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < until, f"{path} did not appear within {timeout}s"
        time.sleep(0.01)


@pytest.fixture
def mark(build, imds, tmp_path):
    """mark(*args, **kw): cdgate-mark with a config in tmp_path; .marker and
    .ini are its files."""
    marker = tmp_path / "state" / "provisioned"
    ini = tmp_path / "mark.ini"
    ini.write_text(f"[gate]\ntimeout = 5\nhistory = {tmp_path}/history.jsonl\n"
                   f"[marker]\npath = {marker}\n")

    def run(*args, **kw):
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
        env.update(kw.pop("env", {}))
        return run_program(build / "bin" / "cdgate-mark", ["-c", str(ini), *args],
                           env=env, **kw)
    run.marker, run.ini = marker, ini
    return run


# ---------------------------------------------------------------------------
# item 6: a descendant that calls setsid


def test_mark_sigterm_setsid_descendant_does_not_hold_stdout(mark, tmp_path, report):
    """Item 6: a descendant that leaves the command's process group (setsid)
    is out of SIGTERM's reach; it survives, but holds only cdgate-mark's
    relay pipe, not the output the agent waits on: cdgate-mark exits 3 at
    once and nothing holds its stdout."""
    pidfile = tmp_path / "daemon.pid"
    script = (f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' & "
              f"echo started $$; wait")
    try:
        r = mark("--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c", script,
                 timeout=1.5)
        assert_term_prompt(r, report, ", cdgate-mark --run (a setsid descendant)")
        assert "started" in r.stdout, r.describe()
        wait_for_file(pidfile)
        daemon = int(pidfile.read_text())
        os.kill(daemon, 0)      # it did survive: only the pipe tells it apart
    finally:
        kill_pid_in(pidfile, wait=10.0)


def test_mark_command_leaving_a_daemon_on_its_output_ends_at_once(mark, tmp_path):
    """Item 6, without SIGTERM: the command exits 0 leaving a setsid daemon
    that holds its output; cdgate-mark records ok and exits at once, and the
    daemon does not hold cdgate-mark's stdout (the harness's pipes_held)."""
    pidfile = tmp_path / "daemon.pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' & echo provisioned"
    try:
        r = mark("--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c", script,
                 timeout=10)
        assert_agent_clean(r, "PASS")
        assert r.elapsed < 3 + SLACK, r.describe()
        assert "provisioned" in r.stdout and "status = ok" in mark.marker.read_text()
    finally:
        kill_pid_in(pidfile, wait=10.0)


# ---------------------------------------------------------------------------
# closefrom before the command


def test_mark_run_passes_no_leaked_descriptor_to_the_command(mark, tmp_path):
    """As doas: a descriptor the agent leaked to cdgate-mark (here 57, the
    write end of a pipe) is closed before the command runs; the command has
    0, 1 and 2 only, and the leaked pipe's reader sees its end when
    cdgate-mark exits."""
    rd, wr = os.pipe()
    os.dup2(wr, 57)
    os.close(wr)
    try:
        script = "for fd in /proc/$$/fd/*; do echo fd ${fd##*/}; done"
        r = mark("--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c", script,
                 pass_fds=(57,), timeout=10)
    finally:
        os.close(57)
    assert_agent_clean(r, "PASS")
    fds = sorted({int(ln.split()[1]) for ln in r.output if ln.startswith("fd ")})
    # the shell's glob may hold one descriptor of its own on /proc/$$/fd
    assert fds[:3] == [0, 1, 2] and 57 not in fds and len(fds) <= 4, r.describe()
    os.set_blocking(rd, False)
    try:
        assert os.read(rd, 1) == b""    # every writer gone
    finally:
        os.close(rd)


# ---------------------------------------------------------------------------
# item 7: the configuration is found from /proc/self/exe, not argv[0]


def health_config(port: int) -> str:
    # validate-service on the built-in defaults checks the lifecycle only,
    # and passes; with this file it checks a port that refuses: FAIL (2)
    return (f"[gate]\ntimeout = 2\n[health]\ntcp = 127.0.0.1:{port}\n"
            "[ValidateService]\ntimeout = 2\n")


@pytest.mark.parametrize("how", ["symlink", "exec-a", "dot-slash-from-root"])
def test_hook_finds_its_own_config_whatever_argv0_says(deploy, refused_port, tmp_path, how):
    """Item 7: through a symbolic link elsewhere, with exec -a
    /x/validate-service, or as ./validate-service from cwd /, the hook
    loads the cdgate.ini beside the real program (its health check fails),
    never the built-in defaults (which would PASS)."""
    dep = deploy(health_config(refused_port))
    hook = dep.hook("validate-service")
    path, wrap = hook, ()
    if how == "symlink":
        (tmp_path / "elsewhere").mkdir()
        path = tmp_path / "elsewhere" / "validate-service"
        path.symlink_to(hook)
    elif how == "exec-a":
        wrap = ("bash", "-c", 'exec -a /x/validate-service "$@"', "bash")
    else:
        wrap = ("bash", "-c", 'cd / && exec -a ./validate-service "$@"', "bash")
    r = run_hook(path, "ValidateService", env=dep.env(), deployment=dep.archive,
                 timeout=30, wrap=wrap)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r.describe()
    assert f"config '{hook.parent}/cdgate.ini'" in r.output[0], r.describe()


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare -m as root (a private mount over /proc)")
def test_hook_without_proc_self_exe_refuses_to_run(deploy, refused_port):
    """Item 7: when /proc/self/exe cannot be read (no /proc: here a tmpfs
    over it in a private mount namespace) the hook cannot know where its
    cdgate.ini is, and refuses to run (78) rather than use the defaults;
    CDGATE_CONFIG still works."""
    dep = deploy(health_config(refused_port))
    hook = dep.hook("validate-service")
    if b"__asan_init" in hook.read_bytes():
        pytest.skip("AddressSanitizer itself needs /proc")
    wrap = ("unshare", "-m", "--", "sh", "-c", 'mount -t tmpfs none /proc && exec "$@"', "sh")
    r = run_hook(hook, "ValidateService", env=dep.env(), deployment=dep.archive,
                 timeout=30, wrap=wrap)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r.describe()
    assert "cannot read /proc/self/exe (No such file or directory), so the cdgate.ini " \
        "beside this program cannot be found" in r.verdict, r.describe()
    r = run_hook(hook, "ValidateService", env=dep.env({"CDGATE_CONFIG": str(hook.parent /
                                                                          "cdgate.ini")}),
                 deployment=dep.archive, timeout=30, wrap=wrap)
    assert r.returncode == 2, r.describe()       # the file's health check


# ---------------------------------------------------------------------------
# item 8: the configuration's directory


def as_nobody(cwd: Path, *argv) -> None:
    """Runs argv as user nobody in cwd (entered as root: nobody could not
    walk the test's 0700 tmp dirs to it)."""
    subprocess.run(list(argv), check=True, timeout=30, cwd=cwd, user=NOBODY,
                   group=NOBODY, extra_groups=[])


def test_hook_in_world_writable_dir_refuses_its_config(deploy, refused_port):
    """Item 8: cdgate.ini in a directory anyone can write is refused (78):
    another user could replace it."""
    dep = deploy(health_config(refused_port))
    d = dep.hook("validate-service").parent
    os.chmod(d, 0o777)
    r = dep.run("validate-service", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r.describe()
    assert f"config directory '{d}' is writable by everyone" in r.verdict, r.describe()


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_config_moved_away_by_another_user_is_no_fallback(deploy, refused_port, mode):
    """Item 8: in a hook directory others can write (even a sticky one: the
    rule is the marker's), user nobody moves the root-owned cdgate.ini away
    (non-sticky) or the hook finds none: it refuses to run (78), never
    passes on the built-in defaults."""
    dep = deploy(health_config(refused_port))
    d = dep.hook("validate-service").parent
    os.chmod(d, mode)
    if mode == 0o777:
        as_nobody(d, "mv", "cdgate.ini", "moved.ini")
        assert not (d / "cdgate.ini").exists()
    else:
        (d / "cdgate.ini").unlink()
    r = dep.run("validate-service", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r.describe()
    who = "its group" if mode == 0o775 else "everyone"
    assert f"config directory '{d}' is writable by {who}" in r.verdict, r.describe()
    assert "FAIL: another user could remove or replace a cdgate.ini there: " in r.verdict, \
        r.describe()


def test_parent_config_directory_is_checked_when_searched(deploy, refused_port):
    """Item 8: with no cdgate.ini beside the hook the parent is searched,
    and must be trusted too; with one beside it, the parent is not read."""
    dep = deploy(health_config(refused_port))
    d = dep.hook("validate-service").parent
    os.chmod(d.parent, 0o777)
    try:
        r = dep.run("validate-service", timeout=30)
        assert r.returncode == 2, r.describe()        # its own cdgate.ini
        (d / "cdgate.ini").unlink()
        r = dep.run("validate-service", timeout=30)
        assert_agent_clean(r, "FAIL")
        assert r.returncode == 78, r.describe()
        assert f"config directory '{d.parent}' is writable by everyone" in r.verdict, r.describe()
    finally:
        os.chmod(d.parent, 0o755)


def test_config_given_in_world_writable_dir_is_refused(build, mark, tmp_path):
    """Item 8, -c and CDGATE_CONFIG: the file's directory follows the same
    rule."""
    d = tmp_path / "open"
    d.mkdir()
    shutil.copy(mark.ini, d / "c.ini")
    os.chmod(d, 0o777)
    r = run_program(build / "bin" / "cdgate-mark", ["-n", "--instance-id", INSTANCE_ID],
                    env={"CDGATE_CONFIG": str(d / "c.ini")})
    assert r.returncode == 78, r.describe()
    assert f"config directory '{d}' is writable by everyone" in r.verdict, r.describe()


# ---------------------------------------------------------------------------
# item 9: --run withdraws the previous marker; boot_id


def hook_cfg(marker: Path) -> str:
    return (f"[gate]\ntimeout = 1\n[marker]\npath = {marker}\n"
            "[BeforeInstall]\nchecks = marker\n")


def test_mark_run_withdraws_the_previous_marker_while_it_runs(mark, deploy):
    """Item 9: an ok marker from an earlier run is withdrawn before the
    command runs: a hook run during it (here by the command itself) waits
    and times out instead of passing; the run then records its own
    outcome."""
    assert mark("--instance-id", INSTANCE_ID).returncode == 0
    hook = deploy(hook_cfg(mark.marker)).hook("before-install")
    r = mark("--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c",
             f"LIFECYCLE_EVENT=BeforeInstall {hook}; echo hook-exit=$?; exit 7",
             timeout=30)
    assert r.returncode == 7, r.describe()
    assert "hook-exit=2" in r.output, r.describe()
    assert any("withdrew the previous marker" in ln for ln in r.output), r.describe()
    assert "status = failed" in mark.marker.read_text()


def test_mark_run_killed_leaves_no_old_marker(mark, report):
    """Item 9: a re-run SIGTERMed while its command runs leaves no marker:
    the previous ok one was withdrawn first, and the verdict says so."""
    assert mark("--instance-id", INSTANCE_ID).returncode == 0
    r = mark("--instance-id", INSTANCE_ID, "--run", "--", "sh", "-c",
             "echo started; sleep 30", timeout=1.5)
    assert_term_prompt(r, report, ", cdgate-mark --run (a re-run)")
    assert not mark.marker.exists(), r.describe()
    assert "previous one was withdrawn" in r.verdict, r.describe()


STRACE = shutil.which("strace")


def strace_env(imds) -> dict:
    # the ASan build: LeakSanitizer cannot run under ptrace
    return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}


@pytest.mark.skipif(STRACE is None, reason="needs strace (fault injection)")
def test_mark_run_that_cannot_write_leaves_no_old_marker(mark, build, imds):
    """Item 9: a re-run whose marker cannot be written (ENOSPC on the
    rename, injected by strace) exits 71 and leaves no marker of the
    earlier run."""
    assert mark("--instance-id", INSTANCE_ID).returncode == 0
    r = run_program("strace", ["-f", "-qq", "-o", "/dev/null",
                               "-e", "trace=rename,renameat,renameat2",
                               "-e", "inject=rename,renameat,renameat2:error=ENOSPC",
                               build / "bin" / "cdgate-mark", "-c", mark.ini,
                               "--instance-id", INSTANCE_ID, "--run", "--", "true"],
                    env=strace_env(imds), timeout=30)
    assert r.returncode == 71, r.describe()
    assert "No space left on device" in r.verdict, r.describe()
    assert not mark.marker.exists(), r.describe()


@pytest.mark.parametrize("boot_id, code", [
    ("not-a-uuid", 1),
    ("8C0C4A1E-0000-4000-8000-000000000001", 1),
    ("8c0c4a1e-0000-4000-8000-00000000000", 1),
    ("00000000-1111-4222-8333-444444444444", 0),    # another boot: passes
])
def test_marker_boot_id_must_be_well_formed(deploy, tmp_path, boot_id, code):
    """Item 9: boot_id is informational (a marker written before a reboot
    passes: provisioning does not run again), but must have the kernel's
    form; anything else is a malformed marker, refused at once."""
    marker = tmp_path / "state" / "provisioned"
    write_marker(marker, marker_text(boot_id=boot_id))
    r = deploy(hook_cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS" if code == 0 else "FAIL")
    assert r.returncode == code, r.describe()
    if code:       # 1, at once (waiting would end by the deadline, 2)
        assert f"boot_id = '{boot_id}': expected a boot id" in r.verdict, r.describe()
    else:
        assert any("written in an earlier boot" in ln for ln in r.output), r.describe()


# ---------------------------------------------------------------------------
# item 10: unix: health sockets


def health_unix(deploy, sock: Path):
    cfg = (f"[gate]\ntimeout = 2\nhistory = none\n[health]\n"
           f"url = unix:{sock}:/health\ninterval = 200ms\n"
           "[ValidateService]\nchecks = health\n")
    return deploy(config=cfg).run("validate-service", timeout=30)


@pytest.mark.parametrize("owner, mode, ok", [
    (NOBODY, 0o1777, False),     # the case
    (NOBODY, 0o777, False),
    (0, 0o777, False),           # not sticky: anyone could replace it
    (0, 0o1777, True),           # sticky, and ours: nobody else can replace it
    (NOBODY, 0o755, False),      # a directory of nobody's
], ids=["nobody-in-1777", "nobody-in-0777", "root-in-0777", "root-in-1777",
        "nobody-in-nobodys-0755"])
def test_health_unix_socket_ownership(deploy, tmp_path, owner, mode, ok):
    """Item 10: a unix: health socket is trusted as the marker is: owned by
    root or the running user, in a directory others cannot write (a sticky
    one will do for a socket of ours)."""
    d = tmp_path / "run"
    d.mkdir()
    with Service(unix=str(d / "app.sock")) as srv:
        os.chown(d / "app.sock", owner, owner)
        if owner == NOBODY and mode == 0o755:
            os.chown(d, NOBODY, NOBODY)
        os.chmod(d, mode)
        r = health_unix(deploy, d / "app.sock")
    assert_agent_clean(r, "PASS" if ok else "FAIL")
    if not ok:
        assert r.returncode == 2 and srv.count == 0, r.describe()
        assert f"socket '{d}/app.sock'" in r.verdict, r.describe()


def test_health_unix_socket_of_the_service_user_in_a_root_directory(deploy, tmp_path):
    """Item 10: a service's own socket (owned by its user) passes in a
    directory only root can write: only root could have let it be made."""
    d = tmp_path / "run"
    d.mkdir()
    with Service(unix=str(d / "app.sock")) as srv:
        os.chown(d / "app.sock", NOBODY, NOBODY)
        r = health_unix(deploy, d / "app.sock")
    assert_agent_clean(r, "PASS")
    assert srv.count >= 1


# ---------------------------------------------------------------------------
# item 16: --tag twice, a malformed --instance-id


@pytest.mark.parametrize("args, msg", [
    (["--tag", "Role=a", "--tag", "Role=b"], "the key 'Role' is given twice"),
    (["--instance-id", "i-x"], "--instance-id 'i-x' is not an instance id"),
    (["--instance-id", "i-0123456789ABCDEF0"], "is not an instance id"),
    (["--instance-id", "i-0123456789abcdef"], "is not an instance id"),
])
def test_mark_refuses_a_marker_no_hook_could_pass(mark, args, msg):
    """Item 16: a tag key given twice (a marker every hook refuses as
    malformed) and an instance id not of EC2's form (every hook would wait
    for its own) are refused at once, 64, nothing written or run."""
    r = mark(*args, "--run", "--", "touch", str(mark.marker.parent / "ran"), timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64 and r.elapsed < 2 + SLACK, r.describe()
    assert msg in r.verdict, r.describe()
    assert not mark.marker.parent.exists(), r.describe()


UNSHARE = shutil.which("unshare")
ASSET_TAG = "/sys/devices/virtual/dmi/id/board_asset_tag"


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0,
                    reason="needs unshare -m as root (a private mount of /sys/devices/virtual)")
@pytest.mark.parametrize("given, code", [("i-0123456789abcdef0", 64),
                                         ("i-0aaaaaaaaaaaaaaaa", 0)],
                         ids=["another-instance", "this-instance"])
def test_mark_instance_id_known_from_the_asset_tag(mark, given, code):
    """Item 16: where this instance's id is known without a request (a
    Nitro instance's DMI asset tag, faked here in a private mount
    namespace), --instance-id must be it: another well-formed id is refused
    at once (64), nothing run or written."""
    fake = (f"mount -t tmpfs none /sys/devices/virtual && mkdir -p {Path(ASSET_TAG).parent}"
            f" && echo i-0aaaaaaaaaaaaaaaa > {ASSET_TAG} && exec \"$@\"")
    r = mark("--instance-id", given, "--run", "--", "true",
             wrap=("unshare", "-m", "--", "sh", "-c", fake, "sh"), timeout=30)
    assert r.returncode == code, r.describe()
    if code:
        assert (f"--instance-id '{given}' is not this instance: its DMI asset tag "
                f"('{ASSET_TAG}') says i-0aaaaaaaaaaaaaaaa") in r.verdict, r.describe()
        assert not mark.marker.parent.exists(), r.describe()
    else:
        assert "instance_id = i-0aaaaaaaaaaaaaaaa" in mark.marker.read_text()


# ---------------------------------------------------------------------------
# item 17: after the rename, the truth


@pytest.mark.skipif(STRACE is None, reason="needs strace (fault injection)")
def test_mark_directory_sync_failure_says_the_marker_is_in_place(mark, build, imds):
    """Item 17: the directory's fsync (the second fsync) fails with EIO
    after the rename: cdgate-mark exits 71 saying the marker was written
    and is in place, not that it was not written."""
    r = run_program("strace", ["-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                               "-e", "inject=fsync:error=EIO:when=2",
                               build / "bin" / "cdgate-mark", "-c", mark.ini,
                               "--instance-id", INSTANCE_ID],
                    env=strace_env(imds), timeout=30)
    assert r.returncode == 71, r.describe()
    assert "written (ok for i-0123456789abcdef0) and in place" in r.verdict, r.describe()
    assert "not written" not in r.verdict and "Input/output error" in r.verdict
    assert "status = ok" in mark.marker.read_text()


@pytest.mark.skipif(STRACE is None, reason="needs strace (fault injection)")
def test_mark_sigterm_during_the_directory_sync_says_the_marker_is_in_place(mark, build):
    """Item 17: SIGTERM while the directory is synced (strace holds that
    fsync 3 s): the marker is in place, and the verdict says so."""
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:delay_enter=3000000:when=2",
                          str(build / "bin" / "cdgate-mark"), "-c", str(mark.ini),
                          "--instance-id", INSTANCE_ID],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env={"PATH": os.environ["PATH"], "ASAN_OPTIONS":
                              os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"})
    try:
        wait_for_file(mark.marker)
        kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
        assert len(kids) == 1, kids
        os.kill(int(kids[0]), signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    last = out.decode().rstrip("\n").splitlines()[-1]
    assert p.returncode == 3, out
    assert "after the marker was written (ok for i-0123456789abcdef0)" in last, out
    assert "not written" not in last, out
    assert "status = ok" in mark.marker.read_text()
