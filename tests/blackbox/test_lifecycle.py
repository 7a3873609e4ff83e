"""The Auto Scaling lifecycle check and watch (issue 4), run as the agent runs
hooks, against the IMDS stand-in.

Policy under test (src/checks/lifecycle.h): 404 and InService run the checks;
Terminated and Warmed:Terminated follow on_terminating (skip by default);
Standby, Detached and Warmed:* follow on_standby, on_detached, on_warmed
(check by default).  A change of state during any wait ends the run within
3 s when the policy says skip or fail (measured from the flip).
"""

from __future__ import annotations

import threading
import time

import pytest

from lib.agent import SLACK, assert_agent_clean
from lib.marker import marker_text, provision, state_config, write_marker

FLIP_LIMIT = 3.0        # seconds from the flip to the hook's exit (the promise; SLACK
                        # only under ASan or valgrind, 0 for the plain build)


def config(tmp_path, timeout=8, gate="", event="[BeforeInstall]\nchecks = lifecycle marker\n"):
    return state_config(tmp_path, timeout, gate, event)


def run_async(dep, program="before-install", **kw):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", dep.run(program, **kw)))
    t.start()
    return t, box


def flip_during(dep, imds, delay=1.7, to="Terminated"):
    """Run before-install, change the state `delay` seconds after the start,
    and not before the hook has read the first state (a flip before that is
    the state at the start, another test); returns the result and the
    seconds from the change to the hook's exit."""
    start = time.monotonic()
    t, box = run_async(dep, timeout=60)
    dep.wait_output("lifecycle: target state InService")
    time.sleep(max(0.0, start + delay - time.monotonic()))
    imds.state.lifecycle_state = to
    flipped = time.monotonic()
    t.join()
    r = box["r"]
    return r, r.exit_monotonic - flipped


# -- the state at the start ----------------------------------------------


def test_not_in_a_group_404_runs_the_checks(deploy, imds, tmp_path):
    imds.state.lifecycle_state = None
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("not in an Auto Scaling group" in ln for ln in r.output), r.describe()
    assert "marker ok" in r.verdict


def test_in_service_runs_the_checks(deploy, imds, tmp_path):
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert "lifecycle InService" in r.verdict and "marker ok" in r.verdict


def test_in_service_without_marker_waits_then_times_out(deploy, imds, tmp_path):
    r = deploy(config(tmp_path, timeout=2)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2 and "did not appear within 2s" in r.verdict


@pytest.mark.parametrize("state", ["Terminated", "Warmed:Terminated"])
def test_terminated_skips_at_once_by_default(deploy, imds, tmp_path, state):
    imds.state.lifecycle_state = state
    r = deploy(config(tmp_path, timeout=20)).run("before-install", timeout=30)
    assert_agent_clean(r, "SKIP")
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r.describe()
    assert "leaving" in r.verdict and f"state {state})" in r.verdict
    assert "on_terminating = skip" in r.verdict


def test_terminated_fails_at_once_with_on_terminating_fail(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "Terminated"
    cfg = config(tmp_path, timeout=20, gate="on_terminating = fail\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and r.elapsed < 2 + SLACK, r.describe()
    assert "on_terminating = fail" in r.verdict


def test_event_section_on_terminating_overrides_gate(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "Terminated"
    cfg = config(tmp_path, timeout=20, event="[BeforeInstall]\nchecks = lifecycle marker\n"
                 "on_terminating = fail\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1


STATES = [("Standby", "on_standby"), ("Detached", "on_detached"),
          ("Warmed:Stopped", "on_warmed"), ("Warmed:Running", "on_warmed"),
          ("Warmed:Hibernated", "on_warmed")]


@pytest.mark.parametrize("state,key", STATES)
def test_standby_detached_warmed_run_the_checks_by_default(deploy, imds, tmp_path, state, key):
    imds.state.lifecycle_state = state
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any(f"{key} = check" in ln for ln in r.output), r.describe()
    assert f"lifecycle {state}" in r.verdict


@pytest.mark.parametrize("state,key", STATES)
def test_standby_detached_warmed_default_still_waits_for_the_marker(deploy, imds, tmp_path,
                                                                     state, key):
    imds.state.lifecycle_state = state
    r = deploy(config(tmp_path, timeout=2)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2 and "marker" in r.verdict


@pytest.mark.parametrize("state,key", STATES)
@pytest.mark.parametrize("policy,word,code", [("skip", "SKIP", 0), ("fail", "FAIL", 1)])
def test_standby_detached_warmed_policy_skip_or_fail(deploy, imds, tmp_path, state, key,
                                                      policy, word, code):
    imds.state.lifecycle_state = state
    r = deploy(config(tmp_path, timeout=20, gate=f"{key} = {policy}\n")).run(
        "before-install", timeout=30)
    assert_agent_clean(r, word)
    assert r.returncode == code and r.elapsed < 2 + SLACK, r.describe()
    assert f"{key} = {policy}" in r.verdict and f"state {state})" in r.verdict


def test_on_warmed_does_not_apply_to_warmed_terminated(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "Warmed:Terminated"
    cfg = config(tmp_path, timeout=20, gate="on_warmed = fail\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "SKIP")
    assert "on_terminating = skip" in r.verdict


def test_unknown_state_runs_the_checks_and_says_so(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "Pending:Proceed"
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("unknown to cdgate" in ln for ln in r.output), r.describe()


def test_malformed_state_fails_closed(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "In Service"
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert "malformed lifecycle state" in r.verdict


def test_imds_no_skips_the_lifecycle_check(deploy, imds, tmp_path):
    imds.state.lifecycle_state = "Terminated"
    provision(tmp_path)
    cfg = config(tmp_path, gate="imds = no\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert "lifecycle not checked (imds = no)" in r.verdict
    assert imds.count("meta-data/autoscaling/target-lifecycle-state") == 0


@pytest.mark.parametrize("key,value", [("on_standby", "pass"), ("on_detached", "yes"),
                                       ("on_warmed", ""), ("on_standby", "SKIP")])
def test_bad_policy_value_is_a_configuration_error(deploy, imds, tmp_path, key, value):
    cfg = config(tmp_path, gate=f"{key} = {value}\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78
    assert "cdgate.ini:4" in r.verdict and "expected check, skip or fail" in r.verdict


# -- a change of state during a wait -------------------------------------


@pytest.mark.parametrize("delay", [0.4, 1.3, 2.6])
def test_flip_to_terminated_during_marker_wait_ends_within_3s(deploy, imds, tmp_path,
                                                               report, delay):
    r, after = flip_during(deploy(config(tmp_path, timeout=30)), imds, delay)
    assert_agent_clean(r, "SKIP")
    report(f"Terminated flip (at {delay}s) -> before-install exit: {after * 1000:.0f} ms")
    assert after < FLIP_LIMIT + SLACK, r.describe()
    assert any("target state now Terminated" in ln for ln in r.output), r.describe()
    assert "leaving" in r.verdict


def test_flip_to_terminated_with_fail_policy_fails_within_3s(deploy, imds, tmp_path):
    dep = deploy(config(tmp_path, timeout=30, gate="on_terminating = fail\n"))
    r, after = flip_during(dep, imds, 1.0)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and after < FLIP_LIMIT + SLACK, r.describe()


def test_flip_to_standby_with_skip_policy_ends_the_wait(deploy, imds, tmp_path):
    dep = deploy(config(tmp_path, timeout=30, gate="on_standby = skip\n"))
    r, after = flip_during(dep, imds, 1.0, to="Standby")
    assert_agent_clean(r, "SKIP")
    assert after < FLIP_LIMIT + SLACK, r.describe()
    assert "on_standby = skip" in r.verdict


def test_flip_after_failed_re_reads_ends_within_3s(deploy, imds, tmp_path, report):
    """The watch's re-reads fail for a while (IMDS answers 500), then IMDS
    answers again, with Terminated: a failed read is tried again soon, so
    the run still ends within 3 s of the answer."""
    dep = deploy(config(tmp_path, timeout=30))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("lifecycle: target state InService")
    fault = imds.state.add_fault("status", match="*target-lifecycle-state", status=500)
    time.sleep(2.5)                     # the read at 1.5 s fails
    imds.state.lifecycle_state = "Terminated"
    imds.state.clear_faults()
    answered = time.monotonic()
    t.join()
    r = box["r"]
    after = r.exit_monotonic - answered
    assert_agent_clean(r, "SKIP")
    assert fault.hits >= 1, "no re-read failed"
    report(f"Terminated flip after failed re-reads -> before-install exit: "
           f"{after * 1000:.0f} ms")
    assert 0 < after < FLIP_LIMIT + SLACK, r.describe()
    assert "leaving" in r.verdict, r.describe()


def test_flip_to_standby_by_default_keeps_waiting(deploy, imds, tmp_path):
    dep = deploy(config(tmp_path, timeout=6))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")          # InService read at the start
    imds.state.lifecycle_state = "Standby"
    dep.wait_output("target state now Standby")
    # right after a watch read, well before the next (every 1.5 s): the
    # exit does not wait for one
    written = write_marker(tmp_path / "state" / "provisioned", marker_text())
    t.join()
    r = box["r"]
    assert_agent_clean(r, "PASS")
    assert any("target state now Standby" in ln for ln in r.output), r.describe()
    # the end of the run wakes the watch: it does not hold the exit up
    assert r.exit_monotonic - written < 0.5 + SLACK, r.describe()


def test_lifecycle_state_is_re_read_while_waiting(deploy, imds, tmp_path):
    r = deploy(config(tmp_path, timeout=4)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    reads = imds.count("meta-data/autoscaling/target-lifecycle-state")
    # one at the start, then one every 1.5 s of the 4 s wait
    assert 3 <= reads <= 5, reads
    # the watch shares the run's token: still one token for the whole run
    assert imds.count("/latest/api/token", "PUT") == 1


def test_unreadable_state_during_a_wait_does_not_end_it(deploy, imds, tmp_path):
    dep = deploy(config(tmp_path, timeout=30))
    t, box = run_async(dep, timeout=60)
    dep.wait_output("marker: waiting")          # the first read was good
    imds.state.items = {"meta-data/autoscaling/target-lifecycle-state": "bad state"}
    time.sleep(2.0)
    imds.state.items = {}
    write_marker(tmp_path / "state" / "provisioned", marker_text())
    t.join()
    r = box["r"]
    assert_agent_clean(r, "PASS")


# -- the same during the tags and health waits ----------------------------


class HealthEndpoint:
    """A loopback HTTP endpoint answering 503, or reading and never answering
    (hang), until stopped."""

    def __init__(self, hang=False):
        import socket
        self.hang = hang
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/health"

    def _serve(self):
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)
            try:
                c.settimeout(2)
                c.recv(4096)
                if not self.hang:
                    c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                              b"Connection: close\r\n\r\nbusy")
                    c.close()
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


TAGS_EVENT = "[BeforeInstall]\nchecks = lifecycle tags\n"
HEALTH_EVENT = "[BeforeInstall]\nchecks = lifecycle health\n"


def test_flip_during_tags_wait_ends_within_3s(deploy, imds, ec2, tmp_path, report):
    # EC2 shows Role=api, the gate wants web: it polls DescribeTags
    cfg = config(tmp_path, timeout=30, event=TAGS_EVENT).replace(
        "[marker]", "[tags]\nsource = ec2\nRole = web\n[marker]")
    r, after = flip_during(deploy(cfg), imds)
    assert_agent_clean(r, "SKIP")
    report(f"Terminated flip during the tags wait -> exit: {after * 1000:.0f} ms")
    assert after < FLIP_LIMIT + SLACK, r.describe()
    assert ec2.requests(action="DescribeTags"), "the tags wait never asked EC2"


def test_flip_during_hanging_ec2_request_ends_within_3s(deploy, imds, ec2, tmp_path):
    ec2.state.hang("DescribeTags")
    cfg = config(tmp_path, timeout=30, event=TAGS_EVENT).replace(
        "[marker]", "[tags]\nsource = ec2\nRole = api\n[marker]")
    r, after = flip_during(deploy(cfg), imds)
    assert_agent_clean(r, "SKIP")
    assert after < FLIP_LIMIT + SLACK, r.describe()
    assert ec2.requests(action="DescribeTags", status=None), "no request hung"


@pytest.mark.parametrize("hang", [False, True], ids=["503", "hanging"])
def test_flip_during_health_wait_ends_within_3s(deploy, imds, tmp_path, report, hang):
    ep = HealthEndpoint(hang=hang)
    try:
        cfg = config(tmp_path, timeout=30, event=HEALTH_EVENT).replace(
            "[marker]", f"[health]\nurl = {ep.url}\n[marker]")
        r, after = flip_during(deploy(cfg), imds)
    finally:
        ep.stop()
    assert_agent_clean(r, "SKIP")
    report(f"Terminated flip during the health wait ({'hanging' if hang else '503'})"
           f" -> exit: {after * 1000:.0f} ms")
    assert after < FLIP_LIMIT + SLACK, r.describe()
    assert any("health:" in ln for ln in r.output), r.describe()


# -- the same during the cloud-init wait ----------------------------------


def cloud_init_event(tmp_path):
    """[marker] lines (they follow config()'s path line) asking for a
    cloud-init result.json that never appears, then the event's checks."""
    ci = tmp_path / "cloud-init"
    ci.mkdir(mode=0o755, exist_ok=True)
    return (f"cloud_init = yes\ncloud_init_result = {ci}/result.json\n"
            f"cloud_init_status = {ci}/status.json\n"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


@pytest.mark.parametrize("delay", [0.8, 2.3])
def test_flip_during_cloud_init_wait_ends_within_3s(deploy, imds, tmp_path, report, delay):
    provision(tmp_path)                 # a valid marker: only cloud-init is missing
    cfg = config(tmp_path, timeout=30, gate="on_terminating = skip\n",
                 event=cloud_init_event(tmp_path))
    r, after = flip_during(deploy(cfg), imds, delay)
    assert_agent_clean(r, "SKIP")
    assert r.returncode == 0, r.describe()
    report(f"Terminated flip (at {delay}s) during the cloud-init wait -> exit: "
           f"{after * 1000:.0f} ms")
    assert 0 < after < FLIP_LIMIT + SLACK, r.describe()
    assert any("cloud-init: waiting" in ln for ln in r.output), r.describe()
    assert any("target state now Terminated" in ln for ln in r.output), r.describe()
    assert "leaving" in r.verdict and "on_terminating = skip" in r.verdict, r.describe()
    assert not (tmp_path / "cloud-init" / "result.json").exists()


def test_flip_during_cloud_init_wait_with_fail_policy_fails_within_3s(deploy, imds,
                                                                      tmp_path):
    provision(tmp_path)
    cfg = config(tmp_path, timeout=30, gate="on_terminating = fail\n",
                 event=cloud_init_event(tmp_path))
    r, after = flip_during(deploy(cfg), imds, 1.0)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and 0 < after < FLIP_LIMIT + SLACK, r.describe()
    assert any("cloud-init: waiting" in ln for ln in r.output), r.describe()
    assert "on_terminating = fail" in r.verdict, r.describe()
