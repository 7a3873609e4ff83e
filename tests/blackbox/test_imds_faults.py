"""Instance metadata faults during the marker gate: fail closed, say why,
end by the deadline (issue 2)."""

from __future__ import annotations

import re


import pytest

from lib.agent import SLACK, assert_agent_clean
from lib.marker import marker_text, write_marker


def cfg(marker, timeout=4):
    return (f"[gate]\ntimeout = {timeout}\n[marker]\npath = {marker}\n"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


@pytest.fixture
def marker(tmp_path):
    m = tmp_path / "state" / "provisioned"
    write_marker(m, marker_text())
    return m


def test_imds_down_fails_unavailable_by_the_deadline(deploy, marker, refused_port):
    r = deploy(cfg(marker)).run("before-install", timeout=30, env={
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{refused_port}"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69
    assert "instance metadata" in r.verdict and "did not answer" in r.verdict
    assert r.elapsed < 6 + SLACK


def test_imds_401_always_gets_one_fresh_token_then_fails(deploy, marker, imds):
    imds.state.fail(401, match="meta-data/*")
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69
    assert "401" in r.verdict
    assert imds.count("api/token", method="PUT") == 2


def test_imds_token_revoked_once_recovers(deploy, marker, imds):
    imds.state.fail(401, match="meta-data/autoscaling/*", count=1)
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert imds.count("api/token", method="PUT") == 2


def test_imds_500_is_retried_until_the_deadline(deploy, marker, imds):
    imds.state.fail(500)
    r = deploy(cfg(marker, timeout=3)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69
    assert "HTTP 500" in r.verdict and "attempts" in r.verdict
    assert 2 < r.elapsed < 5 + SLACK


def test_imds_slow_500_names_the_500_not_the_cut_last_attempt(deploy, marker, imds):
    # every answer is a 500 after 0.15 s; the deadline leaves the last
    # attempt 0.1 s or a little more, so it times out more often than not:
    # the verdict keeps the telling reason, not "timed out after 100 ms"
    imds.state.fail(500, delay=0.15)
    r = deploy(cfg(marker, timeout=3)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69
    assert re.search(r"did not answer \S+ /latest/\S+: HTTP 500 \(\d+ attempts in ",
                     r.verdict), r.describe()
    assert "hop limit" not in r.verdict, r.describe()     # no timeout hint


def test_imds_500_then_ok_passes(deploy, marker, imds):
    imds.state.fail(500, count=2)
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


def test_imds_429_then_ok_passes(deploy, marker, imds):
    imds.state.fail(429, count=3)
    r = deploy(cfg(marker, timeout=10)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")


def test_imds_slow_times_out_by_the_deadline(deploy, marker, imds):
    imds.state.delay(10)
    r = deploy(cfg(marker, timeout=3)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69
    assert "timed out" in r.verdict.lower() or "timeout" in r.verdict.lower()
    assert r.elapsed < 5 + SLACK


def test_imds_hang_after_accept_ends_by_the_deadline(deploy, marker, imds):
    imds.state.hang()
    r = deploy(cfg(marker, timeout=3)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.elapsed < 5 + SLACK


def test_imds_403_disabled_fails_at_once(deploy, marker, imds):
    imds.state.fail(403, match="*")
    r = deploy(cfg(marker, timeout=20)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert "disabled" in r.verdict
    assert r.elapsed < 3 + SLACK


def test_imds_garbage_instance_id_fails(deploy, marker, imds):
    imds.state.items["meta-data/instance-id"] = "<html>captive portal</html>"
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert "malformed instance id" in r.verdict


def test_imds_invalid_utf8_reply_is_sanitized(deploy, marker, imds):
    imds.state.invalid_utf8(match="meta-data/instance-id")
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")


def test_metadata_disabled_by_environment(deploy, marker):
    r = deploy(cfg(marker)).run("before-install", timeout=30,
                                env={"AWS_EC2_METADATA_DISABLED": "true"})
    assert_agent_clean(r, "FAIL")
    assert "AWS_EC2_METADATA_DISABLED" in r.verdict


def test_bad_endpoint_variable_is_a_config_error(deploy, marker):
    r = deploy(cfg(marker)).run("before-install", timeout=30,
                                env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": "ftp://x y"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78
    assert "AWS_EC2_METADATA_SERVICE_ENDPOINT" in r.verdict


def test_imds_no_skips_metadata(deploy, tmp_path, refused_port):
    m = tmp_path / "state" / "provisioned"
    write_marker(m, marker_text(instance_id="mi-0123456789abcdef0"))
    r = deploy(f"[gate]\ntimeout = 4\nimds = no\n[marker]\npath = {m}\n"
               "[BeforeInstall]\nchecks = lifecycle marker\n"
               ).run("before-install", timeout=30, env={
                   "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{refused_port}"})
    assert_agent_clean(r, "PASS")


def test_happy_path_request_economy(deploy, marker, imds):
    r = deploy(cfg(marker)).run("before-install", timeout=30)
    assert_agent_clean(r, "PASS")
    assert imds.count("api/token", method="PUT") == 1
    assert imds.count("meta-data/instance-id") == 1
    assert imds.count("meta-data/autoscaling/target-lifecycle-state") == 1
