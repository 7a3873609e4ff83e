"""Black-box tests of the tags check (cdgate.ini(5) [tags], issue 3).

The hooks run like the agent runs them, against the loopback IMDS and EC2
stand-ins; the EC2 stand-in verifies every request's SigV4 signature with
botocore, so every EC2 reply the hook accepted came from a request botocore
would have signed the same way.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from lib.agent import SLACK, assert_agent_clean
from lib.marker import marker_text, write_marker
from standin import imds as imds_mod

INSTANCE = "i-0123456789abcdef0"
TAGS_ITEM = "meta-data/tags/instance"
FAST = {"CDGATE_TEST_BACKOFF_MS": "20"}     # test-only: quick retries
ENV_CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
             "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
SECRETS = (imds_mod.DEFAULT_ROLE_SECRET, imds_mod.DEFAULT_ROLE_TOKEN,
           imds_mod.DEFAULT_ROLE_ACCESS_KEY, ENV_CREDS["AWS_SECRET_ACCESS_KEY"],
           ENV_CREDS["AWS_ACCESS_KEY_ID"])


def config(tags: dict, source: str = "auto", timeout: int = 20,
           checks: str = "lifecycle tags", extra: str = "") -> str:
    lines = ["[gate]", f"timeout = {timeout}", "[tags]", f"source = {source}"]
    lines += [f"{k} = {v}" for k, v in tags.items()]
    lines += ["[BeforeInstall]", f"checks = {checks}"]
    return "\n".join(lines) + "\n" + extra


def run(deploy, tags, env=None, program="before-install", files=None,
        **cfg):
    d = deploy(config(tags, **cfg), files=files)
    r = d.run(program, env={**FAST, **(env or {})})
    return r


def assert_no_secrets(r):
    text = r.stdout + r.stderr
    for s in SECRETS:
        assert s not in text, f"credential {s[:6]}... printed\n{r}"


def describe_calls(ec2):
    return ec2.actions("DescribeTags")


def change_after(seen, change, pause=0.3):
    """A started thread that runs change() `pause` seconds after seen()
    first holds (the hook has read the old state): no race with start-up."""
    def body():
        end = time.monotonic() + 30
        while not seen() and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(pause)
        change()
    t = threading.Thread(target=body)
    t.start()
    return t


# ---------------------------------------------------------------------------
# instance metadata tags


def test_tags_from_imds_pass(deploy, imds, ec2):
    r = run(deploy, {"Role": "api", "Env": "prod*"})
    assert_agent_clean(r, "PASS")
    assert r.returncode == 0, r
    assert "Role=api Env=production (from instance metadata)" in r.stdout, r
    assert "tags ok (instance metadata)" in r.verdict, r
    assert ec2.calls == 0, "EC2 must not be asked when metadata has the tags"


def test_tags_imds_request_economy(deploy, imds, ec2):
    r = run(deploy, {"Role": "api", "Env": "*"})
    assert r.returncode == 0, r
    assert imds.count("/latest/api/token", "PUT") == 1
    assert imds.count(TAGS_ITEM) == 1
    assert imds.count(TAGS_ITEM + "/Role") == 1
    assert imds.count(TAGS_ITEM + "/Env") == 1


def test_tags_imds_reads_only_needed_keys(deploy, imds, ec2):
    imds.state.tags = {"Role": "api", "Env": "production", "Other": "x"}
    r = run(deploy, {"Role": "api"})
    assert r.returncode == 0, r
    assert imds.count(TAGS_ITEM + "/Other") == 0
    assert imds.count(TAGS_ITEM + "/Env") == 0


def test_tags_missing_key_fails_naming_it(deploy, imds, ec2):
    r = run(deploy, {"Role": "api", "Tier": "web"}, timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r
    assert "Tier is missing" in r.verdict, r
    assert "instance metadata" in r.verdict, r
    assert r.elapsed < 4 + SLACK, r


def test_tags_mismatch_fails_naming_live_value(deploy, imds, ec2):
    r = run(deploy, {"Role": "web", "Env": "staging", "Tier": "*"}, timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r        # Tier is missing: a timeout
    v = r.verdict
    assert "Role is 'api' (want 'web')" in v, r
    assert "Env is 'production' (want 'staging')" in v, r
    assert "Tier is missing" in v, r


def test_tags_mismatch_only_is_exit_1(deploy, imds, ec2):
    r = run(deploy, {"Role": "w?b"}, timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1, r
    assert "Role is 'api' (want 'w?b')" in r.verdict, r


@pytest.mark.parametrize("glob,ok", [("*", True), ("a*", True), ("?pi", True),
                                     ("API", False), ("ap", False), ("*x*", False)])
def test_tags_glob(deploy, imds, ec2, glob, ok):
    r = run(deploy, {"Role": glob}, timeout=1)
    assert (r.returncode == 0) == ok, r


def test_tags_waits_for_late_imds_tag(deploy, imds, ec2):
    t = change_after(lambda: imds.count(TAGS_ITEM) >= 1,
                     lambda: setattr(imds.state, "tags", {**imds.state.tags, "Tier": "web"}))
    try:
        r = run(deploy, {"Role": "api", "Tier": "web"}, timeout=15)
    finally:
        t.join()
    assert_agent_clean(r, "PASS")
    assert "tags: waiting: Tier is missing" in r.stdout, r
    assert imds.count(TAGS_ITEM) >= 2, "read again after waiting"


def test_tags_value_changes_mid_wait(deploy, imds, ec2):
    imds.state.tags = {"Role": "pending"}
    t = change_after(lambda: imds.count(TAGS_ITEM + "/Role") >= 1,
                     lambda: setattr(imds.state, "tags", {"Role": "api"}))
    try:
        r = run(deploy, {"Role": "api"}, timeout=15)
    finally:
        t.join()
    assert_agent_clean(r, "PASS")
    assert "Role is 'pending' (want 'api')" in r.stdout, r


# ---------------------------------------------------------------------------
# metadata tags not enabled


@pytest.mark.parametrize("mode,why", [("disabled-404", "HTTP 404 on meta-data/tags/instance"),
                                      ("disabled-empty", "an empty meta-data/tags/instance")])
def test_tags_disabled_falls_back_to_ec2(deploy, imds, ec2, mode, why):
    imds.state.tags_mode = mode
    r = run(deploy, {"Role": "api", "Env": "production"})
    assert_agent_clean(r, "PASS")
    out = r.stdout
    assert f"instance metadata tags are not enabled ({why})" in out, r
    assert "reading tags with EC2 DescribeTags instead" in out, r
    assert "InstanceMetadataTags=enabled" in out, r
    assert f"modify-instance-metadata-options --instance-id {INSTANCE} " in out, r
    assert "(from EC2 DescribeTags)" in out, r
    calls = describe_calls(ec2)
    assert len(calls) == 1 and calls[0]["verified"], calls
    p = calls[0]["params"]
    assert p["Filter.1.Name"] == "resource-id" and p["Filter.1.Value.1"] == INSTANCE
    assert p["Filter.2.Name"] == "key"
    assert {p["Filter.2.Value.1"], p["Filter.2.Value.2"]} == {"Role", "Env"}
    assert imds.count(TAGS_ITEM) == 1, "metadata listing read once, then EC2 only"


def test_tags_ec2_fallback_request_economy(deploy, imds, ec2, tmp_path):
    """Happy path through the EC2 fallback, marker included: one IMDS token
    and at most one request per item; one DescribeTags."""
    imds.state.tags_mode = "disabled-404"
    path = tmp_path / "state" / "provisioned"
    write_marker(path, marker_text(tags={"Role": "api"}))
    d = deploy(config({"Env": "prod*"}, checks="lifecycle marker tags",
                      extra=f"[marker]\npath = {path}\n"))
    r = d.run("before-install", env={**FAST, "AWS_REGION": None})
    assert_agent_clean(r, "PASS")
    assert imds.count("/latest/api/token", "PUT") == 1
    seen = {}
    for e in imds.log:
        seen[(e["method"], e["path"])] = seen.get((e["method"], e["path"]), 0) + 1
    assert all(n == 1 for n in seen.values()), seen
    for item in ("meta-data/instance-id", "meta-data/placement/region",
                 "meta-data/iam/security-credentials/", TAGS_ITEM,
                 "meta-data/autoscaling/target-lifecycle-state"):
        assert ("GET", "/latest/" + item) in seen, item
    assert len(describe_calls(ec2)) == 1 and ec2.calls == 1


def test_tags_source_imds_disabled_fails_with_howto(deploy, imds, ec2):
    imds.state.tags_mode = "disabled-404"
    r = run(deploy, {"Role": "api"}, source="imds")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "source = imds but instance metadata tags are not enabled" in r.verdict, r
    assert "modify-instance-metadata-options" in r.stdout, r
    assert ec2.calls == 0
    assert r.elapsed < 3 + SLACK, r


def test_tags_source_ec2_does_not_read_imds_tags(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    assert imds.count(TAGS_ITEM) == 0
    assert len(describe_calls(ec2)) == 1
    assert "(from EC2 DescribeTags)" in r.stdout


def test_tags_ec2_waits_for_late_tag(deploy, imds, ec2):
    t = change_after(lambda: len(describe_calls(ec2)) >= 1,
                     lambda: ec2.state.put_tag(INSTANCE, "Tier", "web", delay=0))
    try:
        r = run(deploy, {"Role": "api", "Tier": "web"}, source="ec2", timeout=15)
    finally:
        t.join()
    assert_agent_clean(r, "PASS")
    assert "tags: waiting: Tier is missing" in r.stdout, r
    assert len(describe_calls(ec2)) >= 2
    assert all(c["verified"] for c in describe_calls(ec2))


def test_tags_ec2_missing_names_live_values(deploy, imds, ec2):
    r = run(deploy, {"Role": "db", "Tier": "web"}, source="ec2", timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r
    assert "Role is 'api' (want 'db')" in r.verdict, r
    assert "Tier is missing" in r.verdict, r
    assert "EC2 DescribeTags" in r.verdict, r


def test_tags_ec2_pagination(deploy, imds, ec2):
    ec2.state.page_size = 1
    r = run(deploy, {"Role": "api", "Env": "production"}, source="ec2")
    assert_agent_clean(r, "PASS")
    calls = describe_calls(ec2)
    assert len(calls) == 2, calls
    assert "NextToken" not in calls[0]["params"]
    assert calls[1]["params"].get("NextToken"), calls[1]
    assert calls[0]["params"]["MaxResults"] == calls[1]["params"]["MaxResults"]
    assert all(c["verified"] for c in calls)


def test_tags_ec2_key_with_wildcard_is_escaped(deploy, imds, ec2):
    ec2.state.set_tags(INSTANCE, {"Role": "api", "a*b": "x", "aXb": "y"})
    r = run(deploy, {"a*b": "x"}, source="ec2", timeout=3)
    assert r.returncode == 0, r
    assert describe_calls(ec2)[0]["params"]["Filter.2.Value.1"] == "a\\*b"


# ---------------------------------------------------------------------------
# EC2 errors and retries


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "Throttling"])
def test_tags_ec2_throttled_then_success(deploy, imds, ec2, code):
    ec2.state.throttle(count=3, code=code)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    assert ec2.throttled == 3
    assert len(describe_calls(ec2)) == 4
    assert "EC2 answered after 3 retries" in r.stdout, r
    assert code in r.stdout, r


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_tags_ec2_5xx_then_success(deploy, imds, ec2, status):
    ec2.state.fail(status, count=2)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    assert len(describe_calls(ec2)) == 3
    assert f"HTTP {status}" in r.stdout, r


def test_tags_ec2_disconnect_then_success(deploy, imds, ec2):
    ec2.state.disconnect(count=1)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    assert len(describe_calls(ec2)) == 2


def test_tags_ec2_slow_reply_is_waited_for(deploy, imds, ec2):
    ec2.state.delay(1.5, count=1)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    assert len(describe_calls(ec2)) == 1
    assert r.elapsed >= 1.4


def test_tags_ec2_slow_throttle_names_the_throttle_not_the_cut_last_attempt(deploy, imds,
                                                                           ec2):
    """Every answer is RequestLimitExceeded after 0.3 s; the deadline leaves
    the last attempt 0.2 s or a little more, so it times out more often than
    not: the verdict keeps the telling reason, not "timed out"."""
    ec2.state.add_fault("error", code="RequestLimitExceeded", delay=0.3)
    r = run(deploy, {"Role": "api"}, source="ec2", timeout=3,
            env={"CDGATE_TEST_BACKOFF_MS": "300"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert re.search(r"did not succeed before the deadline: \d+ attempts in [\d.]+s, the "
                     r"last: HTTP 503 RequestLimitExceeded", r.verdict), r
    assert "timed out" not in r.verdict, r


def test_tags_ec2_throttled_until_deadline(deploy, imds, ec2):
    """Backoff 300 ms (cap 6 s): a random sleep longer than the time left
    is cut, so the retries go on until the deadline instead of ending early."""
    ec2.state.throttle(count=None)
    r = run(deploy, {"Role": "api"}, source="ec2", timeout=3,
            env={"CDGATE_TEST_BACKOFF_MS": "300"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "did not succeed before the deadline" in r.verdict, r
    assert "RequestLimitExceeded" in r.verdict, r
    assert 2.5 <= r.elapsed < 5 + SLACK, r
    assert ec2.throttled >= 3


def test_tags_ec2_hang_ends_by_deadline(deploy, imds, ec2):
    ec2.state.hang(count=None)
    r = run(deploy, {"Role": "api"}, source="ec2", timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert r.elapsed < 4 + SLACK, r


AUTH_CASES = [
    ("UnauthorizedOperation", "lacks ec2:DescribeTags"),
    ("AuthFailure", "could not validate the credentials (AuthFailure)"),
    ("SignatureDoesNotMatch", "(SignatureDoesNotMatch): wrong secret key"),
    ("InvalidClientTokenId", "(InvalidClientTokenId)"),
    ("RequestExpired", "clock skew"),
]


@pytest.mark.parametrize("code,text", AUTH_CASES)
def test_tags_ec2_auth_error_fails_at_once(deploy, imds, ec2, code, text):
    ec2.state.error(code)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 77, r
    assert text in r.verdict, r
    assert len(describe_calls(ec2)) == 1, "not retried"
    assert r.elapsed < 3 + SLACK, r
    assert_no_secrets(r)


def test_tags_ec2_unauthorized_names_the_role(deploy, imds, ec2):
    ec2.state.error("UnauthorizedOperation")
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert f"instance role '{imds_mod.DEFAULT_ROLE}' lacks ec2:DescribeTags" in r.verdict, r
    assert "docs/iam.md" in r.verdict


def test_tags_ec2_wrong_secret_is_signature_mismatch(deploy, imds, ec2):
    env = {**ENV_CREDS, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    r = run(deploy, {"Role": "api"}, source="ec2", env=env)
    assert r.returncode == 77, r
    assert "SignatureDoesNotMatch" in r.verdict, r
    assert describe_calls(ec2)[0]["sig_error"] == "SignatureDoesNotMatch"
    assert "not-the-secret" not in r.stdout


def test_tags_ec2_unknown_key_is_auth_failure(deploy, imds, ec2):
    env = {**ENV_CREDS, "AWS_ACCESS_KEY_ID": "AKIDUNKNOWN"}
    r = run(deploy, {"Role": "api"}, source="ec2", env=env)
    assert r.returncode == 77, r
    assert "AuthFailure" in r.verdict, r


def test_tags_ec2_wrong_region_is_refused(deploy, imds, ec2):
    """Signed for AWS_REGION whatever the endpoint: the stand-in expects us-east-1."""
    r = run(deploy, {"Role": "api"}, source="ec2", env={"AWS_REGION": "eu-west-1"})
    assert r.returncode == 77, r
    assert describe_calls(ec2)[0]["region"] == "eu-west-1"


def test_tags_ec2_region_from_imds(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2", env={"AWS_REGION": None})
    assert r.returncode == 0, r
    assert imds.count("meta-data/placement/region") == 1
    assert describe_calls(ec2)[0]["region"] == "us-east-1"
    assert "region us-east-1 (instance metadata)" in r.stdout


def test_tags_ec2_default_region_variable(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2",
            env={"AWS_REGION": None, "AWS_DEFAULT_REGION": "us-east-1"})
    assert r.returncode == 0, r
    assert imds.count("meta-data/placement/region") == 0
    assert "region us-east-1 (AWS_DEFAULT_REGION)" in r.stdout


def test_tags_ec2_endpoint_url_fallback(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2",
            env={"AWS_ENDPOINT_URL_EC2": None, "AWS_ENDPOINT_URL": ec2.url})
    assert r.returncode == 0, r
    assert "(AWS_ENDPOINT_URL)" in r.stdout
    assert imds.count("meta-data/services/domain") == 0


def test_tags_ec2_plain_http_refused_off_loopback(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2",
            env={"AWS_ENDPOINT_URL_EC2": "http://ec2.example.com"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r
    assert "plain http is only allowed for a loopback host" in r.verdict
    assert ec2.calls == 0


def test_tags_ec2_over_tls_with_ca_bundle(deploy, imds, ec2_tls):
    r = run(deploy, {"Role": "api"}, source="ec2",
            env={"AWS_ENDPOINT_URL_EC2": ec2_tls.url, "AWS_CA_BUNDLE": ec2_tls.ca_file})
    assert_agent_clean(r, "PASS")
    assert ec2_tls.actions("DescribeTags")[0]["verified"]


def test_tags_ec2_over_tls_writes_no_ssl_key_log(deploy, imds, ec2_tls, tmp_path):
    """SSLKEYLOGFILE would make libcurl write the TLS secrets of the EC2
    connection (and so the session token's) to a file: it is ignored."""
    keylog = tmp_path / "keys.log"
    r = run(deploy, {"Role": "api"}, source="ec2",
            env={"AWS_ENDPOINT_URL_EC2": ec2_tls.url, "AWS_CA_BUNDLE": ec2_tls.ca_file,
                 "SSLKEYLOGFILE": str(keylog)})
    assert_agent_clean(r, "PASS")
    assert ec2_tls.actions("DescribeTags")[0]["verified"]
    assert not keylog.exists(), keylog.read_text()[:200]


def test_tags_ec2_tls_verified(deploy, imds, ec2_tls):
    r = run(deploy, {"Role": "api"}, source="ec2", timeout=2,
            env={"AWS_ENDPOINT_URL_EC2": ec2_tls.url})
    assert r.returncode == 69, r
    assert not ec2_tls.actions("DescribeTags"), "no request without a trusted certificate"


def test_tags_ec2_malformed_xml(deploy, imds, ec2):
    ec2.state.malformed()
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "EC2 DescribeTags at" in r.verdict, r
    assert len(describe_calls(ec2)) == 1
    assert r.elapsed < 3 + SLACK


def test_tags_ec2_garbage_reply(deploy, imds, ec2):
    ec2.state.garbage()
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r


def test_tags_ec2_huge_reply(deploy, imds, ec2):
    ec2.state.huge()
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "larger than" in r.verdict, r
    assert len(describe_calls(ec2)) == 1
    assert r.elapsed < 3 + SLACK


# ---------------------------------------------------------------------------
# credentials


def test_tags_ec2_instance_role_session_token(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "PASS")
    c = describe_calls(ec2)[0]
    assert c["verified"], c
    assert c["access_key"] == imds_mod.DEFAULT_ROLE_ACCESS_KEY
    assert c["headers"].get("X-Amz-Security-Token") == imds_mod.DEFAULT_ROLE_TOKEN
    assert "x-amz-security-token" in c["signed_headers"]
    assert f"credentials of the instance role '{imds_mod.DEFAULT_ROLE}'" in r.stdout
    assert_no_secrets(r)


def test_tags_ec2_environment_credentials_first(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2", env=ENV_CREDS)
    assert r.returncode == 0, r
    c = describe_calls(ec2)[0]
    assert c["access_key"] == "AKIDEXAMPLE" and c["verified"]
    assert "X-Amz-Security-Token" not in c["headers"]
    assert imds.count("meta-data/iam/security-credentials/") == 0
    assert_no_secrets(r)


def test_tags_ec2_environment_session_token(deploy, imds, ec2):
    ec2.state.set_credentials("ASIAENVEXAMPLE", "envSecret/abc", "envSessionToken+xyz=")
    env = {"AWS_ACCESS_KEY_ID": "ASIAENVEXAMPLE", "AWS_SECRET_ACCESS_KEY": "envSecret/abc",
           "AWS_SESSION_TOKEN": "envSessionToken+xyz="}
    r = run(deploy, {"Role": "api"}, source="ec2", env=env)
    assert r.returncode == 0, r
    assert describe_calls(ec2)[0]["headers"]["X-Amz-Security-Token"] == "envSessionToken+xyz="
    for s in env.values():
        assert s not in r.stdout


def test_tags_ec2_key_without_secret_is_config_error(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, source="ec2", env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r
    assert "AWS_SECRET_ACCESS_KEY is not" in r.verdict
    assert ec2.calls == 0


def test_tags_ec2_no_role_no_credentials(deploy, imds, ec2):
    imds.state.role = None
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 77, r
    assert "no IAM role" in r.verdict
    assert ec2.calls == 0


def test_tags_ec2_role_credentials_not_success(deploy, imds, ec2):
    creds = imds_mod.default_credentials()
    creds["Code"] = "AssumeRoleUnauthorizedAccess"
    imds.state.credentials = creds
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert r.returncode == 77, r
    assert "AssumeRoleUnauthorizedAccess" in r.verdict
    assert_no_secrets(r)


def test_tags_ec2_role_credentials_expired(deploy, imds, ec2):
    creds = imds_mod.default_credentials()
    creds["Expiration"] = "2001-01-01T00:00:00Z"
    imds.state.credentials = creds
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert r.returncode == 77, r
    assert "already expired" in r.verdict, r
    assert ec2.calls == 0


def test_tags_ec2_role_credentials_near_expiry_fetched_each_use(deploy, imds, ec2):
    """Credentials under 5 minutes from Expiration are fetched again before
    each request (IMDS has fresh ones by then)."""
    creds = imds_mod.default_credentials()
    creds["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    imds.state.credentials = creds
    ec2.state.throttle(count=1)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert r.returncode == 0, r
    role_item = "meta-data/iam/security-credentials/" + imds_mod.DEFAULT_ROLE
    # open + one fetch before each of the two attempts
    assert imds.count(role_item) == 3, imds.count(role_item)


def test_tags_ec2_role_credentials_fresh_fetched_once(deploy, imds, ec2):
    ec2.state.throttle(count=2)
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert r.returncode == 0, r
    assert imds.count("meta-data/iam/security-credentials/" + imds_mod.DEFAULT_ROLE) == 1


def test_tags_ec2_malformed_role_document(deploy, imds, ec2):
    imds.state.credentials = '{"Code": "Success", "AccessKeyId": '
    r = run(deploy, {"Role": "api"}, source="ec2")
    assert r.returncode == 69, r
    assert "not a JSON object" in r.verdict


def test_tags_ec2_role_document_turning_bad_mid_run_fails_at_once(deploy, imds, ec2):
    """Credentials near expiry are fetched again before the retry; when that
    document is broken the hook fails then, without more EC2 attempts."""
    creds = imds_mod.default_credentials()
    creds["Expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    imds.state.credentials = creds
    role_item = "meta-data/iam/security-credentials/" + imds_mod.DEFAULT_ROLE
    bad = imds.state.add_fault("garbage", match=role_item, skip=2)
    ec2.state.throttle(count=None)
    r = run(deploy, {"Role": "api"}, source="ec2", timeout=20)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert f"instance role '{imds_mod.DEFAULT_ROLE}'" in r.verdict, r
    assert bad.hits == 1 and len(describe_calls(ec2)) == 1, r
    assert r.elapsed < 10 + SLACK, r


def test_tags_credentials_never_printed_on_failures(deploy, imds, ec2):
    imds.state.tags_mode = "disabled-404"
    for code in ("SignatureDoesNotMatch", "AuthFailure", "InternalError"):
        ec2.state.clear_faults()
        ec2.state.error(code, count=1 if code == "InternalError" else None)
        r = run(deploy, {"Role": "api"}, timeout=3)
        assert_no_secrets(r)
        r = run(deploy, {"Role": "api"}, env=ENV_CREDS, timeout=3)
        assert_no_secrets(r)


# ---------------------------------------------------------------------------
# the marker's recorded tags


def marker_run(deploy, tmp_path, tags, live_cfg=None, timeout=2, source="auto"):
    path = tmp_path / "state" / "provisioned"
    write_marker(path, marker_text(tags=tags))
    extra = f"[marker]\npath = {path}\n"
    d = deploy(config(live_cfg or {}, source=source, timeout=timeout,
                      checks="lifecycle marker tags", extra=extra))
    return d.run("before-install", env=FAST)


def test_tags_marker_tags_equal_live_pass(deploy, imds, ec2, tmp_path):
    r = marker_run(deploy, tmp_path, {"Role": "api", "Env": "production"})
    assert_agent_clean(r, "PASS")
    assert "tags ok" in r.verdict


def test_tags_marker_tags_mismatch_fails(deploy, imds, ec2, tmp_path):
    r = marker_run(deploy, tmp_path, {"Role": "web"}, {"Env": "*"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 1, r
    assert "marker has Role='web' but the instance has 'api'" in r.verdict, r


def test_tags_marker_tag_absent_on_instance_fails(deploy, imds, ec2, tmp_path):
    r = marker_run(deploy, tmp_path, {"Role": "api", "Tier": "blue"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2, r
    assert "marker has Tier='blue' but the instance has no Tier" in r.verdict, r


def test_tags_marker_tags_checked_through_ec2(deploy, imds, ec2, tmp_path):
    imds.state.tags_mode = "disabled-empty"
    r = marker_run(deploy, tmp_path, {"Role": "web"})
    assert r.returncode == 1, r
    assert "marker has Role='web' but the instance has 'api'" in r.verdict, r
    assert describe_calls(ec2)


# ---------------------------------------------------------------------------
# instance metadata behaviour, seen through the tags check


def test_imds_401_gets_one_fresh_token(deploy, imds, ec2):
    imds.state.fail(401, match=TAGS_ITEM, count=1)
    r = run(deploy, {"Role": "api"})
    assert_agent_clean(r, "PASS")
    assert imds.count("/latest/api/token", "PUT") == 2


def test_imds_401_twice_fails(deploy, imds, ec2):
    imds.state.fail(401, match=TAGS_ITEM, count=2)
    r = run(deploy, {"Role": "api"}, checks="tags")
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "refused a fresh token" in r.verdict, r
    assert imds.count("/latest/api/token", "PUT") == 2


def test_imds_403_disabled_fails_at_once(deploy, imds, ec2):
    imds.state.fail(403, match="api/token")
    r = run(deploy, {"Role": "api"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "disabled" in r.verdict, r
    assert imds.count("/latest/api/token", "PUT") == 1
    assert r.elapsed < 3 + SLACK


def test_imds_403_on_item_fails(deploy, imds, ec2):
    imds.state.fail(403, match=TAGS_ITEM)
    r = run(deploy, {"Role": "api"}, checks="tags")
    assert r.returncode == 69, r
    assert "disabled (403)" in r.verdict, r
    assert imds.count(TAGS_ITEM) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_imds_retried_then_success(deploy, imds, ec2, status):
    imds.state.fail(status, match=TAGS_ITEM + "/Role", count=2)
    r = run(deploy, {"Role": "api"})
    assert_agent_clean(r, "PASS")
    assert imds.count(TAGS_ITEM + "/Role") == 3


def test_imds_timeout_retried(deploy, imds, ec2):
    imds.state.hang(match=TAGS_ITEM, count=1)
    r = run(deploy, {"Role": "api"}, timeout=10)
    assert_agent_clean(r, "PASS")
    assert imds.count(TAGS_ITEM) == 2
    assert r.elapsed >= 1.9


def test_imds_429_until_deadline(deploy, imds, ec2):
    imds.state.fail(429, match=TAGS_ITEM)
    r = run(deploy, {"Role": "api"}, timeout=2)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "HTTP 429" in r.verdict, r
    assert 1.7 <= r.elapsed < 4 + SLACK, r


def test_imds_404_on_key_is_missing(deploy, imds, ec2):
    imds.state.items = {TAGS_ITEM + "/Role": None}
    r = run(deploy, {"Role": "api"}, timeout=1)
    assert r.returncode == 2, r
    assert "Role is missing" in r.verdict


def test_imds_disabled_by_environment(deploy, imds, ec2):
    r = run(deploy, {"Role": "api"}, checks="tags", env={"AWS_EC2_METADATA_DISABLED": "true"})
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 69, r
    assert "AWS_EC2_METADATA_DISABLED" in r.verdict
    assert not imds.log


def test_tags_with_imds_off_is_config_error(deploy, imds, ec2):
    d = deploy("[gate]\nimds = no\n[tags]\nRole = api\n[BeforeInstall]\nchecks = tags\n")
    r = d.run("before-install", env=FAST)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r
    assert "imds = no" in r.verdict


def test_no_tags_required_passes_without_requests(deploy, imds, ec2):
    d = deploy("[BeforeInstall]\nchecks = tags\n")
    r = d.run("before-install", env=FAST)
    assert_agent_clean(r, "PASS")
    assert "no tags required" in r.verdict
    assert not imds.log and ec2.calls == 0


def test_tags_terminating_instance_stops_waiting(deploy, imds, ec2):
    t = change_after(lambda: imds.count(TAGS_ITEM) >= 1,
                     lambda: setattr(imds.state, "lifecycle_state", "Terminated"))
    try:
        r = run(deploy, {"Tier": "web"}, timeout=30)
    finally:
        t.join()
    assert_agent_clean(r, "SKIP")
    assert "Terminated" in r.verdict, r
    assert r.elapsed < 10 + SLACK, r


def test_tags_many_missing_keys_keep_the_story_whole(deploy, imds, tmp_path):
    """40 missing keys: each is named on a line of its own (all 40, in
    order), every output line is whole (no cut piece of a problem), the
    verdict starts with the counts and names what fits on its line, within
    the agent's 2 KB tail."""
    m = tmp_path / "state" / "provisioned"
    write_marker(m, marker_text())
    keys = "".join(f"Key{i:02d}WithALongishName = v\n" for i in range(40))
    r = deploy(f"[gate]\ntimeout = 2\n[marker]\npath = {m}\n[tags]\nsource = imds\n{keys}"
               ).run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2
    assert "(instance metadata, 40 missing, 0 mismatched)" in r.verdict
    problems = [ln for ln in r.output if ln.startswith("cdgate: BeforeInstall: tags: ")
                and not ln.startswith("cdgate: BeforeInstall: tags: waiting")
                and not ln.startswith("cdgate: BeforeInstall: tags: reading")]
    assert problems == [f"cdgate: BeforeInstall: tags: Key{i:02d}WithALongishName is missing"
                        for i in range(40)], problems
    # the verdict line is capped (its end is cut): the counts come first
    assert r.verdict.startswith("cdgate: BeforeInstall: FAIL: tags not as required "), r.verdict
    assert r.verdict in r.tail
