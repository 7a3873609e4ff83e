"""The notices check (issue 14; src/checks/notices.h): EC2's Spot
interruption notice, rebalance recommendation and scheduled events, read
from the IMDS stand-in, run as the agent runs hooks.

Default policy: an interruption notice is leaving (on_interruption = skip);
a rebalance recommendation and an active scheduled event within the
deadline are warnings (check); a notice that arrives during a wait ends
the run within 3 s; a reply that cannot be understood fails, never "none".
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest

from lib.agent import SLACK, assert_agent_clean
from lib.marker import provision, state_config as config

SPOT = "meta-data/spot/instance-action"
LIFECYCLE = "meta-data/autoscaling/target-lifecycle-state"
FLIP_LIMIT = 3.0


def iso(seconds_from_now: float) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_time(seconds_from_now: float) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%d %b %Y %H:%M:%S GMT")


def test_no_notice_passes_and_says_so(deploy, imds, tmp_path):
    provision(tmp_path)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("notices: no spot interruption notice" in ln for ln in r.output), r.describe()
    assert imds.count(SPOT) >= 1


def test_interruption_notice_at_start_skips(deploy, imds, tmp_path):
    when = iso(94)
    imds.state.spot_action = {"action": "terminate", "time": when}
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "SKIP")
    assert r.returncode == 0
    assert f"SKIP: spot interruption notice: terminate at {when} (in " in r.output[-1], r.describe()
    assert r.verdict.endswith("s): not checking; on_interruption = skip"), r.describe()


@pytest.mark.parametrize("where", ["gate", "event"])
def test_interruption_notice_with_fail_policy_fails(deploy, imds, tmp_path, where):
    imds.state.spot_action = {"action": "stop", "time": iso(60)}
    kw = {"gate": "on_interruption = fail\n"} if where == "gate" else \
        {"event": "[BeforeInstall]\non_interruption = fail\n"}
    r = deploy(config(tmp_path, **kw)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and "stop at" in r.verdict and "on_interruption = fail" in r.verdict


def test_interruption_notice_with_check_policy_runs_the_checks(deploy, imds, tmp_path):
    provision(tmp_path)
    imds.state.spot_action = {"action": "hibernate", "time": iso(100)}
    r = deploy(config(tmp_path, gate="on_interruption = check\n")).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("WARNING: spot interruption notice: hibernate" in ln for ln in r.output), r.describe()
    assert "spot interruption notice (hibernate" in r.verdict


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_notice_during_marker_wait_ends_within_3s(deploy, imds, tmp_path, report, delay):
    dep = deploy(config(tmp_path, timeout=30))
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", dep.run("before-install", timeout=60)))
    start = time.monotonic()
    t.start()
    dep.wait_output("notices: no spot interruption notice")
    time.sleep(max(0.0, start + delay - time.monotonic()))
    imds.state.spot_action = {"action": "terminate", "time": iso(110)}
    flipped = time.monotonic()
    t.join()
    r = box["r"]
    after = r.exit_monotonic - flipped
    report(f"spot notice (at {delay}s) -> before-install exit: {after * 1000:.0f} ms")
    assert_agent_clean(r, "SKIP")
    assert "spot interruption notice: terminate" in r.verdict
    assert after < FLIP_LIMIT + SLACK, r.describe()


def test_watch_reads_one_more_item_per_lifecycle_read(deploy, imds, tmp_path, report):
    """Request economy during a wait: the watch reads spot/instance-action
    with the lifecycle state, and nothing else."""
    imds.state.lifecycle_state = "InService"
    r = deploy(config(tmp_path, timeout=5)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    lc, spot = imds.count(LIFECYCLE), imds.count(SPOT)
    rebalance = imds.count("meta-data/events/recommendations/rebalance")
    scheduled = imds.count("meta-data/events/maintenance/scheduled")
    report(f"5 s marker wait: lifecycle reads {lc}, spot reads {spot}, "
           f"rebalance {rebalance}, scheduled {scheduled}")
    assert lc >= 3 and spot == lc, (lc, spot)
    assert rebalance == 1 and scheduled == 1


def test_rebalance_is_a_warning_by_default(deploy, imds, tmp_path):
    provision(tmp_path)
    imds.state.rebalance = {"noticeTime": iso(-5)}
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert any("WARNING: rebalance recommendation at" in ln for ln in r.output), r.describe()
    assert "rebalance recommended at" in r.verdict
    hist = (tmp_path / "state" / "history.jsonl").read_text()
    assert "rebalance recommended at" in hist


def test_rebalance_with_fail_policy_fails(deploy, imds, tmp_path):
    imds.state.rebalance = {"noticeTime": iso(-5)}
    r = deploy(config(tmp_path, gate="on_rebalance = fail\n")).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1 and "on_rebalance = fail" in r.verdict


def event(code="instance-reboot", state="active", start=60, end=600, desc="scheduled reboot"):
    return {"Code": code, "State": state, "NotBefore": aws_time(start),
            "NotAfter": aws_time(end), "Description": desc, "EventId": "instance-event-0abc"}


def test_scheduled_event_within_the_deadline_is_a_warning(deploy, imds, tmp_path):
    provision(tmp_path)
    imds.state.scheduled_events = [
        event(start=3, desc="reboot \x1b[31msoon\udc80"),
        event(code="system-reboot", state="completed", start=-600, end=-60),
        event(code="instance-retirement", state="canceled", start=2),
        event(code="instance-stop", start=86400, end=90000),
    ]
    r = deploy(config(tmp_path, timeout=30)).run("before-install", timeout=60)
    assert_agent_clean(r, "PASS")
    lines = [ln for ln in r.output if "notices: " in ln and "scheduled event" in ln]
    assert len(lines) == 1 and "WARNING: scheduled event instance-reboot from" in lines[0], r.describe()
    assert "\x1b" not in lines[0] and "soon" in lines[0]
    assert "1 scheduled event (instance-reboot" in r.verdict


def test_scheduled_event_with_skip_policy_skips(deploy, imds, tmp_path):
    imds.state.scheduled_events = [event(start=-30)]
    r = deploy(config(tmp_path, gate="on_scheduled_event = skip\n")).run("before-install", timeout=30)
    assert_agent_clean(r, "SKIP")
    assert "scheduled event instance-reboot from" in r.verdict
    assert "on_scheduled_event = skip" in r.verdict


@pytest.mark.parametrize("item,body,want", [
    ("spot_action", "{\"action\": \"terminate\"", "not valid JSON"),
    ("spot_action", "{\"action\": \"explode\", \"time\": \"2026-12-06T12:00:00Z\"}",
     "unknown action 'explode'"),
    ("spot_action", "{\"action\": \"stop\", \"time\": \"soon\"}", "is not a time"),
    ("spot_action", "", "HTTP 200 with an empty body"),
    ("rebalance", "[]", "not a JSON object"),
    ("scheduled_events", "{}", "not a JSON list"),
    ("scheduled_events", "[" + ",".join(['{"Code":"instance-reboot","State":"active",'
                                         '"NotBefore":"21 Jan 2019 09:00:43 GMT"}'] * 10000) + "]",
     "reply larger than"),
])
def test_bad_notice_fails_closed(deploy, imds, tmp_path, item, body, want):
    provision(tmp_path)
    setattr(imds.state, item, body)
    r = deploy(config(tmp_path)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69 and want in r.verdict, r.describe()
    assert r.verdict.startswith("FAIL: notices: ") or "notices:" in r.verdict


def test_bad_notice_during_a_wait_is_said_once_and_read_again(deploy, imds, tmp_path):
    """A re-read that fails (here an unknown action) ends nothing: the check
    passed its own read.  The runner says it once, not at every 0.3 s retry,
    and says when a re-read works again; a good notice then still ends the
    run."""
    dep = deploy(config(tmp_path, timeout=30))
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", dep.run("before-install", timeout=60)))
    t.start()
    dep.wait_output("notices: no spot interruption notice")
    imds.state.spot_action = "{\"action\": \"explode\", \"time\": \"2026-12-06T12:00:00Z\"}"
    dep.wait_output("unknown action 'explode'")
    time.sleep(1.0)                     # about three retries
    imds.state.spot_action = None
    dep.wait_output("watch: notices: read again")
    imds.state.spot_action = {"action": "terminate", "time": iso(110)}
    t.join()
    r = box["r"]
    assert_agent_clean(r, "SKIP")
    said = [ln for ln in r.output if "unknown action 'explode'" in ln]
    assert len(said) == 1 and "watch: notices: " in said[0], r.describe()
    assert "reading it again every 0.3s" in said[0], r.describe()
    assert "spot interruption notice: terminate" in r.verdict, r.describe()


def test_imds_no_reads_no_notice(deploy, imds, tmp_path):
    provision(tmp_path)
    imds.state.spot_action = {"action": "terminate", "time": iso(60)}
    r = deploy(config(tmp_path, gate="imds = no\n")).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert "notices not read (imds = no)" in r.verdict
    assert imds.count(SPOT) == 0


@pytest.mark.parametrize("where", ["gate", "event"])
@pytest.mark.parametrize("key", ["on_interruption", "on_rebalance", "on_scheduled_event"])
def test_bad_policy_value_is_a_configuration_error(deploy, imds, tmp_path, key, where):
    kw = {"gate": f"{key} = maybe\n"} if where == "gate" else \
        {"event": f"[AfterInstall]\n{key} = maybe\n"}
    r = deploy(config(tmp_path, **kw)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and f"{key} = 'maybe': expected check, skip or fail" in r.verdict


def test_notices_keys_belong_to_gate_and_event_sections(deploy, imds, tmp_path):
    """Not to [marker]: an unknown key there, listing [marker]'s own."""
    r = deploy(config(tmp_path, event="on_interruption = skip\n")).run("before-install",
                                                                         timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and "unknown key 'on_interruption' in [marker]" in r.verdict


def test_invalid_utf8_in_a_description_is_cleaned(deploy, imds, tmp_path):
    """Raw bytes that are not UTF-8 in a scheduled event's Description: the
    event is still read (never "no notice", never a failure), its text
    printed as valid UTF-8."""
    provision(tmp_path)
    body = ('[{"Code": "instance-reboot", "State": "active", "NotBefore": "%s", '
            '"Description": "reboot \xff\xfe\x1b[2J soon"}]' % aws_time(3)).encode("latin-1")
    imds.state.scheduled_events = body
    r = deploy(config(tmp_path, timeout=30)).run("before-install", timeout=60)
    assert_agent_clean(r, "PASS")
    raw = r.stdout if isinstance(r.stdout, bytes) else r.stdout.encode("utf-8", "surrogateescape")
    raw.decode("utf-8")     # strict: the whole output is valid UTF-8
    lines = [ln for ln in r.output if "notices: " in ln and "scheduled event" in ln]
    assert len(lines) == 1 and "reboot " in lines[0] and "soon" in lines[0], r.describe()
    assert "\x1b" not in lines[0] and "\xff" not in lines[0]
