#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/NAME/ from real examples.

Run from the repository root: python3 tests/fuzz/seeds.py.  Seeds are
named seed-*; inputs kept from fuzzing findings (regressions) are named
crash-* or regress-* and are never touched here.  Field separators are NUL
bytes, as tests/fuzz/fuzz.h reads them.
"""
import os
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "corpus"
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sigv4"   # the AWS suite
NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
IID = "i-0123456789abcdef0"

README_INI = """[gate]
timeout = 300            ; seconds a hook may wait in total
on_terminating = skip    ; skip (exit 0, say why) | fail
imds = yes

[marker]
path = /var/lib/cdgate/provisioned
cloud_init = no
digest = sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

[tags]
source = auto
Role = api
Env = prod*

[health]
url = http://127.0.0.1:8080/health unix:/run/app.sock:/ready
tcp = 127.0.0.1:5432 [::1]:6379
status = 200,204 3xx
body = ok
header.Host = app.example
request_timeout = 2s
interval = 500ms
successes = 2
follow_redirects = 3

[drain]
ports = 80 443
on_timeout = fail

[BeforeInstall]
checks = lifecycle marker tags
timeout = 120
on_terminating = fail
"""

MARKER = """[provision]
status = ok
instance_id = i-0123456789abcdef0
boot_id = 8c0c4a1e-0000-4000-8000-000000000001
finished_at = 2026-11-26T02:00:00Z
digest = sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
message = provisioned by user-data
[tags]
Role = api
aws%3Aautoscaling%3AgroupName = web-asg
"""

DESCRIBE = f"""<?xml version="1.0" encoding="UTF-8"?>
<DescribeTagsResponse {NS}>
    <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
    <tagSet>
        <item><resourceId>{IID}</resourceId><resourceType>instance</resourceType><key>Role</key><value>api</value></item>
        <item><resourceId>{IID}</resourceId><resourceType>instance</resourceType><key>Env</key><value>production</value></item>
    </tagSet>
    <nextToken>token-2</nextToken>
</DescribeTagsResponse>
"""
ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. &amp; more</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>
"""
THROTTLE = """<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>1</RequestID></Response>"""
CREATE = f"""<CreateTagsResponse {NS}><requestId>7a62c49f</requestId><return>true</return></CreateTagsResponse>"""
CREDS = """{
  "Code" : "Success",
  "LastUpdated" : "2026-11-26T02:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAEXAMPLEROLEKEY01",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "IQoJb3JpZ2luX2VjEXAMPLETOKEN==",
  "Expiration" : "2099-11-26T08:00:00Z"
}"""
RESULT = '{"v1": {"datasource": "DataSourceEc2Local", "errors": []}}'
RESULT_ERR = '{"v1": {"datasource": "DataSourceEc2", "errors": ["(\'init-network\', RuntimeError(\'boom\'))"]}}'
STATUS = ('{"v1": {"datasource": "DataSourceEc2Local", "init": {"errors": [], '
          '"recoverable_errors": {"WARNING": ["Failed to set hostname"], "DEPRECATED": ["x"]}, '
          '"finished": 1700000000.0, "start": 1699999990.0}, "stage": null}}')
PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20461 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0050 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 91835 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 91834 1 0000000000000000 20 4 30 10 -1
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:01BB 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 20 4 30 10 -1
"""
HISTORY = ('{"time":"2026-11-26T02:00:00Z","program":"before-install","event":"BeforeInstall",'
           '"verdict":"pass","exit":0,"duration_ms":812,"pid":4242,"instance_id":"i-0123456789abcdef0",'
           '"deployment_id":"d-ABCDEFGHI","bundle_commit":"0123abc"}\n'
           '{"time":"2026-11-26T02:01:00Z","program":"validate-service","verdict":"fail","exit":2,'
           '"reason":"health: timed out"}\n'
           'garbage line\n{"torn":')


APPSPEC = """version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
permissions:
  - object: /srv/app
    owner: app
    mode: 755
hooks:
  BeforeInstall:
    - location: before-install
      timeout: 360
    - location: scripts/install-deps.sh
      timeout: 300
      runas: root
  ValidateService:
    - location: validate-service
"""

APPSPEC_BUNDLE = "version: 0.0\nos: linux\nhooks:\n" + "".join(
    f"  {ev}:\n    - location: cdgate/{prog}\n      timeout: 360\n" for ev, prog in (
        ("BeforeBlockTraffic", "before-block-traffic"), ("AfterBlockTraffic", "after-block-traffic"),
        ("ApplicationStop", "application-stop"), ("BeforeInstall", "before-install"),
        ("AfterInstall", "after-install"), ("ApplicationStart", "application-start"),
        ("ValidateService", "validate-service"), ("BeforeAllowTraffic", "before-allow-traffic"),
        ("AfterAllowTraffic", "after-allow-traffic")))


def reply(kind, body=b""):
    body = body.encode() if isinstance(body, str) else body
    return bytes([kind]) + struct.pack("<H", len(body)) + body


def z(*fields):
    return b"\0".join(f.encode() if isinstance(f, str) else f for f in fields)


def nlmsg(kind, seq, payload):
    """One netlink message: nlmsghdr (flags NLM_F_MULTI), payload, padding."""
    n = 16 + len(payload)
    return struct.pack("=IHHII", n, kind, 2, seq, 4242) + payload + b"\0" * (-n % 4)


def diag_dump(seq, socks):
    """A SOCK_DIAG_BY_FAMILY dump: (state, local port, cookie) per socket,
    as struct inet_diag_msg, then NLMSG_DONE."""
    out = b""
    for state, port, cookie in socks:
        msg = struct.pack("=BBBB", 2, state, 0, 0) + struct.pack(">HH", port, 50000)
        msg += struct.pack(">4I4I", 0x7F000001, 0, 0, 0, 0x7F000001, 0, 0, 0)
        msg += struct.pack("=III", 0, cookie, 0) + struct.pack("=5I", 0, 0, 0, 0, 0)
        out += nlmsg(20, seq, msg)
    return out + nlmsg(3, seq, struct.pack("=i", 0))


def diag_error(seq, errno):
    """NLMSG_ERROR: -errno, then the request's header."""
    return nlmsg(2, seq, struct.pack("=i", -errno) + struct.pack("=IHHII", 16, 20, 0x301, seq, 0))


def seeds():
    s = {}
    s["inifile"] = {"readme": b"\0" + README_INI.encode(), "marker": b"\3" + MARKER.encode(),
                    "dup": b"\1[a]\nk = 1\nk = 2\n[bad]\n", "crlf": b"\2[s]\r\nk = error\r\n"}
    s["config"] = {"readme": README_INI.encode(), "empty": b"",
                   "events": b"[ValidateService]\nchecks = health\n[health]\ntcp = localhost:80\n"}
    s["marker"] = {"full": MARKER.encode(),
                   "failed": b"[provision]\nstatus = failed\ninstance_id = i-1\nboot_id = 8c0c4a1e-0000-4000-8000-000000000002\n"
                             b"finished_at = 2026-11-26T02:00:00Z\nmessage = cloud-init failed\n"}
    s["cloudinit"] = {"ok": z(RESULT, STATUS), "errors": RESULT_ERR.encode(), "alone": RESULT.encode()}
    s["ec2xml"] = {"describe": b"\x05" + DESCRIBE.encode(), "paged": b"\x85" + DESCRIBE.encode(),
                   "error": b"\x01" + ERROR.encode(), "create": b"\x02" + CREATE.encode()}
    vec = {}
    for d in sorted(VECTORS.iterdir()):     # missing: fails, never no seeds
        req = d / f"{d.name}.req"
        if not req.is_file():
            continue
        head, _, body = req.read_bytes().partition(b"\n\n")
        lines = head.decode("utf-8", "replace").split("\n")
        method, _, target = lines[0].partition(" ")
        target = target.rsplit(" ", 1)[0]
        path, _, query = target.partition("?")
        hdrs = "\n".join(lines[1:])
        vec[d.name] = z(method, path, query, hdrs, "us-east-1", "service", "20150830T123600Z",
                        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", body)
    vec["ec2"] = z("POST", "/", "", "Host: ec2.us-east-1.amazonaws.com\nContent-Type: "
                   "application/x-www-form-urlencoded; charset=utf-8\nX-Amz-Date: 20261126T020000Z",
                   "us-east-1", "ec2", "20261126T020000Z", "ASIAEXAMPLE", "secretsecretsecretsecret",
                   "IQoJb3JpZ2luX2Vj", "Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id")
    s["sigv4"] = vec
    s["text"] = {"utf8": "caf\u00e9 \u2603 \U0001F600 tab\there".encode(),
                 "bad": b"\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xc2\x85x",
                 "fields": z("\x10", "Role%3Aweb", "sha256:" + "A" * 64, "  -42 ")}
    tok = reply(0, "AQAEAFakeTokenOfIMDSv2==")
    s["imds"] = {
        "happy": tok + reply(0, IID) + reply(0, "Env\nRole\n") + reply(0, "InService")
        + reply(0, "web-role\n") + reply(0, CREDS),
        "faults": reply(4) + reply(5) + tok + reply(2) + tok + reply(0, "i-0abc")
        + reply(1) + reply(1) + reply(0, "web-role") + reply(0, '{"Code":"Failure"}'),
        "garbage": tok + reply(0, b"\xff\xfe\0garbage") + reply(3) + reply(6 | 8),
    }
    s["ec2"] = {
        "http": b"\0" + reply(0, DESCRIBE) + reply(0, DESCRIBE.replace("<nextToken>token-2</nextToken>", ""))
        + reply(0, CREATE),
        "https-throttle": b"\1" + reply(7 | (400 - 100) // 17 << 3, THROTTLE) + reply(5) + reply(0, DESCRIBE)
        + reply(0, ERROR),
    }
    s["health"] = {"readme": z("200,204 3xx", "http://127.0.0.1:8080/health", "127.0.0.1:5432",
                               "http://127.0.0.1:8080/a unix:/run/app.sock:/ready https://[::1]:8443/x",
                               "Authorization", "Bearer abc", "500ms"),
                   "bad": z("2xx 999 abc", "ftp://x", "[::1]:99999", "unix:", "Bad Name", "a\r\nb", "5h")}
    s["endpoint"] = {"ok": z("https://ec2.us-east-1.amazonaws.com/", "http://127.0.0.1:4566", "us-east-1",
                             "amazonaws.com.cn", IID, "a*b?c\\", "http://[fd00:ec2::254]", "IPv6"),
                     "bad": z("http://user@evil.example:80/x?y#z", "HTTPS://[::1]:0", "us-east-1/..",
                              "a b", "i-XYZ", "***", "http://169.254.169.254?x", "IPv9")}
    s["creds"] = {"role": z("web-role", "2099-11-26T08:00:00Z", "AKID", "secret", "", CREDS),
                  "fail": z("r", "2026-02-30T25:61:61Z", "", "secret-only", "tok", '{"Code":"Expired"}')}
    s["drain"] = {"tcp": b"\x40" + z("80 443", PROC_TCP), "tcp6": b"\x07" + z("443,40000", PROC_TCP6)}
    s["drain"]["diag"] = b"\x40" + z("80 443", diag_dump(7, [(1, 80, 1), (1, 443, 2), (6, 80, 3),
                                                          (1, 8080, 4), (1, 80, 1)]))
    s["drain"]["diag-error"] = b"\x40" + z("80", diag_error(9, 2))
    s["history"] = {"lines": z("d-ABCDEFGHI", "app", "0123abc", IID, "InService", "marker: ok", HISTORY),
                    "hostile": z("d-\x1b[31m", "\xff\xfe", "x" * 300, "i-\n", "", "r" * 5000, "")}
    # appspec: the first byte picks the event (low nibble: 1 BeforeInstall,
    # 4 ValidateService) and 0x10 looks the file up beside the program
    s["appspec"] = {
        "readme": b"\x11" + APPSPEC.encode(),
        "bundle": b"\x14" + APPSPEC_BUNDLE.encode(),
        "twice": b"\x11" + b"hooks:\n  BeforeInstall:\n    - location: before-install\n"
                 b"      timeout: 900\n    - location: /before-install\n      timeout: \"45\"\n",
        "flow": b"\x01{hooks: {BeforeInstall: [{location: x, timeout: 9}]}}\n",
        "bomb": b"\x01a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\nc: [*b,*b]\n",
        "tab": b"\x11hooks:\n\tBeforeInstall:\n",
        "dup": b"\x11hooks:\n  BeforeInstall: []\n  BeforeInstall:\n    - location: before-install\n"
               b"      timeout: 0\n      timeout: abc\n---\nhooks: {}\n",
    }
    # notice: one reply body for the three parsers (and a time up to a NUL)
    ev = ('{"NotBefore" : "21 Jan 2019 09:00:43 GMT", "Code" : "system-reboot", '
          '"Description" : "scheduled reboot", "EventId" : "instance-event-0d59937288b749b32", '
          '"NotAfter" : "21 Jan 2019 09:17:23 GMT", "State" : "%s"}')
    s["notice"] = {
        "spot": b'{"action": "terminate", "time": "2026-12-06T12:00:00Z"}',
        "spot-hibernate": b'{"action": "hibernate", "time": "2026-12-06T12:00:00.123Z"}',
        "rebalance": b'{"noticeTime": "2026-12-06T11:58:00Z"}',
        "scheduled": ("[ \n  " + ev % "active" + " \n]").encode(),
        "scheduled-empty": b"[]",
        "scheduled-mixed": ("[" + ",".join([ev % "completed", ev % "active", ev % "canceled",
                                             ev.replace("21 Jan", "1 Feb") % "active"]) + "]").encode(),
        "scheduled-hostile": b'[{"Code": "x\\u001b[2J", "State": "active", "NotBefore": '
                             b'"2019-01-21T09:00:43Z", "NotAfter": null, "Description": '
                             b'"a\\u0000b\\udc80\xff\xfe\\ud800c", "EventId": "e\\n"}]',
        "time-gmt": b"1 Feb 2019 09:00:43 GMT\0[]",
        "time-iso": b"2000-02-29T23:59:59Z\0{}",
        "deep": b"[" * 12 + b"]" * 12,
        "null": b"null",
    }
    return s


def main():
    for name, files in seeds().items():
        d = ROOT / name
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("seed-*"):
            old.unlink()
        for fname, data in files.items():
            (d / f"seed-{fname}").write_bytes(data)


if __name__ == "__main__":
    main()
