"""Tests of the test infrastructure itself: the IMDS and EC2 stand-ins and
the agent-faithful runner.  No cdgate program is needed."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lib.agent import (CHECK_ENV, HOOK_EVENTS, AGENT_PATH, ScriptLog, assert_agent_clean,
                       make_archive, run_hook, run_program)
from standin import ec2 as ec2_mod
from standin.ec2 import call, parse_error, parse_tags
from lib.agent import SLACK  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent.parent
INSTANCE = "i-0123456789abcdef0"

# ---------------------------------------------------------------------------
# IMDS helpers


def imds_request(srv, method, item, token=None, ttl=None, timeout=5.0):
    path = item if item.startswith("/") else "/latest/" + item
    headers = {}
    if token is not None:
        headers["X-aws-ec2-metadata-token"] = token
    if ttl is not None:
        headers["X-aws-ec2-metadata-token-ttl-seconds"] = str(ttl)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request(method, path, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def get_token(srv, ttl=60):
    status, body = imds_request(srv, "PUT", "api/token", ttl=ttl)
    assert status == 200, body
    return body.decode()


def imds_get(srv, item, token):
    return imds_request(srv, "GET", item, token=token)


# ---------------------------------------------------------------------------
# IMDS


def test_imds_token_required(imds):
    assert imds_request(imds, "GET", "meta-data/instance-id")[0] == 401
    assert imds_get(imds, "meta-data/instance-id", "not-a-token")[0] == 401
    tok = get_token(imds)
    assert imds_get(imds, "meta-data/instance-id", tok) == (200, INSTANCE.encode())
    assert imds_request(imds, "GET", "api/token")[0] == 405


@pytest.mark.parametrize("ttl,status", [(None, 400), ("", 400), ("abc", 400), (0, 400),
                                        (-5, 400), (21601, 400), (1, 200), (21600, 200)])
def test_imds_ttl_checked(imds, ttl, status):
    assert imds_request(imds, "PUT", "api/token", ttl=ttl)[0] == status


def test_imds_token_revocation_and_expiry(imds):
    tok = get_token(imds)
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 200
    imds.state.revoke_tokens()
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 401
    tok2 = get_token(imds)
    assert tok2 != tok
    assert imds_get(imds, "meta-data/instance-id", tok2)[0] == 200
    short = get_token(imds, ttl=1)
    assert imds_get(imds, "meta-data/instance-id", short)[0] == 200
    time.sleep(1.05)
    assert imds_get(imds, "meta-data/instance-id", short)[0] == 401
    log = imds.requests(path="/latest/meta-data/instance-id")
    assert [e["token_ok"] for e in log] == [True, False, True, True, False]


def test_imds_items(imds):
    tok = get_token(imds)
    assert imds_get(imds, "meta-data/placement/region", tok) == (200, b"us-east-1")
    assert imds_get(imds, "meta-data/services/domain", tok) == (200, b"amazonaws.com")
    status, doc = imds_get(imds, "dynamic/instance-identity/document", tok)
    doc = json.loads(doc)
    assert status == 200
    for k in ("instanceId", "region", "accountId", "availabilityZone", "imageId",
              "instanceType", "pendingTime"):
        assert doc[k]
    assert doc["instanceId"] == INSTANCE and doc["region"] == "us-east-1"
    assert imds_get(imds, "meta-data/autoscaling/target-lifecycle-state", tok) == \
        (200, b"InService")
    imds.state.lifecycle_state = None
    assert imds_get(imds, "meta-data/autoscaling/target-lifecycle-state", tok)[0] == 404
    status, role = imds_get(imds, "meta-data/iam/security-credentials/", tok)
    assert status == 200
    status, creds = imds_get(imds, f"meta-data/iam/security-credentials/{role.decode()}", tok)
    creds = json.loads(creds)
    assert set(creds) >= {"Code", "Type", "AccessKeyId", "SecretAccessKey", "Token",
                          "Expiration", "LastUpdated"}
    imds.state.role = None
    assert imds_get(imds, "meta-data/iam/security-credentials/", tok)[0] == 404
    assert imds_get(imds, "meta-data/no-such-item", tok)[0] == 404
    assert imds_request(imds, "GET", "/other", token=tok)[0] == 404
    imds.state.items["meta-data/instance-id"] = "i-0fedcba9876543210"
    assert imds_get(imds, "meta-data/instance-id", tok) == (200, b"i-0fedcba9876543210")
    imds.reset()
    tok = get_token(imds)
    assert imds_get(imds, "meta-data/instance-id", tok) == (200, INSTANCE.encode())


SPOT = "meta-data/spot/instance-action"
REBALANCE = "meta-data/events/recommendations/rebalance"
SCHEDULED = "meta-data/events/maintenance/scheduled"


def test_imds_notices_default_set_and_switched(imds):
    tok = get_token(imds)
    # defaults: no spot notice, no rebalance recommendation, no event
    assert imds_get(imds, SPOT, tok)[0] == 404
    assert imds_get(imds, REBALANCE, tok)[0] == 404
    assert imds_get(imds, SCHEDULED, tok) == (200, b"[]")
    assert b"spot/" not in imds_get(imds, "meta-data", tok)[1]
    # set during a run: the next request sees it
    imds.state.spot_action = {"action": "terminate", "time": "2026-12-06T12:00:00Z"}
    imds.state.rebalance = {"noticeTime": "2026-12-06T11:58:00Z"}
    event = {"NotBefore": "21 Jan 2019 09:00:43 GMT", "Code": "system-reboot",
             "Description": "scheduled reboot",
             "EventId": "instance-event-0d59937288b749b32",
             "NotAfter": "21 Jan 2019 09:17:23 GMT", "State": "active"}
    imds.state.scheduled_events = [event]
    status, body = imds_get(imds, SPOT, tok)
    assert status == 200 and json.loads(body) == imds.state.spot_action
    assert json.loads(imds_get(imds, REBALANCE, tok)[1]) == \
        {"noticeTime": "2026-12-06T11:58:00Z"}
    assert json.loads(imds_get(imds, SCHEDULED, tok)[1]) == [event]
    assert b"spot/" in imds_get(imds, "meta-data", tok)[1]
    # verbatim bodies (malformed ones for the fail-closed tests), and 404
    imds.state.spot_action = '{"action": "reboot"'
    imds.state.scheduled_events = b"\xff["
    imds.state.rebalance = ""
    assert imds_get(imds, SPOT, tok) == (200, b'{"action": "reboot"')
    assert imds_get(imds, SCHEDULED, tok) == (200, b"\xff[")
    assert imds_get(imds, REBALANCE, tok) == (200, b"")
    imds.state.scheduled_events = None
    assert imds_get(imds, SCHEDULED, tok)[0] == 404
    # faults apply to them like to any item
    imds.state.oversized(SCHEDULED, count=1, size=2_000_000)
    imds.state.scheduled_events = []
    status, body = imds_get(imds, SCHEDULED, tok)
    assert status == 200 and len(body) == 2_000_000 and body.startswith(b"[]")
    imds.reset()
    tok = get_token(imds)
    assert imds_get(imds, SPOT, tok)[0] == 404
    assert imds_get(imds, SCHEDULED, tok) == (200, b"[]")


def test_imds_tags_modes(imds):
    tok = get_token(imds)
    status, keys = imds_get(imds, "meta-data/tags/instance", tok)
    assert status == 200 and sorted(keys.decode().split("\n")) == ["Env", "Role"]
    assert imds_get(imds, "meta-data/tags/instance/Role", tok) == (200, b"api")
    assert imds_get(imds, "meta-data/tags/instance/Missing", tok)[0] == 404
    imds.state.tags["Role"] = "web"
    assert imds_get(imds, "meta-data/tags/instance/Role", tok) == (200, b"web")
    imds.state.tags_mode = "disabled-404"
    assert imds_get(imds, "meta-data/tags/instance", tok)[0] == 404
    assert imds_get(imds, "meta-data/tags/instance/Role", tok)[0] == 404
    imds.state.tags_mode = "disabled-empty"
    assert imds_get(imds, "meta-data/tags/instance", tok) == (200, b"")
    assert imds_get(imds, "meta-data/tags/instance/Role", tok)[0] == 404


def test_imds_fault_status_count_and_pattern(imds):
    tok = get_token(imds)
    f = imds.state.fail(500, "meta-data/tags/*", count=2)
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 200      # not matched
    assert imds_get(imds, "meta-data/tags/instance/Role", tok)[0] == 500
    assert imds_get(imds, "/latest/meta-data/tags/instance", tok)[0] == 500
    assert imds_get(imds, "meta-data/tags/instance/Role", tok)[0] == 200
    assert f.hits == 2 and imds.state.faults == []
    imds.state.fail(403)                                               # IMDS disabled
    assert imds_request(imds, "PUT", "api/token", ttl=60)[0] == 403
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 403
    imds.state.clear_faults()
    imds.state.fail(429, "api/token", count=1)
    assert imds_request(imds, "PUT", "api/token", ttl=60)[0] == 429
    assert imds_request(imds, "PUT", "api/token", ttl=60)[0] == 200


def test_imds_fault_delay_hang_disconnect(imds):
    tok = get_token(imds)
    imds.state.delay(0.3, "meta-data/instance-id", count=1)
    t = time.monotonic()
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 200
    assert time.monotonic() - t >= 0.29
    imds.state.hang("meta-data/instance-id", count=1)
    with pytest.raises(socket.timeout):
        imds_request(imds, "GET", "meta-data/instance-id", token=tok, timeout=0.3)
    imds.state.disconnect("meta-data/instance-id", count=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        imds_get(imds, "meta-data/instance-id", tok)
    imds.state.disconnect("meta-data/instance-id", count=1, rst=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        imds_get(imds, "meta-data/instance-id", tok)
    imds.state.truncate("meta-data/instance-id", count=1)
    with pytest.raises(http.client.IncompleteRead):
        imds_get(imds, "meta-data/instance-id", tok)
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 200


def test_imds_hang_released_by_reset(imds):
    tok = get_token(imds)
    imds.state.hang()
    s = socket.create_connection(("127.0.0.1", imds.port), timeout=5)
    s.sendall(f"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n"
              f"X-aws-ec2-metadata-token: {tok}\r\n\r\n".encode())
    time.sleep(0.1)
    imds.reset()
    assert s.recv(100) == b""        # closed without an answer, not left hanging
    s.close()


def test_imds_fault_bodies(imds):
    tok = get_token(imds)
    imds.state.garbage("meta-data/instance-id", count=1)
    status, body = imds_get(imds, "meta-data/instance-id", tok)
    assert status == 200 and b"\x00" in body
    imds.state.invalid_utf8("meta-data/tags/instance/Role", count=1)
    status, body = imds_get(imds, "meta-data/tags/instance/Role", tok)
    assert status == 200
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    imds.state.oversized("dynamic/*", count=1, size=200_000)
    status, body = imds_get(imds, "dynamic/instance-identity/document", tok)
    assert status == 200 and len(body) == 200_000
    imds.state.fail(500, count=1, body=b"custom")
    assert imds_get(imds, "meta-data/instance-id", tok) == (500, b"custom")


def test_imds_one_write_keepalive_nodelay(imds):
    tok = get_token(imds)
    s = socket.create_connection(("127.0.0.1", imds.port), timeout=5)
    try:
        for _ in range(3):       # several requests on one connection
            s.sendall(f"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n"
                      f"X-aws-ec2-metadata-token: {tok}\r\n\r\n".encode())
            data = s.recv(65536)            # the whole reply arrives at once
            head, _, body = data.partition(b"\r\n\r\n")
            m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
            assert m and int(m.group(1)) == len(body) == len(INSTANCE), data
            assert b"Connection: keep-alive" in head
        with imds._lock:
            conns = list(imds._conns)
        assert conns and all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                             for c in conns)
        s.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 401") and b"Connection: close" in data
        assert s.recv(10) == b""
    finally:
        s.close()


def test_imds_counts_and_reset(imds):
    tok = get_token(imds)
    for _ in range(3):
        imds_get(imds, "meta-data/instance-id", tok)
    assert imds.counts[("PUT", "/latest/api/token")] == 1
    assert imds.count("meta-data/instance-id") == 3
    imds.state.fail(500)
    imds.reset()
    assert imds.count("meta-data/instance-id") == 0 and not imds.log
    assert imds.state.faults == []
    assert imds_get(imds, "meta-data/instance-id", tok)[0] == 401   # tokens revoked


def _standalone(script, state_file, *extra):
    p = subprocess.Popen([sys.executable, str(TESTS_DIR / "standin" / script),
                          "--port", "0", "--state", str(state_file), *extra],
                         stdout=subprocess.PIPE, text=True, cwd="/")
    line = p.stdout.readline()
    m = re.fullmatch(r"listening on (\d+)\n", line)
    assert m, line
    return p, int(m.group(1))


def test_imds_standalone_reloads_state(tmp_path):
    sf = tmp_path / "imds.json"
    sf.write_text(json.dumps({"instance_id": "i-00000000000000001",
                              "tags": {"Role": "db"}}))
    p, port = _standalone("imds.py", sf)
    try:
        srv = type("S", (), {"port": port})
        tok = get_token(srv)
        assert imds_get(srv, "meta-data/instance-id", tok) == (200, b"i-00000000000000001")
        assert imds_get(srv, "meta-data/tags/instance/Role", tok) == (200, b"db")
        sf.write_text(json.dumps({"instance_id": "i-00000000000000002",
                                  "faults": [{"kind": "status", "status": 429,
                                              "match": "meta-data/tags/*"}]}))
        os.utime(sf, ns=(time.time_ns() + 10**9,) * 2)      # mtime surely changes
        assert imds_get(srv, "meta-data/instance-id", tok) == (200, b"i-00000000000000002")
        assert imds_get(srv, "meta-data/tags/instance/Role", tok)[0] == 429
        assert imds_get(srv, SPOT, tok)[0] == 404
        sf.write_text(json.dumps({"spot_action": {"action": "stop",
                                                  "time": "2026-12-06T12:00:00Z"},
                                  "scheduled_events": None}))
        os.utime(sf, ns=(time.time_ns() + 2 * 10**9,) * 2)
        assert json.loads(imds_get(srv, SPOT, tok)[1])["action"] == "stop"
        assert imds_get(srv, SCHEDULED, tok)[0] == 404
    finally:
        p.terminate()
        p.wait(5)


# ---------------------------------------------------------------------------
# EC2


def describe(srv, params=None, **kw):
    status, body, _ = call(srv.url, "DescribeTags", params, **kw)
    return status, body


def test_ec2_accepts_botocore_signature(ec2):
    status, body = describe(ec2, {"Filter.1.Name": "resource-id",
                                  "Filter.1.Value.1": INSTANCE})
    assert status == 200, body
    root = ET.fromstring(body)
    assert root.tag == "{http://ec2.amazonaws.com/doc/2016-11-15/}DescribeTagsResponse"
    items, nxt = parse_tags(body)
    assert {i["key"]: i["value"] for i in items} == {"Role": "api", "Env": "production"}
    assert all(i["resourceType"] == "instance" for i in items) and nxt is None
    rec = ec2.log[-1]
    assert rec["action"] == "DescribeTags" and rec["verified"] is True
    assert (rec["region"], rec["service"], rec["access_key"]) == \
        ("us-east-1", "ec2", "AKIDEXAMPLE")
    assert rec["params"]["Filter.1.Value.1"] == INSTANCE


def test_ec2_rejects_bad_signatures(ec2):
    status, body = describe(ec2, secret_key="wrong-secret")
    assert status == 403 and parse_error(body)[0] == "SignatureDoesNotMatch"
    status, body = describe(ec2, tamper=lambda b: b.replace(b"DescribeTags", b"CreateTags"))
    assert status == 403 and parse_error(body)[0] == "SignatureDoesNotMatch"
    status, body = describe(ec2, access_key="AKIDUNKNOWN")
    assert status == 401 and parse_error(body)[0] == "AuthFailure"
    status, body = describe(ec2, timestamp=time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 16 * 60)))
    assert status == 400 and parse_error(body)[0] == "RequestExpired"
    status, body = describe(ec2, region="us-west-2")
    assert status == 403 and parse_error(body)[0] == "SignatureDoesNotMatch"
    assert [r["verified"] for r in ec2.log] == [False] * 5
    assert describe(ec2, timestamp=time.strftime(
        "%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 10 * 60)))[0] == 200


VECTORS = TESTS_DIR / "vectors" / "sigv4"         # the AWS suite, see its README.md
VECTOR_CASES = ["get-vanilla", "post-vanilla", "post-x-www-form-urlencoded",
                "post-x-www-form-urlencoded-parameters", "get-header-key-duplicate",
                "get-header-value-order", "get-header-value-trim", "post-header-key-sort",
                "post-header-key-case", "post-header-value-case", "get-vanilla-query",
                "get-vanilla-with-session-token"]


@pytest.mark.parametrize("case", VECTOR_CASES)
def test_ec2_verifier_against_aws_vectors(case):
    """The verifier accepts the AWS suite's signed requests, and rejects
    them once one signature digit changes."""
    sreq = VECTORS / case / f"{case}.sreq"
    assert sreq.is_file(), f"no SigV4 vector {sreq}: the suite belongs in the repository"
    import email.message
    text = sreq.read_bytes().decode("utf-8")
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, target, _ = request_line.split(" ")
    headers = email.message.Message()
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.lower() != "authorization":
            headers[name] = value
    # the expected header (.authz); one .sreq carries a bogus signature
    headers["Authorization"] = (VECTORS / case / f"{case}.authz").read_text().strip()
    now = 1440938160.0                                  # 20150830T123600Z
    token = headers.get("X-Amz-Security-Token")
    lookup = {"AKIDEXAMPLE": ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)}.get
    url = "https://" + headers["Host"] + target
    chk = ec2_mod.verify_sigv4(method, url, headers, body.encode(), lookup,
                               region="us-east-1", service="service", now=now)
    assert chk.ok, (chk.code, chk.message, chk.canonical_request)
    assert chk.canonical_request == (VECTORS / case / f"{case}.creq").read_text()
    auth = headers["Authorization"]
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    del headers["Authorization"]
    headers["Authorization"] = flipped
    chk = ec2_mod.verify_sigv4(method, url, headers, body.encode(), lookup,
                               region="us-east-1", service="service", now=now)
    assert not chk.ok and chk.code == "SignatureDoesNotMatch"


def test_ec2_session_token(ec2):
    ec2.state.set_credentials("ASIAEXAMPLE", "session-secret", "the-token")
    kw = dict(access_key="ASIAEXAMPLE", secret_key="session-secret")
    assert describe(ec2, token="the-token", **kw)[0] == 200
    for bad in (None, "other-token"):
        status, body = describe(ec2, token=bad, **kw)
        assert status == 401 and parse_error(body)[0] == "AuthFailure"
    status, body = describe(ec2, token="unexpected")       # long-term key + token
    assert status == 401 and parse_error(body)[0] == "AuthFailure"


def test_ec2_filters_and_pagination(ec2):
    ec2.state.set_tags("i-0aaaaaaaaaaaaaaa1", {f"K{i:02d}": f"v{i}" for i in range(12)})
    one = {"Filter.1.Name": "resource-id", "Filter.1.Value.1": "i-0aaaaaaaaaaaaaaa1"}
    seen, token, pages = [], None, 0
    while True:
        params = dict(one, MaxResults="5", **({"NextToken": token} if token else {}))
        status, body = describe(ec2, params)
        assert status == 200, body
        items, token = parse_tags(body)
        seen += [i["key"] for i in items]
        pages += 1
        if not token:
            break
    assert pages == 3 and seen == [f"K{i:02d}" for i in range(12)]
    for bad in ("4", "1001", "x"):
        status, body = describe(ec2, dict(one, MaxResults=bad))
        assert status == 400 and parse_error(body)[0] == "InvalidParameterValue"
    status, body = describe(ec2, {"NextToken": "bogus"})
    assert status == 400 and parse_error(body)[0] == "InvalidPaginationToken"
    ec2.state.page_size = 1                  # forced, whatever MaxResults says
    items, token = parse_tags(describe(ec2, dict(one, MaxResults="1000"))[1])
    assert len(items) == 1 and token
    ec2.state.page_size = None
    status, body = describe(ec2, {"Filter.1.Name": "key", "Filter.1.Value.1": "Role",
                                  "Filter.1.Value.2": "K03",
                                  "Filter.2.Name": "value", "Filter.2.Value.1": "ap*"})
    assert [(i["resourceId"], i["key"]) for i in parse_tags(body)[0]] == [(INSTANCE, "Role")]
    status, body = describe(ec2, {"Filter.1.Name": "bogus", "Filter.1.Value.1": "x"})
    assert status == 400 and parse_error(body)[0] == "InvalidParameterValue"


def test_ec2_create_tags_and_visibility_delay(ec2):
    status, body, _ = call(ec2.url, "CreateTags", {
        "ResourceId.1": INSTANCE, "Tag.1.Key": "Provisioned", "Tag.1.Value": "yes"})
    assert status == 200 and b"<return>true</return>" in body
    assert ET.fromstring(body).tag.endswith("CreateTagsResponse")
    assert ec2.state.visible_tags(INSTANCE)["Provisioned"] == "yes"
    ec2.state.visibility_delay = 0.3
    call(ec2.url, "CreateTags", {"ResourceId.1": INSTANCE, "Tag.1.Key": "Role",
                                 "Tag.1.Value": "web", "Tag.2.Key": "New"})
    keyf = {"Filter.1.Name": "resource-id", "Filter.1.Value.1": INSTANCE}
    tags = {i["key"]: i["value"] for i in parse_tags(describe(ec2, keyf)[1])[0]}
    assert tags["Role"] == "api" and "New" not in tags          # not visible yet
    assert ec2.state.latest_tags(INSTANCE)["Role"] == "web"
    time.sleep(0.35)
    tags = {i["key"]: i["value"] for i in parse_tags(describe(ec2, keyf)[1])[0]}
    assert tags["Role"] == "web" and tags["New"] == ""
    status, body, _ = call(ec2.url, "CreateTags", {"ResourceId.1": INSTANCE,
                                                    "Tag.1.Key": "aws:x"})
    assert status == 400 and parse_error(body)[0] == "InvalidParameterValue"
    assert [r["action"] for r in ec2.actions("CreateTags", verified=True)] == \
        ["CreateTags"] * 3


def test_ec2_throttling(ec2):
    ec2.state.throttle(2)
    for _ in range(2):
        status, body = describe(ec2)
        assert status == 503 and parse_error(body)[0] == "RequestLimitExceeded"
    assert describe(ec2)[0] == 200
    ec2.state.throttle(1, code="Throttling")
    status, body = describe(ec2)
    assert status == 429 and parse_error(body)[0] == "Throttling"
    assert (ec2.calls, ec2.throttled) == (4, 3)
    ec2.state.token_bucket(rate=0.01, burst=3)
    results = [describe(ec2)[0] for _ in range(5)]
    assert results == [200, 200, 200, 503, 503]
    assert ec2.throttled == 5
    ec2.state.token_bucket(None)
    assert describe(ec2)[0] == 200


def test_ec2_forced_errors_and_bodies(ec2):
    ec2.state.error("UnauthorizedOperation", count=1)
    status, body = describe(ec2)
    assert status == 403 and parse_error(body) == \
        ("UnauthorizedOperation", "You are not authorized to perform this operation.")
    assert re.search(rb"<Response><Errors><Error><Code>.*</Code><Message>.*</Message>"
                     rb"</Error></Errors><RequestID>.+</RequestID></Response>", body)
    for code, st in (("AuthFailure", 401), ("InvalidClientTokenId", 401),
                     ("SignatureDoesNotMatch", 403), ("RequestExpired", 400)):
        ec2.state.error(code, count=1)
        status, body = describe(ec2)
        assert (status, parse_error(body)[0]) == (st, code)
    for st in (500, 503):
        ec2.state.fail(st, count=1)
        status, body = describe(ec2)
        assert status == st and parse_error(body)[0] in ("InternalError", "Unavailable")
    for st in (502, 504):
        ec2.state.fail(st, count=1)
        status, body = describe(ec2)
        assert status == st and b"<html>" in body
    ec2.state.malformed(count=1)
    status, body = describe(ec2)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    ec2.state.huge(count=1)
    status, body = describe(ec2)
    assert status == 200 and len(body) >= 5 * 1024 * 1024
    ET.fromstring(body)
    ec2.state.invalid_utf8(count=1)
    status, body = describe(ec2)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    ec2.state.delay(0.2, count=1)
    t = time.monotonic()
    assert describe(ec2)[0] == 200 and time.monotonic() - t >= 0.19
    ec2.state.hang(count=1)
    with pytest.raises(socket.timeout):
        describe(ec2, timeout=0.3)
    ec2.state.xml_style = "reordered"
    items, _ = parse_tags(describe(ec2)[1])
    assert {i["key"] for i in items} == {"Role", "Env"}


def test_ec2_tls(ec2_tls):
    assert ec2_tls.url.startswith("https://127.0.0.1:") and ec2_tls.ca_file
    status, body, _ = call(ec2_tls.url, "DescribeTags", ca_file=ec2_tls.ca_file)
    assert status == 200 and ec2_tls.log[-1]["verified"]
    with pytest.raises(ssl.SSLError):
        call(ec2_tls.url, "DescribeTags")            # untrusted without the CA


def test_ec2_standalone(tmp_path):
    sf = tmp_path / "ec2.json"
    sf.write_text(json.dumps({"tags": {"i-0bbbbbbbbbbbbbbb2": {"Role": "worker"}},
                              "bucket": {"rate": 100, "burst": 50}}))
    p, port = _standalone("ec2.py", sf)
    try:
        status, body, _ = call(f"http://127.0.0.1:{port}", "DescribeTags")
        assert status == 200
        assert [(i["resourceId"], i["value"]) for i in parse_tags(body)[0]] == \
            [("i-0bbbbbbbbbbbbbbb2", "worker")]
    finally:
        p.terminate()
        p.wait(5)


def test_ec2_state_json_roundtrip(ec2):
    ec2.state.throttle(3)
    d = json.loads(json.dumps(ec2.state.to_dict()))
    st = ec2_mod.Ec2State()
    st.load_dict(d)
    assert st.visible_tags(INSTANCE) == {"Role": "api", "Env": "production"}
    assert [f.kind for f in st.faults] == ["error"] and st.faults[0].count == 3


# ---------------------------------------------------------------------------
# The agent-faithful runner


def hook_script(tmp_path, body, name="before-install", **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / f"{name}.src"
    src.write_text("#!/bin/sh\n" + body)
    arc = make_archive(tmp_path / "agent", {f"cdgate/{name}": src}, **kw)
    return arc, arc.program(name)


def test_archive_layout(tmp_path):
    arc, prog = hook_script(tmp_path, "echo hi\n", config="[gate]\ntimeout = 5\n",
                            files={"extra/file.txt": "x"})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        arc.group_id)
    assert re.fullmatch(r"d-[A-Z0-9]{9}", arc.deployment_id)
    assert prog == tmp_path / "agent" / arc.group_id / arc.deployment_id / \
        "deployment-archive" / "cdgate" / "before-install"
    assert prog.stat().st_mode & 0o777 == 0o755
    assert (arc.path / "cdgate" / "cdgate.ini").read_text() == "[gate]\ntimeout = 5\n"
    assert (arc.path / "extra" / "file.txt").read_text() == "x"
    assert "location: cdgate/before-install" in (arc.path / "appspec.yml").read_text()
    r = run_hook(prog, "BeforeInstall")
    log = arc.scripts_log.read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d LifecycleEvent - BeforeInstall$",
                     log, re.M)
    assert "Script - cdgate/before-install\n" in log and " [stdout]hi\n" in log
    assert r.lines == ["[stdout]hi"] and r.ok and r.agent_message is None
    with pytest.raises(ValueError):
        make_archive(tmp_path / "has space", {"x": prog})


def test_hook_process_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALEAK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    monkeypatch.setenv("LANG", "C.UTF-8")
    arc, prog = hook_script(tmp_path, r"""
echo "argc=$#"
echo "argv0=$0"
echo "cwd=$(pwd)"
[ -p /dev/stdin ] && echo "stdin=pipe"
if read -r line; then echo "stdin=data"; else echo "stdin=eof"; fi
set -- $(sed 's/.*) //' /proc/$$/stat)
echo "pid=$$ pgrp=$3"
echo "out=$(readlink /proc/$$/fd/1) err=$(readlink /proc/$$/fd/2)"
env | sort | sed 's/^/env:/'
""")
    r = run_hook(prog, "BeforeInstall", env={"EXTRA": "1", "APPLICATION_NAME": None},
                 bundle={"bucket": "b", "key": "k.zip"})
    out = r.output
    assert r.returncode == 0 and not r.timed_out, r
    assert "argc=0" in out and f"argv0={prog}" in out
    assert "cwd=/" in out and "stdin=pipe" in out and "stdin=eof" in out
    pid, pgrp = re.search(r"pid=(\d+) pgrp=(\d+)", r.stdout).groups()
    assert pid == pgrp
    o, e = re.search(r"out=(\S+) err=(\S+)", r.stdout).groups()
    assert o.startswith("pipe:") and e.startswith("pipe:") and o != e
    env = dict(x[4:].split("=", 1) for x in out if x.startswith("env:"))
    env.pop("PWD", None)     # set by the shell itself
    for k in CHECK_ENV:      # `make asan` passes the sanitizers' settings
        env.pop(k, None)
    assert env == {"PATH": AGENT_PATH, "LIFECYCLE_EVENT": "BeforeInstall",
                   "BUNDLE_BUCKET": "b", "BUNDLE_KEY": "k.zip",
                   "DEPLOYMENT_ID": arc.deployment_id,
                   "DEPLOYMENT_GROUP_NAME": arc.deployment_group_name,
                   "DEPLOYMENT_GROUP_ID": arc.group_id, "EXTRA": "1"}


def test_sigterm_to_group_at_deadline(tmp_path):
    """The agent's timeout: SIGTERM to the whole group, and the pipes closed
    at once: the lines from before stay, those written after are lost (the
    writes fail with EPIPE), the files show that both processes got it (the
    main one waits for its child, which the harness would otherwise kill as
    a leftover before its trap ran).  Each trap writes 0.3 s after the
    signal: the runner closes the pipes right after its SIGTERM, and a write
    racing the close could come first on a loaded machine."""
    got = tmp_path / "got"
    arc, prog = hook_script(tmp_path, f"""
trap '' PIPE
trap 'echo main >> {got}; sleep 0.3; /bin/echo "main got TERM"; echo wrote $? >> {got}; wait; exit 143' TERM
( trap 'echo child >> {got}; sleep 0.3; echo "child got TERM"; exit 0' TERM; while :; do sleep 0.05; done ) &
echo started
while :; do sleep 0.05; done
""")
    r = run_hook(prog, "BeforeInstall", timeout=0.5)
    assert r.timed_out and not r.hung and r.returncode == 143, r
    assert 0.5 <= r.elapsed < 2.0 + SLACK
    assert r.output == ["started"], r
    assert "got TERM" not in r.tail and "got TERM" not in r.stdout, r
    done = got.read_text().split("\n")
    assert "main" in done and "child" in done, done
    assert "wrote 0" not in done, done          # echo failed: the pipe was closed
    assert r.agent_message.endswith("failed to complete in 0.5 seconds")


def test_output_after_sigterm_is_lost_before_kept(tmp_path):
    """What the program wrote before the deadline is all there (log and
    tail), a partial line at the deadline is dropped, nothing after it
    (written 0.3 s after the signal, as above)."""
    arc, prog = hook_script(tmp_path, """
trap '' PIPE
trap 'sleep 0.3; echo "cdgate: BeforeInstall: FAIL: too late"; exit 3' TERM
i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done
printf 'partial'
while :; do sleep 0.05; done
""")
    r = run_hook(prog, "BeforeInstall", timeout=0.5)
    assert r.timed_out and r.returncode == 3, r
    assert r.output == [f"line {i}" for i in range(50)], r
    assert "[stdout]line 49\n" in arc.scripts_log.read_text()
    assert "too late" not in arc.scripts_log.read_text() and "partial" not in r.stdout


def test_sigterm_ignored_is_hung(tmp_path):
    arc, prog = hook_script(tmp_path, "trap '' TERM\necho waiting\nsleep 10\n")
    r = run_hook(prog, "BeforeInstall", timeout=0.3, safety=0.5)
    assert r.timed_out and r.hung and r.returncode is None and r.signal == 9, r
    assert r.elapsed < 3 + SLACK


def test_killed_by_signal(tmp_path):
    arc, prog = hook_script(tmp_path, "kill -SEGV $$\n")
    r = run_hook(prog, "BeforeInstall")
    assert r.returncode is None and r.signal == 11 and not r.timed_out
    assert r.agent_message.endswith("failed with exit code ")


def test_pipes_held_by_child(tmp_path):
    arc, prog = hook_script(tmp_path, "sleep 5 &\necho 'cdgate: BeforeInstall: PASS'\n")
    r = run_hook(prog, "BeforeInstall", timeout=0.6)
    assert r.returncode == 0 and r.pipes_held and not r.timed_out, r
    assert r.elapsed < 0.5 and r.leftover_pids
    assert r.agent_message.endswith("failed to close STDOUT") and not r.ok
    arc, prog = hook_script(tmp_path / "b", "sleep 5 >/dev/null 2>&1 </dev/null &\n"
                            "echo 'cdgate: BeforeInstall: PASS'\n")
    r = run_hook(prog, "BeforeInstall", timeout=0.6)
    assert r.returncode == 0 and not r.pipes_held and r.ok, r
    assert_agent_clean(r, "PASS")


def test_tail_whole_lines(tmp_path):
    arc, prog = hook_script(tmp_path / "a",
                            'i=0; while [ $i -lt 100 ]; do '
                            'printf "line %03d %s\\n" $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; '
                            'i=$((i+1)); done\n')
    r = run_hook(prog, "BeforeInstall")
    entries = [f"[stdout]line {i:03d} {'x' * 40}\n" for i in range(100)]
    assert r.tail.endswith(entries[-1]) and len(r.tail) <= 2048
    suffixes = {"".join(entries[i:]) for i in range(100)}
    assert r.tail in suffixes and len(r.tail) > 2048 - 2 * len(entries[0])
    assert r.tail_utf8_ok
    arc, prog = hook_script(tmp_path / "b", "echo short\nhead -c 2048 /dev/zero | tr '\\0' x; echo\n")
    r = run_hook(prog, "BeforeInstall")
    assert r.tail == ""
    # the agent's own algorithm, entry by entry
    sl = ScriptLog()
    for e in ["a" * 1000 + "\n", "b" * 1000 + "\n", "c" * 10 + "\n"]:
        sl.append(e)
    assert sl.text() == "b" * 1000 + "\n" + "c" * 10 + "\n"


def test_invalid_utf8_in_tail(tmp_path):
    arc, prog = hook_script(tmp_path, "printf 'bad \\377 byte\\n'\n"
                            "echo 'cdgate: BeforeInstall: FAIL: x'\nexit 1\n")
    r = run_hook(prog, "BeforeInstall")
    assert not r.tail_utf8_ok and b"\xff" in r.tail_bytes and "\udcff" in r.stdout
    assert r.verdict == "cdgate: BeforeInstall: FAIL: x"
    with pytest.raises(AssertionError, match="invalid UTF-8"):
        assert_agent_clean(r)


@pytest.mark.parametrize("body,why", [
    ("echo 'cdgate: BeforeInstall: PASS'\necho after\n", "not a verdict"),
    ("echo 'cdgate: BeforeInstall: PASS'\nexit 3\n", "PASS but exit code 3"),
    ("echo 'cdgate: BeforeInstall: FAIL: no'\n", "FAIL but exit code 0"),
    ("echo info >&2\necho 'cdgate: BeforeInstall: PASS'\n", "both stdout and stderr"),
    ("head -c 500 /dev/zero | tr '\\0' y; echo\necho 'cdgate: BeforeInstall: PASS'\n",
     "line of"),
    ("printf 'cdgate: BeforeInstall: PASS'\n", "does not end with a newline"),
])
def test_assert_agent_clean_rejects(tmp_path, body, why):
    arc, prog = hook_script(tmp_path, body)
    r = run_hook(prog, "BeforeInstall")
    with pytest.raises(AssertionError, match=why):
        assert_agent_clean(r)


def test_assert_agent_clean_accepts(tmp_path):
    arc, prog = hook_script(tmp_path, "echo checking\necho 'cdgate: BeforeInstall: SKIP: "
                                      "instance is terminating'\n")
    r = run_hook(prog, "BeforeInstall")
    assert assert_agent_clean(r, "SKIP").group(1) == "SKIP"
    assert r.verdict.startswith("cdgate: BeforeInstall: SKIP")


def test_not_executable_is_chmodded(tmp_path):
    arc, prog = hook_script(tmp_path, "echo ran\n")
    os.chmod(prog, 0o644)
    r = run_hook(prog)                      # event from the file name
    assert r.event == "BeforeInstall" and r.output == ["ran"] and r.warnings


def test_run_program(tmp_path):
    prog = tmp_path / "tool"
    prog.write_text('#!/bin/sh\necho "args=$*"\necho "cwd=$(pwd) X=$X"\ncat\n'
                    'echo err >&2\nexit 7\n')
    prog.chmod(0o755)
    r = run_program(prog, ["-n", "a b"], env={"X": "1"}, input=b"from-stdin\n")
    assert r.returncode == 7
    assert r.stdout == "args=-n a b\ncwd=/ X=1\nfrom-stdin\n" and r.stderr == "err\n"
    assert "[stderr]err" in r.lines


def test_hook_events_map():
    assert len(HOOK_EVENTS) == 9
    assert HOOK_EVENTS["before-allow-traffic"] == "BeforeAllowTraffic"
    assert HOOK_EVENTS["validate-service"] == "ValidateService"
