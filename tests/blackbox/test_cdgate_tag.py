"""Black-box tests of cdgate-tag (issue 3): CreateTags on this instance,
then DescribeTags until EC2 shows the tags, against the loopback stand-ins
(every EC2 request's signature verified by botocore)."""

from __future__ import annotations

import json

import pytest

from lib.agent import SLACK, assert_agent_clean, assert_term_prompt, run_program
from standin import imds as imds_mod

INSTANCE = "i-0123456789abcdef0"
OTHER = "i-0fedcba9876543210"
FAST = {"CDGATE_TEST_BACKOFF_MS": "20"}     # test-only: quick retries
ENV_CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
             "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


@pytest.fixture
def tag(build, imds, ec2, tmp_path):
    """tag(*args, env=None, config=None, timeout=30) runs cdgate-tag with
    -c CONFIG against the stand-ins."""
    def run(*args, env=None, config="[gate]\ntimeout = 20\n", timeout=30):
        cfg = tmp_path / "cdgate.ini"
        if "history" not in config:     # not the machine's own history file
            config += f"[gate]\nhistory = {tmp_path}/history.jsonl\n"
        cfg.write_text(config)
        base = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_EC2": ec2.url, **FAST}
        base.update(env or {})
        return run_program(build / "bin" / "cdgate-tag", ["-c", str(cfg), *args],
                           env=base, timeout=timeout)
    return run


def test_cdgate_tag_creates_and_confirms(tag, imds, ec2):
    r = tag("Tier=web", "Owner=ops team")
    assert_agent_clean(r, "PASS")
    assert r.returncode == 0, r
    assert f"tagged {INSTANCE}: Tier=web Owner=ops team" in r.verdict, r
    latest = ec2.state.latest_tags(INSTANCE)
    assert latest["Tier"] == "web" and latest["Owner"] == "ops team"
    assert latest["Role"] == "api", "other tags untouched"
    (create,) = ec2.actions("CreateTags")
    p = create["params"]
    assert p["ResourceId.1"] == INSTANCE
    assert (p["Tag.1.Key"], p["Tag.1.Value"]) == ("Tier", "web")
    assert (p["Tag.2.Key"], p["Tag.2.Value"]) == ("Owner", "ops team")
    assert create["verified"] and create["access_key"] == imds_mod.DEFAULT_ROLE_ACCESS_KEY
    describes = ec2.actions("DescribeTags")
    assert len(describes) == 1 and describes[0]["verified"]
    assert imds.count("meta-data/instance-id") == 1


def test_cdgate_tag_waits_for_eventual_consistency(tag, ec2):
    ec2.state.visibility_delay = 1.0
    r = tag("Tier=web")
    assert_agent_clean(r, "PASS")
    assert "waiting for DescribeTags: Tier is not visible yet" in r.stdout, r
    assert len(ec2.actions("DescribeTags")) >= 2
    assert r.elapsed >= 0.9, r


def test_cdgate_tag_overwrite_waits_for_new_value(tag, ec2):
    ec2.state.visibility_delay = 1.0
    r = tag("Role=worker")
    assert_agent_clean(r, "PASS")
    assert "waiting for DescribeTags: Role is 'api'" in r.stdout, r
    assert ec2.state.visible_tags(INSTANCE)["Role"] == "worker"


def test_cdgate_tag_not_visible_before_timeout(tag, ec2):
    ec2.state.visibility_delay = 60
    r = tag("-t", "2", "Tier=web")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r
    assert "CreateTags succeeded but after" in r.verdict, r
    assert "Tier is not visible yet" in r.verdict, r
    assert r.elapsed < 5 + SLACK, r


def test_cdgate_tag_instance_id_option(tag, imds, ec2):
    r = tag("--instance-id", OTHER, "Tier=web")
    assert r.returncode == 0, r
    assert ec2.state.latest_tags(OTHER) == {"Tier": "web"}
    assert imds.count("meta-data/instance-id") == 0


def test_cdgate_tag_without_instance_metadata(tag, imds, ec2):
    env = {**ENV_CREDS, "AWS_EC2_METADATA_DISABLED": "true"}
    r = tag("--instance-id", OTHER, "Tier=web", env=env)
    assert_agent_clean(r, "PASS")
    assert not imds.log, "no instance metadata request at all"
    assert ec2.actions("CreateTags")[0]["access_key"] == "AKIDEXAMPLE"


def test_cdgate_tag_throttled_then_success(tag, ec2):
    ec2.state.throttle(count=2, match="CreateTags")
    r = tag("Tier=web")
    assert_agent_clean(r, "PASS")
    assert len(ec2.actions("CreateTags")) == 3
    assert ec2.state.latest_tags(INSTANCE)["Tier"] == "web"


def test_cdgate_tag_5xx_then_success(tag, ec2):
    ec2.state.fail(500, count=1, match="CreateTags")
    r = tag("Tier=web")
    assert r.returncode == 0, r
    assert len(ec2.actions("CreateTags")) == 2


def test_cdgate_tag_create_denied_names_permission(tag, ec2):
    ec2.state.error("UnauthorizedOperation", match="CreateTags")
    r = tag("Tier=web")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 77, r
    assert "lacks ec2:CreateTags" in r.verdict, r
    assert len(ec2.actions("CreateTags")) == 1
    assert not ec2.actions("DescribeTags")


def test_cdgate_tag_describe_denied_names_permission(tag, ec2):
    ec2.state.error("UnauthorizedOperation", match="DescribeTags")
    r = tag("Tier=web")
    assert r.returncode == 77, r
    assert "lacks ec2:DescribeTags" in r.verdict, r
    assert ec2.state.latest_tags(INSTANCE)["Tier"] == "web"


@pytest.mark.parametrize("code,text", [("AuthFailure", "AuthFailure"),
                                       ("SignatureDoesNotMatch", "SignatureDoesNotMatch"),
                                       ("InvalidClientTokenId", "InvalidClientTokenId"),
                                       ("RequestExpired", "clock skew")])
def test_cdgate_tag_auth_errors(tag, ec2, code, text):
    ec2.state.error(code)
    r = tag("Tier=web")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 77, r
    assert text in r.verdict, r
    assert ec2.calls == 1


def test_cdgate_tag_credentials_never_printed(tag, ec2):
    ec2.state.set_credentials("ASIAENVEXAMPLE", "envSecret/abc", "envSessionToken+xyz=")
    env = {"AWS_ACCESS_KEY_ID": "ASIAENVEXAMPLE", "AWS_SECRET_ACCESS_KEY": "envSecret/abc",
           "AWS_SESSION_TOKEN": "envSessionToken+xyz="}
    r = tag("Tier=web", env=env)
    assert r.returncode == 0, r
    ec2.state.error("SignatureDoesNotMatch")
    r2 = tag("Tier=web", env=env)
    assert r2.returncode == 77, r2
    r3 = tag("Tier=web")           # instance role
    for res in (r, r2, r3):
        for s in (*env.values(), imds_mod.DEFAULT_ROLE_SECRET, imds_mod.DEFAULT_ROLE_TOKEN,
                  imds_mod.DEFAULT_ROLE_ACCESS_KEY):
            assert s not in res.stdout + res.stderr, res


@pytest.mark.parametrize("args,text", [
    ((), "no tags given"),
    (("Tier",), "expected KEY=VALUE"),
    (("=web",), "expected KEY=VALUE"),
    (("aws:role=x",), "reserved by AWS"),
    (("AWS:Role=x",), "reserved by AWS"),
    (("Tier=a", "Tier=b"), "given twice"),
    (("K" * 129 + "=v",), "too long"),
    (("Key=" + "\u00e9" * 257,), "too long"),
    (("--instance-id", "not-an-id", "Tier=web"), "is not an instance id"),
    (("-t", "0", "Tier=web"), "expected seconds"),
    (("-t", "abc", "Tier=web"), "expected seconds"),
    (("--bogus", "Tier=web"), "bad option"),
])
def test_cdgate_tag_bad_args(tag, imds, ec2, args, text):
    r = tag(*args)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 64, r
    assert text in r.verdict, r
    assert ec2.calls == 0 and not imds.log


def test_cdgate_tag_imds_off_needs_instance_id(tag, imds, ec2):
    r = tag("Tier=web", config="[gate]\nimds = no\n")
    assert r.returncode == 64, r
    assert "--instance-id" in r.verdict
    assert ec2.calls == 0 and not imds.log


def test_cdgate_tag_check_mode_no_network(tag, imds, ec2):
    r = tag("-n", "Tier=web", "Env=x")
    assert_agent_clean(r, "PASS")
    assert "would tag this instance with Tier=web Env=x" in r.verdict, r
    assert ec2.calls == 0 and not imds.log


def test_cdgate_tag_bad_config(tag, ec2):
    r = tag("Tier=web", config="[gate]\nbogus = 1\n")
    assert r.returncode == 78, r
    assert ec2.calls == 0


def test_cdgate_tag_help_and_version(tag):
    r = tag("-h")
    assert r.returncode == 0 and "usage: cdgate-tag" in r.stdout
    r = tag("-V")
    assert r.returncode == 0 and r.stdout.startswith("cdgate-tag ")


def test_cdgate_tag_max_lengths_accepted(tag, ec2):
    key, value = "K" * 128, "\u00e9" * 256
    r = tag(f"{key}={value}")
    assert_agent_clean(r, "PASS")
    assert ec2.state.latest_tags(INSTANCE)[key] == value


def test_cdgate_tag_quiet_prints_only_the_verdict(tag, ec2):
    r = tag("-q", "Tier=web")
    assert_agent_clean(r, "PASS")
    assert len(r.output) == 1 and r.output[0].startswith("cdgate: cdgate-tag: PASS: tagged"), r


def test_cdgate_tag_sigterm_ends_at_once(tag, ec2, report):
    ec2.state.hang(match="CreateTags")
    r = tag("Tier=web", timeout=1.5)
    assert_term_prompt(r, report, "during cdgate-tag's CreateTags")
    assert "terminated by SIGTERM while tagging" in r.verdict, r


def test_cdgate_tag_check_mode_prints_the_plan_at_once(tag, tmp_path):
    """-n with nothing listening on instance metadata or EC2: exit 0 at
    once, with the configuration used, the instance and the deadline."""
    closed = "http://127.0.0.1:9"
    r = tag("-n", "Tier=web", env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": closed,
                                   "AWS_ENDPOINT_URL_EC2": closed}, timeout=10)
    assert r.returncode == 0 and not r.timed_out, r
    assert r.elapsed < 2 + SLACK, r
    cfg = tmp_path / "cdgate.ini"
    assert (f"cdgate: cdgate-tag: config {cfg}; tagging this instance with Tier=web; "
            "deadline 20s") in r.output, r
    r = tag("-n", "-t", "7", "--instance-id", OTHER, "Tier=web",
            env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": closed, "AWS_ENDPOINT_URL_EC2": closed},
            timeout=10)
    assert r.returncode == 0 and r.elapsed < 2 + SLACK, r
    assert f"cdgate: cdgate-tag: config {cfg}; tagging {OTHER} with Tier=web; deadline 7s" \
        in r.output, r
    assert f"would tag {OTHER} with Tier=web" in r.verdict, r


def test_cdgate_tag_records_its_runs_in_the_history(tag, ec2, tmp_path):
    """Like every program, cdgate-tag appends one JSON line per run; -n
    records nothing."""
    hist = tmp_path / "state" / "history.jsonl"
    hist.parent.mkdir(mode=0o755)
    cfg = f"[gate]\ntimeout = 20\nhistory = {hist}\n"
    assert tag("-n", "Tier=web", config=cfg).returncode == 0
    assert not hist.exists()
    r = tag("Tier=web", config=cfg)
    assert r.returncode == 0, r
    ec2.state.error("UnauthorizedOperation", match="CreateTags")
    r = tag("Tier=db", config=cfg)
    assert r.returncode == 77, r
    got = [json.loads(ln) for ln in hist.read_text().splitlines()]
    assert [(e["program"], e["verdict"], e["exit"]) for e in got] == [
        ("cdgate-tag", "pass", 0), ("cdgate-tag", "fail", 77)], got
    assert all("event" not in e and e["instance_id"] == INSTANCE for e in got), got
    assert got[0]["reason"].startswith(f"tagged {INSTANCE}: Tier=web"), got
    assert "ec2:CreateTags" in got[1]["reason"], got
