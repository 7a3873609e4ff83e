"""The deployment history (issue 4): one JSON line per program run, read
back with json.loads.

Hooks run as the agent runs them (tests/lib/agent.py) against the IMDS
stand-in; the history lives in the test's own directory (mode 0755).
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from lib.agent import SLACK, assert_agent_clean, run_program
from lib.marker import INSTANCE_ID, marker_text, write_marker

DIGEST = "sha256:" + "ab" * 32
BUNDLE = {"bucket": "releases", "key": "shop/v42.zip", "version": "v.42", "etag": "0a1b2c"}


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    return d


def config(state, timeout=8, gate="", checks="lifecycle marker"):
    return (f"[gate]\ntimeout = {timeout}\nhistory = {state}/history.jsonl\n{gate}"
            f"[marker]\npath = {state}/provisioned\n"
            f"[BeforeInstall]\nchecks = {checks}\n")


def lines(path):
    """Every line of a history file, each parsed (a torn line fails here)."""
    if not os.path.exists(path):
        return []
    data = open(path, "rb").read()
    assert data == b"" or data.endswith(b"\n"), "the history ends in a partial line"
    out = []
    for raw in data.split(b"\n")[:-1]:
        assert len(raw) <= 4096, f"line of {len(raw)} bytes"
        out.append(json.loads(raw.decode("utf-8")))
    return out


def only_line(state):
    got = lines(state / "history.jsonl")
    assert len(got) == 1, got
    return got[0]


def verdict_text(r):
    return r.verdict.split(": ", 3)[-1]


def test_pass_run_records_deployment_bundle_and_marker(deploy, imds, state):
    write_marker(state / "provisioned", marker_text(digest=DIGEST,
                                                    finished_at="2026-11-26T02:00:00Z"))
    dep = deploy(config(state), bundle=BUNDLE)
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    e = only_line(state)
    arc = dep.archive
    assert e["program"] == "before-install" and e["event"] == "BeforeInstall"
    assert e["verdict"] == "pass" and e["exit"] == 0
    assert e["reason"] == verdict_text(r)
    assert e["deployment_id"] == arc.deployment_id
    assert e["application_name"] == arc.application_name
    assert e["deployment_group_name"] == arc.deployment_group_name
    assert e["deployment_group_id"] == arc.group_id
    assert (e["bundle_bucket"], e["bundle_key"], e["bundle_version"], e["bundle_etag"]) == \
        ("releases", "shop/v42.zip", "v.42", "0a1b2c")
    assert "bundle_commit" not in e
    assert e["instance_id"] == INSTANCE_ID and e["lifecycle"] == "InService"
    assert e["marker_digest"] == DIGEST
    assert e["marker_finished_at"] == "2026-11-26T02:00:00Z"
    assert e["version"] and isinstance(e["pid"], int)
    assert 0 <= e["duration_ms"] < 5000 + SLACK * 1000
    assert time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
               - time.mktime(time.gmtime())) < 60
    assert os.stat(state / "history.jsonl").st_mode & 0o777 == 0o644


def test_github_bundle_records_the_commit(deploy, imds, state):
    write_marker(state / "provisioned", marker_text())
    r = deploy(config(state), bundle={"commit": "0123456789abcdef"}).run("before-install")
    assert_agent_clean(r, "PASS")
    e = only_line(state)
    assert e["bundle_commit"] == "0123456789abcdef" and "bundle_bucket" not in e


def test_fail_run_records_reason_and_exit_code(deploy, imds, state):
    r = deploy(config(state, timeout=1)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    e = only_line(state)
    assert e["verdict"] == "fail" and e["exit"] == 2 == r.returncode
    assert e["reason"] == verdict_text(r) and "did not appear" in e["reason"]
    assert 900 <= e["duration_ms"] < 5000 + SLACK * 1000
    assert "marker_digest" not in e and "marker_finished_at" not in e


def test_wrong_event_in_appspec_is_recorded_as_a_failed_run(deploy, imds, state):
    """A hook listed under the wrong event fails (64): that failed
    deployment must show in the history, or cdgate-status would still name
    the previous revision as the last one that passed."""
    r = deploy(config(state)).run("before-install", event="AfterInstall", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64
    e = only_line(state)
    assert e["verdict"] == "fail" and e["exit"] == 64
    assert e["event"] == "BeforeInstall" and "LIFECYCLE_EVENT is 'AfterInstall'" in e["reason"]


def test_skip_run_records_skip(deploy, imds, state):
    imds.state.lifecycle_state = "Terminated"
    r = deploy(config(state)).run("before-install", timeout=30)
    assert_agent_clean(r, "SKIP")
    e = only_line(state)
    assert e["verdict"] == "skip" and e["exit"] == 0 and e["lifecycle"] == "Terminated"
    assert "on_terminating = skip" in e["reason"]


def test_sigterm_run_still_gets_its_line(deploy, imds, state):
    # the agent's timeout (2 s) runs out before the gate's (20 s)
    r = deploy(config(state, timeout=20)).run("before-install", timeout=2)
    assert r.timed_out and r.returncode == 3, r.describe()
    e = only_line(state)
    assert e["verdict"] == "fail" and e["exit"] == 3
    assert "SIGTERM" in e["reason"]
    assert 1800 <= e["duration_ms"] < 4000 + SLACK * 1000, e
    assert e["instance_id"] == INSTANCE_ID and e["lifecycle"] == "InService"
    assert e["deployment_id"].startswith("d-")


def test_config_check_mode_records_nothing(deploy, imds, state):
    dep = deploy(config(state))
    r = run_program(dep.hook("before-install"), ["-n"])
    assert r.returncode == 0, r.describe()
    assert lines(state / "history.jsonl") == []


def test_history_none_writes_no_file(deploy, imds, state):
    write_marker(state / "provisioned", marker_text())
    cfg = config(state).replace(f"history = {state}/history.jsonl", "history = none")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert not os.path.exists(state / "history.jsonl")


@pytest.mark.parametrize("bad", ["world-writable-dir", "symlink", "group-writable"])
def test_unwritable_history_keeps_verdict_and_exit_code(deploy, imds, state, tmp_path, bad):
    write_marker(state / "provisioned", marker_text())
    hist = tmp_path / "hist"
    hist.mkdir(mode=0o755)
    target = hist / "history.jsonl"
    if bad == "world-writable-dir":
        os.chmod(hist, 0o777)
    elif bad == "symlink":
        (tmp_path / "elsewhere").write_text("")
        os.symlink(tmp_path / "elsewhere", target)
    else:
        target.write_text("")
        os.chmod(target, 0o664)
    cfg = config(state).replace(f"history = {state}/history.jsonl", f"history = {target}")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    notes = [ln for ln in r.output if "history not recorded" in ln]
    assert len(notes) == 1, r.describe()
    assert r.output.index(notes[0]) == len(r.output) - 2     # just before the verdict
    if bad == "symlink":
        assert (tmp_path / "elsewhere").read_text() == ""
    if bad == "group-writable":
        assert target.read_text() == ""


def test_hostile_environment_values_are_cleaned_and_capped(deploy, imds, state):
    write_marker(state / "provisioned", marker_text())
    nasty = "d-\x1b[31m\"quoted\"\\" + "\u00e9" * 3000
    r = deploy(config(state)).run("before-install", env={"DEPLOYMENT_ID": nasty,
                                                         "BUNDLE_KEY": "k\ty\nz"})
    assert_agent_clean(r, "PASS")
    e = only_line(state)
    assert "\x1b" not in e["deployment_id"] and e["deployment_id"].startswith("d-?[31m\"quoted\"\\")
    assert len(e["deployment_id"].encode()) < 256 and e["deployment_id"].endswith("...")
    assert e["bundle_key"] == "k y z"


def test_rotation_moves_a_full_history_aside(deploy, imds, state):
    write_marker(state / "provisioned", marker_text())
    old = []
    while sum(len(x) + 1 for x in old) < 16384 - 200:   # no room for one more run
        old.append(json.dumps({"time": "2026-01-01T00:00:00Z", "reason": f"old {len(old)}"}))
    (state / "history.jsonl").write_text("\n".join(old) + "\n")
    cfg = config(state, gate="history_max = 16384\n")
    r = deploy(cfg).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert lines(state / "history.jsonl.1") == [json.loads(x) for x in old]
    assert [e["verdict"] for e in lines(state / "history.jsonl")] == ["pass"]
    # the next run appends to the new file: no second rotation
    r = deploy(cfg).run("before-install", timeout=30)
    assert [e["verdict"] for e in lines(state / "history.jsonl")] == ["pass", "pass"]
    assert len(lines(state / "history.jsonl.1")) == len(old)


def test_history_max_below_minimum_is_a_configuration_error(deploy, imds, state):
    r = deploy(config(state, gate="history_max = 100\n")).run("before-install")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and "history_max = '100'" in r.verdict


def test_relative_history_path_is_a_configuration_error(deploy, imds, state):
    cfg = config(state).replace(f"history = {state}/history.jsonl", "history = h.jsonl")
    r = deploy(cfg).run("before-install")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and "absolute path" in r.verdict


def test_50_concurrent_hooks_lose_and_tear_no_line(deploy, imds, state, report):
    write_marker(state / "provisioned", marker_text())
    dep = deploy(config(state, timeout=30))
    ids = [f"d-CONC{i:05d}" for i in range(50)]
    results = {}
    barrier = threading.Barrier(50)

    def one(did):
        barrier.wait()
        results[did] = dep.run("before-install", env={"DEPLOYMENT_ID": did}, timeout=60)

    threads = [threading.Thread(target=one, args=(d,)) for d in ids]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report(f"50 concurrent before-install runs: {time.monotonic() - t0:.1f} s")
    for did, r in results.items():
        assert_agent_clean(r, "PASS")
    got = lines(state / "history.jsonl")
    assert sorted(e["deployment_id"] for e in got) == sorted(ids)
    assert len({e["pid"] for e in got}) == 50


def test_50_concurrent_hooks_across_a_rotation_lose_no_line(deploy, imds, state):
    write_marker(state / "provisioned", marker_text())
    # nearly full: the first writers rotate once, the rest fill the new file
    filler = json.dumps({"reason": "x" * 200}) + "\n"
    (state / "history.jsonl").write_text(filler * (65536 // len(filler) - 1))
    dep = deploy(config(state, timeout=30, gate="history_max = 65536\n"))
    ids = [f"d-ROT{i:06d}" for i in range(50)]
    barrier = threading.Barrier(50)
    results = {}

    def one(did):
        barrier.wait()
        results[did] = dep.run("before-install", env={"DEPLOYMENT_ID": did}, timeout=60)

    threads = [threading.Thread(target=one, args=(d,)) for d in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values())
    assert os.path.exists(state / "history.jsonl.1"), "no rotation happened"
    got = lines(state / "history.jsonl") + lines(state / "history.jsonl.1")
    found = sorted(e["deployment_id"] for e in got if "deployment_id" in e)
    assert found == sorted(ids)
    assert os.path.getsize(state / "history.jsonl") <= 65536


def test_cdgate_wait_and_mark_record_their_runs(build, imds, state, tmp_path):
    cfg = tmp_path / "cdgate.ini"
    cfg.write_text(f"[gate]\ntimeout = 5\nhistory = {state}/history.jsonl\n"
                   f"[marker]\npath = {state}/provisioned\n")
    os.chmod(cfg, 0o644)
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
    r = run_program(build / "bin" / "cdgate-wait", ["-c", cfg, "-t", "1"], env=env)
    assert r.returncode == 2, r.describe()
    r = run_program(build / "bin" / "cdgate-mark", ["-c", cfg, "--tag", "Role=api"], env=env)
    assert r.returncode == 0, r.describe()
    r = run_program(build / "bin" / "cdgate-mark", ["-c", cfg, "--run", "--", "false"], env=env)
    assert r.returncode == 1, r.describe()
    got = lines(state / "history.jsonl")
    assert [(e["program"], e["verdict"], e["exit"]) for e in got] == [
        ("cdgate-wait", "fail", 2), ("cdgate-mark", "pass", 0), ("cdgate-mark", "fail", 1)]
    assert all("event" not in e for e in got)
    assert got[1]["instance_id"] == INSTANCE_ID and got[1]["marker_finished_at"]
    assert "provisioning failed" in got[2]["reason"]
