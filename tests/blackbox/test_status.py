"""cdgate-status (issue 4): this instance's provisioning, lifecycle state and
deployment history, as text and as JSON (parsed with json.loads)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from lib.agent import SLACK, assert_agent_clean, run_program
from lib.marker import INSTANCE_ID, marker_text, write_marker

DIGEST = "sha256:" + "cd" * 32
BUNDLE = {"bucket": "releases", "key": "shop/v42.zip", "version": "v.42", "etag": "0a1b2c"}


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    return d


def ini_text(state, gate="", marker=""):
    return (f"[gate]\ntimeout = 8\nhistory = {state}/history.jsonl\n{gate}"
            f"[marker]\npath = {state}/provisioned\n{marker}"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


@pytest.fixture
def ini(state, tmp_path):
    def make(gate="", marker=""):
        p = tmp_path / "cdgate.ini"
        p.write_text(ini_text(state, gate, marker))
        os.chmod(p, 0o644)
        return p
    return make


def status(build, imds, cfg, *args, env=None):
    e = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
    e.update(env or {})
    return run_program(build / "bin" / "cdgate-status", ["-c", cfg, *args], env=e, timeout=30)


def as_json(r):
    assert r.returncode == 0, r.describe()
    return json.loads(r.stdout)


def history(state, entries):
    with open(state / "history.jsonl", "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")


def entry(dep, verdict, event="BeforeInstall", when="2026-11-26T02:00:00Z", **kw):
    return {"time": when, "program": "x", "event": event, "verdict": verdict,
            "exit": 0 if verdict != "fail" else 1, "reason": f"{dep} {verdict}",
            "duration_ms": 1200, "deployment_id": dep, "application_name": "shop",
            "deployment_group_name": "shop-prod", **kw}


def test_after_a_passed_deployment_text_answers_with_the_revision(deploy, build, imds, state,
                                                                 ini):
    write_marker(state / "provisioned", marker_text(digest=DIGEST, tags={"Role": "api"}))
    dep = deploy(ini_text(state), bundle=BUNDLE)
    assert_agent_clean(dep.run("before-install", timeout=30), "PASS")
    r = status(build, imds, ini())
    assert r.returncode == 0, r.describe()
    out = r.stdout.splitlines()
    assert out[0].startswith("cdgate-status ")
    assert f"instance: {INSTANCE_ID}" in out
    assert any(ln.startswith(f"marker: '{state}/provisioned' valid; status ok") and DIGEST in ln
               and "tags Role=api" in ln for ln in out), r.stdout
    assert "cloud-init: not checked ([marker] cloud_init = no)" in out
    assert "lifecycle: target state InService: hooks run their checks" in out
    arc = dep.archive
    want = (f"last passed: {arc.deployment_id} ({arc.application_name}/"
            f"{arc.deployment_group_name}, bundle s3://releases/shop/v42.zip version v.42 "
            f"etag 0a1b2c) at ")
    assert out[-1].startswith(want), r.stdout
    assert any("BeforeInstall pass" in ln for ln in out)
    assert all(len(ln.encode()) < 1000 for ln in out)


def test_json_is_one_object_with_every_part(deploy, build, imds, state, ini):
    write_marker(state / "provisioned", marker_text(digest=DIGEST))
    dep = deploy(ini_text(state), bundle=BUNDLE)
    assert_agent_clean(dep.run("before-install", timeout=30), "PASS")
    j = as_json(status(build, imds, ini(), "--json"))
    assert j["instance"] == {"id": INSTANCE_ID}
    m = j["marker"]
    assert m["present"] is True and m["valid"] is True and m["reason"] is None
    assert m["status"] == "ok" and m["instance_id"] == INSTANCE_ID and m["digest"] == DIGEST
    assert j["cloud_init"] == {"configured": False}
    lc = j["lifecycle"]
    assert lc["checked"] is True and lc["in_group"] is True and lc["state"] == "InService"
    assert lc["action"] == "check"
    h = j["history"]
    assert h["enabled"] is True and h["path"] == f"{state}/history.jsonl"
    assert h["skipped_lines"] == 0 and len(h["entries"]) == 1
    lp = j["last_passed"]
    assert lp["deployment_id"] == dep.archive.deployment_id and lp["bundle_etag"] == "0a1b2c"


def test_last_limits_the_entries(build, imds, state, ini):
    history(state, [entry(f"d-{i:09d}", "pass") for i in range(30)])
    j = as_json(status(build, imds, ini(), "--json", "-l", "3"))
    assert [e["deployment_id"] for e in j["history"]["entries"]] == \
        ["d-000000027", "d-000000028", "d-000000029"]
    r = status(build, imds, ini(), "-l", "3")
    assert sum(" BeforeInstall pass " in ln for ln in r.stdout.splitlines()) == 3
    j = as_json(status(build, imds, ini(), "--json", "--last", "5"))
    assert len(j["history"]["entries"]) == 5
    assert len(as_json(status(build, imds, ini(), "--json"))["history"]["entries"]) == 10


def imds_requests(imds) -> int:
    return sum(imds.counts.values())


def test_check_mode_prints_the_plan_without_contacting_imds(build, imds, state, ini):
    cfg = ini()
    # a report does ask instance metadata: the count below can move
    as_json(status(build, imds, cfg, "--json"))
    assert imds_requests(imds) > 0
    imds.reset()
    r = status(build, imds, cfg, "-n")
    assert r.returncode == 0, r.describe()
    out = r.output
    assert out[0].startswith("cdgate: cdgate-status: cdgate-status ") and \
        out[0].endswith(f", config '{cfg}'"), r.output
    assert f"cdgate: cdgate-status: marker: '{state}/provisioned'" in out
    assert f"cdgate: cdgate-status: history: '{state}/history.jsonl', last 10 runs" in out
    assert "cdgate: cdgate-status: cloud-init: not consulted ([marker] cloud_init = no)" in out
    assert any(ln.startswith("cdgate: cdgate-status: instance metadata: would be consulted "
                             f"at '{imds.url.rstrip('/')}'") for ln in out), r.output
    assert out[-1].startswith("cdgate: cdgate-status: PASS: configuration is valid (check mode")
    assert imds_requests(imds) == 0 and not imds.log
    # no report: no history line and no marker verdict were read
    assert not any("last passed" in ln or "instance: " in ln for ln in out)


def test_check_mode_returns_at_once_with_metadata_unreachable(build, state, ini):
    """-n with nothing listening on instance metadata: exit 0 at once, with
    the configuration used and the deadline a report would have."""
    cfg = ini()
    r = run_program(build / "bin" / "cdgate-status", ["-c", cfg, "-n"],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"}, timeout=10)
    assert r.returncode == 0 and not r.timed_out, r.describe()
    assert r.elapsed < 2 + SLACK, r.describe()
    assert r.output[0].endswith(f", config '{cfg}'"), r.describe()
    assert ("cdgate: cdgate-status: instance metadata: would be consulted at "
            "'http://127.0.0.1:9' for the instance id, the lifecycle state and EC2's notices "
            "(deadline 2s)"
            ) in r.output, r.describe()
    assert r.output[-1].startswith("cdgate: cdgate-status: PASS: configuration is valid")


def test_check_mode_shows_what_is_off(build, imds, state, ini, tmp_path):
    cfg = ini(gate="imds = no\n", marker=f"cloud_init = yes\ncloud_init_result = "
              f"{tmp_path}/r.json\ncloud_init_status = {tmp_path}/s.json\n")
    cfg.write_text(cfg.read_text().replace(f"history = {state}/history.jsonl",
                                           "history = none"))
    r = status(build, imds, cfg, "-n", "-l", "4")
    assert r.returncode == 0, r.describe()
    out = r.output
    assert "cdgate: cdgate-status: history: off ([gate] history = none)" in out
    assert (f"cdgate: cdgate-status: cloud-init: would be consulted ('{tmp_path}/r.json', "
            f"'{tmp_path}/s.json')") in out
    assert "cdgate: cdgate-status: instance metadata: not consulted ([gate] imds = no)" in out
    assert imds_requests(imds) == 0


def test_check_mode_with_built_in_defaults(build, imds, tmp_path):
    # a copy with no cdgate.ini beside it or in its parent directory
    (tmp_path / "opt" / "bin").mkdir(parents=True)
    prog = tmp_path / "opt" / "bin" / "cdgate-status"
    shutil.copy(build / "bin" / "cdgate-status", prog)
    r = run_program(prog, ["-n"], env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url},
                    timeout=30)
    assert r.returncode == 0, r.describe()
    etc = Path("/etc/cdgate/cdgate.ini")
    want = f"config '{etc}'" if etc.exists() else "config built-in defaults (no cdgate.ini found)"
    assert r.output[0].endswith(want), r.describe()
    if not etc.exists():
        assert "cdgate: cdgate-status: marker: '/var/lib/cdgate/provisioned'" in r.output
        assert ("cdgate: cdgate-status: history: '/var/lib/cdgate/history.jsonl', last 10 runs"
                in r.output)
    assert imds_requests(imds) == 0


def test_check_mode_with_a_bad_config_is_exit_78(build, imds, tmp_path):
    p = tmp_path / "bad.ini"
    p.write_text("[gate]\nbogus = 1\n")
    os.chmod(p, 0o644)
    r = status(build, imds, p, "-n")
    assert r.returncode == 78, r.describe()
    assert r.output[-1].startswith("cdgate: cdgate-status: FAIL: ") and "bad.ini:2" in r.output[-1]
    assert imds_requests(imds) == 0


def test_last_passed_skips_a_deployment_that_failed_later(build, imds, state, ini):
    history(state, [entry("d-OLD000001", "pass", when="2026-11-26T01:00:00Z"),
                    entry("d-NEW000002", "pass"),
                    entry("d-NEW000002", "fail", event="BeforeAllowTraffic"),
                    entry("d-SKIP00003", "skip"),
                    {**entry("d-WAIT00004", "pass"), "event": None}])
    j = as_json(status(build, imds, ini(), "--json"))
    assert j["last_passed"]["deployment_id"] == "d-OLD000001"
    r = status(build, imds, ini())
    assert r.stdout.splitlines()[-1] == \
        "last passed: d-OLD000001 (shop/shop-prod) at 2026-11-26T01:00:00Z"


def test_last_passed_ignores_hooks_that_ran_the_previous_revision(build, imds, state, ini):
    """ApplicationStop and the BlockTraffic events run the previous
    revision's scripts under the new DEPLOYMENT_ID (docs/dev/agent.md): their
    passes
    do not mean the new revision passed the gate."""
    history(state, [entry("d-OLD000001", "pass", when="2026-11-26T01:00:00Z"),
                    entry("d-OLD000001", "pass", event="BeforeAllowTraffic",
                          when="2026-11-26T01:01:00Z"),
                    entry("d-NEW000002", "pass", event="ApplicationStop"),
                    entry("d-NEW000002", "pass", event="BeforeBlockTraffic"),
                    entry("d-NEW000002", "pass", event="AfterBlockTraffic")])
    j = as_json(status(build, imds, ini(), "--json"))
    assert j["last_passed"]["deployment_id"] == "d-OLD000001"
    assert j["last_passed"]["event"] == "BeforeAllowTraffic"
    # once a hook of the new revision passes, it is the one
    history(state, [entry("d-OLD000001", "pass", when="2026-11-26T01:00:00Z"),
                    entry("d-NEW000002", "pass", event="AfterBlockTraffic"),
                    entry("d-NEW000002", "pass", event="BeforeInstall")])
    assert as_json(status(build, imds, ini(), "--json"))["last_passed"]["deployment_id"] \
        == "d-NEW000002"


def test_no_passed_deployment_says_none(build, imds, state, ini):
    history(state, [entry("d-FAIL00001", "fail")])
    assert as_json(status(build, imds, ini(), "--json"))["last_passed"] is None
    assert status(build, imds, ini()).stdout.splitlines()[-1] == "last passed: none in the history"


def test_garbage_and_torn_lines_are_skipped_and_counted(build, imds, state, ini):
    history(state, [entry("d-GOOD00001", "pass")])
    with open(state / "history.jsonl", "ab") as f:
        f.write(b"garbage\n\xff\xfe\n{\"verdict\": \"pa")
    j = as_json(status(build, imds, ini(), "--json"))
    assert j["history"]["skipped_lines"] == 3
    assert len(j["history"]["entries"]) == 1
    r = status(build, imds, ini())
    assert "(3 unreadable lines skipped)" in r.stdout


def test_history_across_rotation(build, imds, state, ini):
    with open(state / "history.jsonl.1", "w") as f:
        f.write(json.dumps(entry("d-ROTATED01", "pass")) + "\n")
    history(state, [entry("d-CURRENT1", "fail")])
    j = as_json(status(build, imds, ini(), "--json"))
    assert [e["deployment_id"] for e in j["history"]["entries"]] == ["d-ROTATED01", "d-CURRENT1"]
    assert j["last_passed"]["deployment_id"] == "d-ROTATED01"


def test_unsafe_history_is_reported_not_fatal(build, imds, state, ini, tmp_path):
    (tmp_path / "real").write_text(json.dumps(entry("d-LINK00001", "pass")) + "\n")
    os.symlink(tmp_path / "real", state / "history.jsonl")
    j = as_json(status(build, imds, ini(), "--json"))
    assert "symbolic link" in j["history"]["error"] and j["last_passed"] is None
    r = status(build, imds, ini())
    assert r.returncode == 0 and "symbolic link" in r.stdout


def test_history_off(build, imds, state, ini):
    p = ini()
    p.write_text(ini_text(state).replace(f"history = {state}/history.jsonl", "history = none"))
    j = as_json(status(build, imds, p, "--json"))
    assert j["history"] == {"enabled": False, "path": None}
    assert "history: off" in status(build, imds, p).stdout


def test_missing_and_failed_marker(build, imds, state, ini):
    j = as_json(status(build, imds, ini(), "--json"))
    assert j["marker"]["present"] is False and j["marker"]["valid"] is False
    assert "does not exist" in j["marker"]["reason"]
    write_marker(state / "provisioned", marker_text(status="failed", message="itamae exited 1"))
    j = as_json(status(build, imds, ini(), "--json"))
    m = j["marker"]
    assert m["present"] is True and m["valid"] is False and m["status"] == "failed"
    assert m["message"] == "itamae exited 1" and "itamae exited 1" in m["reason"]
    r = status(build, imds, ini())
    assert any(ln.startswith("marker: why: ") for ln in r.stdout.splitlines())


def test_marker_of_another_instance_is_not_valid(build, imds, state, ini):
    write_marker(state / "provisioned", marker_text(instance_id="i-0fedcba9876543210"))
    m = as_json(status(build, imds, ini(), "--json"))["marker"]
    assert m["valid"] is False and m["instance_id"] == "i-0fedcba9876543210"


@pytest.mark.parametrize("state_name,action,setting", [
    (None, None, None), ("Terminated", "skip", "on_terminating"),
    ("Standby", "check", "on_standby"), ("Warmed:Stopped", "check", "on_warmed")])
def test_lifecycle_states(build, imds, state, ini, state_name, action, setting):
    imds.state.lifecycle_state = state_name
    lc = as_json(status(build, imds, ini(), "--json"))["lifecycle"]
    assert lc["checked"] is True and lc["in_group"] is (state_name is not None)
    assert lc.get("state") == state_name
    assert lc.get("action") == (action or "check") and lc.get("setting") == setting
    text = status(build, imds, ini()).stdout
    if state_name is None:
        assert "lifecycle: not in an Auto Scaling group" in text
    else:
        assert f"lifecycle: target state {state_name}: hooks " in text


def test_on_terminating_fail_is_shown(build, imds, state, ini):
    imds.state.lifecycle_state = "Terminated"
    lc = as_json(status(build, imds, ini(gate="on_terminating = fail\n"), "--json"))["lifecycle"]
    assert lc["action"] == "fail"


def test_unreachable_imds_is_reported_quickly(build, imds, state, ini):
    write_marker(state / "provisioned", marker_text())
    t0 = time.monotonic()
    r = status(build, imds, ini(), "--json",
               env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"})
    assert time.monotonic() - t0 < 5
    j = as_json(r)
    assert "id" not in j["instance"] and j["instance"]["error"]
    assert j["lifecycle"]["error"] and "state" not in j["lifecycle"]
    # the marker is still read, but without this instance's id it is not
    # known to be valid (a hook would fail closed here)
    assert j["marker"]["present"] is True and j["marker"]["status"] == "ok"
    assert j["marker"]["valid"] is None
    assert "instance_id was not compared" in j["marker"]["reason"]
    text = status(build, imds, ini(),
                  env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"}).stdout
    assert "' NOT verified; status ok" in text and "marker: why: this instance's id" in text


def test_imds_no_is_respected(build, imds, state, ini):
    j = as_json(status(build, imds, ini(gate="imds = no\n"), "--json"))
    assert j["lifecycle"]["checked"] is False and "imds = no" in j["lifecycle"]["error"]
    assert imds.count("/latest/api/token", "PUT") == 0


def test_cloud_init_reported_when_configured(build, imds, state, ini, tmp_path):
    ci = tmp_path / "ci"
    ci.mkdir(mode=0o755)
    cfg = ini(marker=f"cloud_init = yes\ncloud_init_result = {ci}/result.json\n"
                     f"cloud_init_status = {ci}/status.json\n")
    assert as_json(status(build, imds, cfg, "--json"))["cloud_init"]["state"] == "pending"
    (ci / "result.json").write_text(json.dumps({"v1": {"datasource": "Ec2",
                                                       "errors": ["boom"]}}))
    j = as_json(status(build, imds, cfg, "--json"))["cloud_init"]
    assert j["state"] == "failed" and j["errors"] == 1 and "boom" in j["reason"]
    (ci / "result.json").write_text(json.dumps({"v1": {"datasource": "Ec2", "errors": []}}))
    j = as_json(status(build, imds, cfg, "--json"))["cloud_init"]
    assert j["state"] == "done" and j["reason"] is None
    assert j["status_problem"] == f"cloud-init status '{ci}/status.json' does not exist"
    text = status(build, imds, cfg).stdout
    assert "cloud-init: done" in text
    assert (f"cloud-init: recoverable errors not read: cloud-init status "
            f"'{ci}/status.json' does not exist") in text, text
    (ci / "status.json").write_text(json.dumps({"v1": {"init": {
        "errors": [], "recoverable_errors": {"WARNING": ["a", "b"]}}}}))
    os.chmod(ci / "status.json", 0o644)
    j = as_json(status(build, imds, cfg, "--json"))["cloud_init"]
    assert (j["state"], j["recoverable_errors"], j["status_problem"]) == ("done", 2, None), j


@pytest.mark.parametrize("args,code", [(["-x"], 64), (["-l", "0"], 64), (["-l", "abc"], 64),
                                       (["--last", "1001"], 64), (["-l"], 64),
                                       (["-n", "3"], 64), (["extra"], 64)])
def test_usage_errors(build, imds, state, ini, args, code):
    r = status(build, imds, ini(), *args)
    assert r.returncode == code, r.describe()
    assert r.output[-1].startswith("cdgate: cdgate-status: FAIL: ")
    if args == ["extra"]:
        assert r.output[-1].endswith("unexpected argument 'extra'; see cdgate-status -h")


def test_bad_config_is_exit_78(build, imds, state, tmp_path):
    p = tmp_path / "bad.ini"
    p.write_text("[gate]\nbogus = 1\n")
    os.chmod(p, 0o644)
    r = status(build, imds, p, "--json")
    assert r.returncode == 78 and "bad.ini:2" in r.output[-1]


def test_version_and_help(build):
    r = run_program(build / "bin" / "cdgate-status", ["-V"])
    assert r.returncode == 0, r.describe()
    assert r.stdout.startswith("cdgate-status ") and r.stdout.count("\n") == 1, r.stdout
    assert r.stdout.split()[1][0].isdigit(), r.stdout
    r = run_program(build / "bin" / "cdgate-status", ["-h"])
    assert r.returncode == 0 and r.stdout.startswith("usage: cdgate-status"), r.describe()


# EC2's notices (issue 14): the Spot interruption notice, the rebalance
# recommendation and the active scheduled events, "none" only on a 404 (or
# no active event), an unreadable item an error and never "none".

SPOT_ITEM = "meta-data/spot/instance-action"
REBALANCE_ITEM = "meta-data/events/recommendations/rebalance"
SCHEDULED_ITEM = "meta-data/events/maintenance/scheduled"


def notices(build, imds, cfg):
    j = as_json(status(build, imds, cfg, "--json"))["notices"]
    r = status(build, imds, cfg)
    assert r.returncode == 0, r.describe()
    return j, [ln for ln in r.stdout.splitlines() if ln.startswith(("notices: ", "  "))]


@pytest.mark.parametrize("scheduled", [[], None, [
    {"Code": "system-reboot", "State": "completed", "NotBefore": "21 Jan 2019 09:00:43 GMT",
     "NotAfter": "21 Jan 2019 09:17:23 GMT", "Description": "done", "EventId": "e-1"},
    {"Code": "instance-stop", "State": "canceled", "NotBefore": "2026-12-06T12:00:00Z",
     "Description": "gone", "EventId": "e-2"}]], ids=["empty", "404", "finished"])
def test_no_notice_says_none(build, imds, state, ini, scheduled):
    imds.state.scheduled_events = scheduled
    j, text = notices(build, imds, ini())
    assert j == {"checked": True, "error": None, "spot": None, "rebalance": None,
                 "scheduled": [], "scheduled_active": 0}, j
    assert text == ["notices: spot interruption: none",
                    "notices: rebalance recommendation: none",
                    "notices: scheduled events: none"], text
    for item in (SPOT_ITEM, REBALANCE_ITEM, SCHEDULED_ITEM):
        assert imds.count(item) == 2, item


def test_each_notice_is_shown(build, imds, state, ini):
    imds.state.spot_action = {"action": "terminate", "time": "2026-12-06T12:00:00Z"}
    imds.state.rebalance = {"noticeTime": "2026-12-06T11:58:00Z"}
    imds.state.scheduled_events = [
        {"Code": "instance-retirement", "State": "active", "NotBefore": "2026-12-09T00:00:00Z",
         "Description": "The instance is scheduled for retirement",
         "EventId": "instance-event-0000000000000002"},
        {"Code": "system-reboot", "State": "completed", "NotBefore": "21 Jan 2019 09:00:43 GMT",
         "Description": "done", "EventId": "instance-event-0000000000000003"},
        {"Code": "system-reboot", "State": "active", "NotBefore": "7 Dec 2026 09:00:00 GMT",
         "NotAfter": "7 Dec 2026 11:00:00 GMT", "Description": "scheduled reboot",
         "EventId": "instance-event-0000000000000001"}]
    j, text = notices(build, imds, ini())
    assert j["checked"] is True and j["error"] is None
    assert j["spot"] == {"action": "terminate", "time": "2026-12-06T12:00:00Z"}
    assert j["rebalance"] == {"time": "2026-12-06T11:58:00Z"}
    # the active ones, earliest first; the completed one is dropped
    assert j["scheduled"] == [
        {"code": "system-reboot", "not_before": "7 Dec 2026 09:00:00 GMT",
         "not_after": "7 Dec 2026 11:00:00 GMT", "description": "scheduled reboot",
         "id": "instance-event-0000000000000001"},
        {"code": "instance-retirement", "not_before": "2026-12-09T00:00:00Z",
         "not_after": None, "description": "The instance is scheduled for retirement",
         "id": "instance-event-0000000000000002"}], j
    assert j["scheduled_active"] == 2
    assert text == [
        "notices: spot interruption: terminate at 2026-12-06T12:00:00Z",
        "notices: rebalance recommendation: at 2026-12-06T11:58:00Z",
        "notices: scheduled events: 2 active:",
        "  system-reboot from 7 Dec 2026 09:00:00 GMT to 7 Dec 2026 11:00:00 GMT: "
        "scheduled reboot (instance-event-0000000000000001)",
        "  instance-retirement from 2026-12-09T00:00:00Z: The instance is scheduled for "
        "retirement (instance-event-0000000000000002)"], text


def test_one_notice_alone(build, imds, state, ini):
    imds.state.spot_action = {"action": "stop", "time": "21 Jan 2019 09:00:43 GMT"}
    j, text = notices(build, imds, ini())
    assert j["spot"] == {"action": "stop", "time": "21 Jan 2019 09:00:43 GMT"}
    assert j["rebalance"] is None and j["scheduled"] == [] and j["error"] is None
    assert text == ["notices: spot interruption: stop at 21 Jan 2019 09:00:43 GMT",
                    "notices: rebalance recommendation: none",
                    "notices: scheduled events: none"], text


def test_more_active_events_than_kept(build, imds, state, ini):
    imds.state.scheduled_events = [
        {"Code": "system-maintenance", "State": "active",
         "NotBefore": f"2026-12-{d:02d}T00:00:00Z", "EventId": f"e-{d}"}
        for d in range(20, 0, -1)]
    j, text = notices(build, imds, ini())
    assert j["scheduled_active"] == 20 and len(j["scheduled"]) == 16
    assert j["scheduled"][0]["not_before"] == "2026-12-01T00:00:00Z"
    assert j["scheduled"][0]["description"] is None
    assert "notices: scheduled events: 20 active, the first 16:" in text
    assert "  system-maintenance from 2026-12-01T00:00:00Z: (no description) (e-1)" in text


@pytest.mark.parametrize("field,value,what", [
    ("spot_action", "garbage", "spot interruption notice"),
    ("spot_action", {"action": "explode", "time": "2026-12-06T12:00:00Z"},
     "spot interruption notice"),
    ("rebalance", {"noticeTime": "yesterday"}, "rebalance recommendation"),
    ("rebalance", "", "rebalance recommendation"),
    ("scheduled_events", "[{", "scheduled maintenance events"),
    ("scheduled_events", [{"Code": "system-reboot", "State": "active"}],
     "scheduled maintenance events")])
def test_a_malformed_notice_is_an_error_never_none(build, imds, state, ini, field, value,
                                                    what):
    setattr(imds.state, field, value)
    j, text = notices(build, imds, ini())
    key, label = {"spot_action": ("spot", "spot interruption"),
                  "rebalance": ("rebalance", "rebalance recommendation"),
                  "scheduled_events": ("scheduled", "scheduled events")}[field]
    assert j["checked"] is True
    assert key not in j, j          # neither null nor []: not known
    assert j["error"].startswith(what + " '"), j
    assert f"notices: {label}: unknown (error below)" in text, text
    assert f"notices: {label}: none" not in text, text
    assert text[-1] == f"notices: unknown: {j['error']}", text
    # the other two are still read
    assert len([k for k in ("spot", "rebalance", "scheduled") if k in j]) == 2, j


def test_notices_unreadable_when_metadata_is_unreachable(build, imds, state, ini):
    r = status(build, imds, ini(), "--json",
               env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"})
    j = as_json(r)["notices"]
    assert j["error"] and not {"spot", "rebalance", "scheduled"} & set(j), j
    text = status(build, imds, ini(),
                  env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"}).stdout
    assert "notices: spot interruption: unknown (error below)" in text
    assert "none" not in "".join(ln for ln in text.splitlines() if ln.startswith("notices"))


def test_notices_not_read_with_imds_no(build, imds, state, ini):
    j, text = notices(build, imds, ini(gate="imds = no\n"))
    assert j == {"checked": False, "error": "not read: [gate] imds = no"}, j
    assert text == ["notices: unknown: not read: [gate] imds = no"], text
    for item in (SPOT_ITEM, REBALANCE_ITEM, SCHEDULED_ITEM):
        assert imds.count(item) == 0
    assert imds.count("/latest/api/token", "PUT") == 0


def test_an_http_error_on_one_notice_is_shown_as_the_error(build, imds, state, ini):
    imds.state.add_fault("status", match=SPOT_ITEM, status=500)
    j, text = notices(build, imds, ini())
    assert "spot" not in j and j["rebalance"] is None and j["scheduled"] == [], j
    assert j["error"].startswith("spot interruption notice: ") and "HTTP 500" in j["error"], j
    assert "notices: spot interruption: unknown (error below)" in text, text
    # (the attempts counted in the message may differ from run to run)
    assert text[-1].startswith("notices: unknown: spot interruption notice: ") and \
        "HTTP 500" in text[-1], text

