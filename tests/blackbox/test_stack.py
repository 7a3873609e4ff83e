"""Every program under `ulimit -s 128` and a tight address space.

No function frame of the programs is over 4 KiB (the Makefile builds src/,
bin/ and hooks/ with -Wframe-larger-than=4096): large buffers live on the
heap.  Here each of the 13 programs (the nine hooks, cdgate-mark,
cdgate-status, cdgate-tag and cdgate-wait) runs a real scenario to its
normal verdict with a 128 KiB stack (the main thread's, and the default of
every thread it starts: glibc sizes thread stacks from RLIMIT_STACK) and
with RLIMIT_AS at about three times what the program needs.  A frame too
large for the stack ends the program with SIGSEGV; an allocation the limit
refuses must end in the program's own out-of-memory verdict (71), which no
scenario here expects.

The limits are set by a shell that then execs the program in place (the
runner's `wrap`), so the program's argv, environment and pipes are the
agent's.

AS_KB, measured with CDGATE_TEST_AS_KB: every scenario here reached its
verdict with RLIMIT_AS at 21 MiB, most of it the shared libraries (libcurl,
OpenSSL and theirs); at 20 MiB some end in their own "out of memory"
verdict, and at 19 MiB the dynamic loader cannot map them all.  AS_KB is
three times that, 64 MiB: too little for glibc to reserve a thread's 64 MiB
malloc arena (the lifecycle watcher, the name lookup), which is no error:
malloc then shares the main arena.

Under AddressSanitizer (tests/lib/agent.py SANITIZED) only the stack limit
applies: ASan reserves terabytes of shadow address space at start (and its
allocator needs more besides), so any RLIMIT_AS that means something for
the program stops ASan itself before main.  Under valgrind
(CDGATE_WRAP=valgrind) the module is skipped: memcheck runs the program on
its own stack and address space, so the limits would measure valgrind.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from lib.agent import SANITIZED, SLACK, WRAP, assert_agent_clean, run_program
from lib.marker import INSTANCE_ID, marker_text, write_marker
from standin.service import Service

pytestmark = pytest.mark.skipif(
    WRAP == "valgrind", reason="valgrind runs the program on its own stack "
    "and address space: the limits would apply to memcheck")

STACK_KB = 128
# three times what the scenarios need (module docstring); the override is
# for measuring that again: CDGATE_TEST_AS_KB=N pytest blackbox/test_stack.py
AS_KB = int(os.environ.get("CDGATE_TEST_AS_KB", 64 * 1024))
LIMITS_FAILED = 125     # the shell could not set a limit

LIFECYCLE_HOOKS = ("application-stop", "after-install", "application-start",
                   "before-block-traffic", "after-allow-traffic")


def limits() -> list:
    """The wrap: a shell that sets the limits and execs the program."""
    script = f"ulimit -s {STACK_KB} || exit {LIMITS_FAILED}; "
    if not SANITIZED:
        script += f"ulimit -v {AS_KB} || exit {LIMITS_FAILED}; "
    return ["/bin/sh", "-c", script + 'exec "$@"', "limits"]


def assert_survived(r) -> None:
    """Not killed (SIGSEGV: a frame over the stack), the limits were set."""
    if r.signal is not None:
        name = signal.Signals(r.signal).name
        raise AssertionError(
            f"killed by {name} under ulimit -s {STACK_KB}"
            f"{'' if SANITIZED else f' / ulimit -v {AS_KB}'}"
            f"{': a stack frame too large (-Wframe-larger-than=4096)' if name == 'SIGSEGV' else ''}"
            f"\n{r.describe()}")
    assert r.returncode != LIMITS_FAILED, "the shell could not set the limits\n" + r.describe()
    assert r.returncode != 71, "out of memory under the limits\n" + r.describe()


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    return d


@pytest.fixture
def service():
    srv = Service().start()
    yield srv
    srv.stop()


def gate_config(state, timeout=10, extra=""):
    return (f"[gate]\ntimeout = {timeout}\nhistory = {state}/history.jsonl\n"
            f"[marker]\npath = {state}/provisioned\n"
            f"[tags]\nRole = api\n{extra}")


def hook(deploy, program, config, timeout=60):
    r = deploy(config).run(program, timeout=timeout, wrap=limits())
    assert_survived(r)
    return r


# -- the hooks ---------------------------------------------------------------


@pytest.mark.parametrize("program", LIFECYCLE_HOOKS)
def test_lifecycle_hooks_pass(deploy, state, imds, program):
    r = hook(deploy, program, gate_config(state))
    assert_agent_clean(r, "PASS")


def test_before_install_passes_with_a_marker(deploy, state, imds):
    write_marker(state / "provisioned", marker_text(tags={"Role": "api"}))
    r = hook(deploy, "before-install", gate_config(state))
    assert_agent_clean(r, "PASS")
    assert "marker ok" in r.verdict and "tags ok" in r.verdict, r


def test_before_install_fails_at_its_deadline_without_a_marker(deploy, state, imds):
    r = hook(deploy, "before-install", gate_config(state, timeout=2))
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r
    assert f"{state}/provisioned" in r.verdict and "did not appear within 2s" in r.verdict, r
    assert 1.9 <= r.elapsed < 4 + SLACK, r


def test_validate_service_health_passes(deploy, state, imds, service):
    service.set("ok", body='{"status": "ready"}')
    r = hook(deploy, "validate-service", gate_config(
        state, extra=f"[health]\nurl = {service.url}\nbody = \"ready\"\n"))
    assert_agent_clean(r, "PASS")
    assert "health ok" in r.verdict, r


def test_after_block_traffic_drain_passes(deploy, state, imds, refused_port):
    r = hook(deploy, "after-block-traffic", gate_config(
        state, extra=f"[drain]\nports = {refused_port}\n"))
    assert_agent_clean(r, "PASS")
    assert "drain" in r.verdict, r


def test_before_allow_traffic_passes_marker_tags_health(deploy, state, imds, service):
    write_marker(state / "provisioned", marker_text(tags={"Role": "api"}))
    r = hook(deploy, "before-allow-traffic", gate_config(
        state, extra=f"[health]\nurl = {service.url}\n"))
    assert_agent_clean(r, "PASS")
    assert "marker ok" in r.verdict and "health ok" in r.verdict, r


# -- the helpers -------------------------------------------------------------


@pytest.fixture
def helper(build, imds, ec2, state, tmp_path):
    """helper(name, *args, env=None, timeout=30): bin/NAME -c cdgate.ini
    under the limits, against the stand-ins."""
    ini = tmp_path / "cdgate.ini"
    ini.write_text(gate_config(state))
    os.chmod(ini, 0o644)

    def run(name, *args, env=None, timeout=30):
        e = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": "us-east-1",
             "AWS_ENDPOINT_URL_EC2": ec2.url, **(env or {})}
        r = run_program(build / "bin" / name, ["-c", str(ini), *args], env=e,
                        timeout=timeout, wrap=limits())
        assert_survived(r)
        return r
    return run


def test_cdgate_mark_runs_the_command_and_writes_the_marker(helper, state, tmp_path):
    code = tmp_path / "code"
    (code / "sub").mkdir(parents=True)
    (code / "sub" / "file").write_text("x" * 100000)
    os.symlink("sub/file", code / "link")
    r = helper("cdgate-mark", "--tag", "Role=api", "--digest", str(code),
               "--run", "--", "/bin/sh", "-c", "echo provisioning; echo done")
    assert_agent_clean(r, "PASS")
    assert f"marker '{state}/provisioned' written: ok for {INSTANCE_ID}" in r.verdict, r
    assert "provisioning" in r.output and "done" in r.output, r
    text = (state / "provisioned").read_text()
    assert "status = ok" in text and "digest = sha256:" in text and "Role = api" in text


def test_cdgate_status_prints_its_report(helper, state):
    write_marker(state / "provisioned", marker_text(tags={"Role": "api"}))
    (state / "history.jsonl").write_text(json.dumps({
        "time": "2026-11-26T02:00:00Z", "program": "before-install",
        "event": "BeforeInstall", "verdict": "pass", "exit": 0, "reason": "ok",
        "duration_ms": 1200, "deployment_id": "d-ABCDEFGHI",
        "application_name": "shop", "deployment_group_name": "prod"}) + "\n")
    r = helper("cdgate-status")
    assert r.returncode == 0, r
    out = r.stdout.splitlines()
    assert f"instance: {INSTANCE_ID}" in out, r
    assert any(ln.startswith(f"marker: '{state}/provisioned' valid; status ok") for ln in out), r
    assert "lifecycle: target state InService: hooks run their checks" in out, r
    assert "notices: scheduled events: none" in out, r
    assert any(ln.startswith("last passed: d-ABCDEFGHI") for ln in out), r
    j = helper("cdgate-status", "--json")
    assert j.returncode == 0, j
    doc = json.loads(j.stdout)
    assert doc["marker"]["valid"] is True and doc["instance"]["id"] == INSTANCE_ID


def test_cdgate_tag_tags_the_instance(helper, ec2):
    r = helper("cdgate-tag", "Tier=web", env={"CDGATE_TEST_BACKOFF_MS": "20"})
    assert_agent_clean(r, "PASS")
    assert f"tagged {INSTANCE_ID}: Tier=web" in r.verdict, r
    assert ec2.state.latest_tags(INSTANCE_ID)["Tier"] == "web"


def test_cdgate_wait_passes_when_the_marker_appears(helper, state):
    box = {}

    def wait():
        try:
            box["r"] = helper("cdgate-wait", "-t", "20")
        except AssertionError as e:     # assert_survived: raised here
            box["e"] = e
    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.8)
    write_marker(state / "provisioned", marker_text(tags={"Role": "api"}))
    t.join()
    if "e" in box:
        raise box["e"]
    r = box["r"]
    assert r.returncode == 0, r
    assert r.output[-1].startswith("cdgate: cdgate-wait: PASS:"), r


def test_cdgate_wait_times_out(helper, state):
    r = helper("cdgate-wait", "-t", "1")
    assert r.returncode == 2, r
    assert f"{state}/provisioned" in r.output[-1], r
