"""EC2 Query API stand-in (DescribeTags, CreateTags) on 127.0.0.1.

Guarantees (what a test may rely on):

- ``POST /`` (and ``GET /?...``) with a form-encoded body; parameters from
  the query string and the body are merged.  Actions: ``DescribeTags`` and
  ``CreateTags``; anything else is ``InvalidAction``.
- **Every request's SigV4 signature is verified independently with
  botocore**: the request is rebuilt as a ``botocore.awsrequest.AWSRequest``
  from the received method, URL (scheme + Host header + path), the headers
  the client lists in ``SignedHeaders`` and the raw body, and signed with
  ``botocore.auth.SigV4Auth`` at the request's ``X-Amz-Date`` with the
  credential scope's region and service.  The only thing taken from the
  client is *which* headers are signed (as AWS does); the canonical request,
  string to sign, key derivation and signature are botocore's.  ``host`` and
  ``x-amz-date`` (and ``x-amz-security-token`` when sent) must be signed.
  Outcomes, in this order: no/garbled Authorization -> 401 AuthFailure or 400
  IncompleteSignature; X-Amz-Date more than 15 minutes from now -> 400
  RequestExpired; unknown access key -> 401 AuthFailure; session token
  missing, unexpected or different -> 401 AuthFailure; service not ``ec2``
  or region not ``state.region`` (unless None) -> 403 SignatureDoesNotMatch
  (credential scope); signature differs -> 403 SignatureDoesNotMatch.
- Every request is recorded in ``server.log`` (``Ec2Request``-like dicts:
  action, params, verified, sig_error, access_key, region, service, status,
  code, ...); ``server.calls`` and ``server.throttled`` count them.
- DescribeTags: filters ``resource-id``, ``resource-type``, ``key``,
  ``value`` (``Filter.N.Name`` / ``Filter.N.Value.M``; values of one filter
  are ORed, filters ANDed; ``*`` and ``?`` wildcards), ``MaxResults`` 5..1000
  (else InvalidParameterValue), ``NextToken`` pagination (opaque; a bad one is
  InvalidPaginationToken).  Results are sorted by (resource id, key).  The
  XML is ``DescribeTagsResponse`` in namespace
  ``http://ec2.amazonaws.com/doc/2016-11-15/`` with requestId, tagSet/item
  (resourceId, resourceType, key, value) and nextToken when there is a next
  page.  ``state.xml_style = "reordered"`` emits the same elements compact
  and in reverse order (parsers must go by name).
- CreateTags: ``ResourceId.N``, ``Tag.N.Key``, ``Tag.N.Value`` (missing
  value = empty); ``aws:`` keys -> InvalidParameterValue; more than 50 tags
  on a resource -> TagLimitExceeded.  Reply ``CreateTagsResponse`` with
  ``<return>true</return>``.  With ``state.visibility_delay = D`` a written
  tag is invisible to DescribeTags for D seconds (the old value, if any,
  stays visible meanwhile): EC2's eventual consistency.
- Errors: ``<Response><Errors><Error><Code/><Message/></Error></Errors>
  <RequestID/></Response>`` with the HTTP status AWS uses (see ERRORS).
- Faults (``standin.common`` plus ``throttle``, ``error``, ``malformed``,
  ``huge``, ``token_bucket``, ``page_size``) match the Action; they act
  before authentication.  The token bucket applies after authentication.

Standalone: ``python3 tests/standin/ec2.py --port N --state FILE.json
[--tls]``; the JSON holds ``Ec2State.to_dict()`` fields (any subset).
"""

from __future__ import annotations

import base64
import copy
import datetime
import hmac
import http.client
import os
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import re
from typing import Optional
from xml.sax.saxutils import escape

if __package__ in (None, ""):      # run as a script: make `standin` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from standin.common import (BAD_UTF8, GARBAGE, FaultSet, Reply, StandinServer,
                            serve_main)

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
API_VERSION = "2016-11-15"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW = 15 * 60
HUGE_DEFAULT = 5 * 1024 * 1024
TAG_LIMIT = 50

DEFAULT_ACCESS_KEY = "AKIDEXAMPLE"
DEFAULT_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
DEFAULT_INSTANCE_ID = "i-0123456789abcdef0"

# code -> (HTTP status, default message)
ERRORS = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "Throttling": (429, "Rate exceeded"),
    "ThrottlingException": (429, "Rate exceeded"),
    "RequestThrottled": (429, "Request throttled"),
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "AuthFailure": (401, "AWS was not able to validate the provided access credentials"),
    "InvalidClientTokenId": (401, "The security token included in the request is invalid."),
    "SignatureDoesNotMatch": (403, "The request signature we calculated does not match "
                                   "the signature you provided. Check your AWS Secret "
                                   "Access Key and signing method. Consult the service "
                                   "documentation for details."),
    "RequestExpired": (400, "Request has expired."),
    "IncompleteSignature": (400, "The request signature does not conform to AWS standards."),
    "InvalidParameterValue": (400, "Invalid parameter value."),
    "MissingParameter": (400, "A required parameter is missing."),
    "InvalidAction": (400, "The action is not valid for this web service."),
    "InvalidPaginationToken": (400, "The pagination token is invalid."),
    "TagLimitExceeded": (400, "The maximum number of tags for the resource has been reached."),
    "InternalError": (500, "An internal error has occurred."),
    "Unavailable": (503, "The service is unavailable. Please try again shortly."),
    "RequestTimeout": (503, "The request timed out."),
}
THROTTLE_CODES = ("RequestLimitExceeded", "Throttling", "ThrottlingException",
                  "RequestThrottled")
STATUS_CODES = {500: "InternalError", 503: "Unavailable"}

RESOURCE_TYPES = (("i-", "instance"), ("ami-", "image"), ("vol-", "volume"),
                  ("snap-", "snapshot"), ("sg-", "security-group"),
                  ("subnet-", "subnet"), ("vpc-", "vpc"),
                  ("eni-", "network-interface"), ("lt-", "launch-template"))


def resource_type(rid: str) -> str:
    for prefix, kind in RESOURCE_TYPES:
        if rid.startswith(prefix):
            return kind
    return "instance"


def _glob_re(pattern: str):
    """EC2 filter wildcards: * any, ? one, backslash escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def _defaults() -> dict:
    return {
        "credentials": {DEFAULT_ACCESS_KEY: {"secret": DEFAULT_SECRET, "token": None}},
        "tags": {DEFAULT_INSTANCE_ID: {"Role": "api", "Env": "production"}},
        "region": "us-east-1",        # None: accept any scope region
        "visibility_delay": 0.0,      # seconds before CreateTags is visible
        "page_size": None,            # force at most this many items per page
        "xml_style": "aws",           # aws | reordered
        "bucket": None,               # {"rate": R per s, "burst": B} or None
    }


class Ec2State(FaultSet):
    """Credentials, tags and behaviour knobs of the EC2 stand-in.

    Attributes: ``credentials`` {access_key: {"secret", "token"}}, ``region``,
    ``visibility_delay``, ``page_size``, ``xml_style``, ``bucket``.  Tags go
    through ``set_tags`` / ``put_tag`` / ``visible_tags`` / ``latest_tags``
    (they keep write history for eventual consistency).  ``reset()`` goes
    back to the construction-time values.
    """

    FIELDS = tuple(_defaults())

    def __init__(self, **overrides):
        self._init_faults()
        self._lock = threading.RLock()
        unknown = set(overrides) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown Ec2State fields: {sorted(unknown)}")
        self._initial = {**_defaults(), **copy.deepcopy(overrides)}
        self.reset()

    # -- whole state --
    def reset(self) -> None:
        self.load_dict(copy.deepcopy(self._initial), partial=False)
        self.clear_faults()

    def load_dict(self, data: dict, partial: bool = True) -> None:
        data = dict(data)
        faults = data.pop("faults", None)
        unknown = set(data) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown Ec2State fields: {sorted(unknown)}")
        with self._lock:
            if not partial:
                self._versions: dict = {}
                data = {**_defaults(), **data}
            tags = data.pop("tags", None)
            bucket = data.pop("bucket", "unset")
            for k, v in data.items():
                setattr(self, k, v)
            if tags is not None:
                self._versions = {}
                for rid, kv in tags.items():
                    self.set_tags(rid, kv)
            if bucket != "unset":
                if bucket:
                    self.token_bucket(bucket["rate"], bucket.get("burst"))
                else:
                    self.token_bucket(None)
        if faults is not None:
            self._faults_from_list(faults)

    def to_dict(self) -> dict:
        with self._lock:
            d = {k: copy.deepcopy(getattr(self, k)) for k in self.FIELDS if k != "tags"}
            rids = sorted({rid for rid, _ in self._versions})
            d["tags"] = {rid: self.latest_tags(rid) for rid in rids}
        d["faults"] = self._faults_to_list()
        return d

    # -- credentials --
    def set_credentials(self, access_key: str, secret: str,
                        token: Optional[str] = None, replace: bool = False) -> None:
        """Make a key known (replace=True: the only one known)."""
        with self._lock:
            if replace:
                self.credentials = {}
            self.credentials[access_key] = {"secret": secret, "token": token}

    def lookup(self, access_key: str):
        with self._lock:
            c = dict(self.credentials or {}).get(access_key)
        return None if c is None else (c["secret"], c.get("token"))

    # -- tags (with write history) --
    def set_tags(self, rid: str, tags: dict) -> None:
        """Replace all tags of `rid`, visible at once."""
        with self._lock:
            for key in [k for (r, k) in self._versions if r == rid]:
                del self._versions[(rid, key)]
            for k, v in tags.items():
                self._versions[(rid, k)] = [(0.0, v)]

    def put_tag(self, rid: str, key: str, value: Optional[str],
                delay: Optional[float] = None) -> None:
        """Write one tag (None: delete) visible after `delay` seconds
        (default: state.visibility_delay)."""
        d = self.visibility_delay if delay is None else delay
        with self._lock:
            self._versions.setdefault((rid, key), []).append(
                (time.monotonic() + float(d or 0), value))

    def _value_at(self, versions, now):
        val = None
        for t, v in versions:
            if t <= now:
                val = v
        return val

    def visible_tags(self, rid: Optional[str] = None) -> dict:
        """What DescribeTags sees now: {key: value} for `rid`, or
        {(rid, key): value} for all resources when rid is None."""
        now = time.monotonic()
        with self._lock:
            items = list(self._versions.items())
        out = {}
        for (r, k), vers in items:
            v = self._value_at(vers, now)
            if v is not None and (rid is None or r == rid):
                out[k if rid is not None else (r, k)] = v
        return out

    def latest_tags(self, rid: str) -> dict:
        """The last written tags of `rid`, visible or not."""
        with self._lock:
            return {k: vers[-1][1] for (r, k), vers in self._versions.items()
                    if r == rid and vers[-1][1] is not None}

    # -- throttling --
    def token_bucket(self, rate: Optional[float], burst: Optional[int] = None) -> None:
        """Throttle with a token bucket: refill `rate` per second up to
        `burst`, starting full; RequestLimitExceeded when empty.  rate=None
        turns it off."""
        with self._lock:
            if rate is None:
                self.bucket = None
                return
            burst = int(burst if burst is not None else max(1, rate))
            self.bucket = {"rate": float(rate), "burst": burst}
            self._tokens = float(burst)
            self._refilled = time.monotonic()

    def take_bucket_token(self) -> bool:
        with self._lock:
            if not self.bucket:
                return True
            now = time.monotonic()
            b = self.bucket
            self._tokens = min(float(b["burst"]),
                               self._tokens + (now - self._refilled) * b["rate"])
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    # -- EC2 fault conveniences (match = Action glob) --
    def throttle(self, count: Optional[int] = 1, code: str = "RequestLimitExceeded",
                 match: str = "*", status: Optional[int] = None) -> object:
        """The next `count` calls get `code` (RequestLimitExceeded: 503,
        Throttling: 429)."""
        return self.add_fault("error", match, count, code=code, status=status)

    def error(self, code: str, count: Optional[int] = None, match: str = "*",
              message: Optional[str] = None, status: Optional[int] = None) -> object:
        """Force an error reply: UnauthorizedOperation, AuthFailure,
        InvalidClientTokenId, SignatureDoesNotMatch, RequestExpired, ..."""
        return self.add_fault("error", match, count, code=code, message=message,
                              status=status)

    def malformed(self, match: str = "*", count: Optional[int] = None) -> object:
        """200 with truncated, unparsable XML."""
        return self.add_fault("malformed", match, count)

    def huge(self, match: str = "*", count: Optional[int] = None,
             size: int = HUGE_DEFAULT) -> object:
        """200 with a well-formed reply of about `size` bytes."""
        return self.add_fault("oversized", match, count, size=size)


def error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f'<Code>{escape(code)}</Code><Message>{escape(message)}</Message>'
            f'</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>'
            ).encode()


def error_reply(code: str, message: Optional[str] = None,
                status: Optional[int] = None) -> Reply:
    st, msg = ERRORS.get(code, (400, code))
    return Reply(status or st, error_xml(code, message or msg),
                 [("Content-Type", "text/xml;charset=UTF-8")], note=code)


def _status_reply(status: int, body: Optional[bytes]) -> Reply:
    """A 5xx for `fail(status)`: AWS XML for 500/503, a proxy's HTML page
    for 502/504 and anything else."""
    if body is not None:
        return Reply(status, body, note=f"status-{status}")
    if status in STATUS_CODES:
        r = error_reply(STATUS_CODES[status], status=status)
        return r
    phrase = {502: "Bad Gateway", 504: "Gateway Time-out"}.get(status, "Error")
    html = (f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n"
            f"<body>\r\n<center><h1>{status} {phrase}</h1></center>\r\n"
            f"</body>\r\n</html>\r\n").encode()
    return Reply(status, html, [("Content-Type", "text/html")], note=f"status-{status}")


# ---------------------------------------------------------------------------
# SigV4 verification


class _ClientHeadersSigV4Auth(SigV4Auth):
    """botocore's SigV4Auth, signing exactly the headers the client lists in
    SignedHeaders (AWS's rule) instead of botocore's own selection."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = set(signed_headers)

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                hm[name.lower()] = value
        return hm


class SigCheck:
    """Result of verifying one request's signature."""

    def __init__(self):
        self.ok = False
        self.code: Optional[str] = None      # AWS error code when not ok
        self.message: Optional[str] = None
        self.access_key = self.date = self.region = self.service = None
        self.signed_headers: list = []
        self.canonical_request = self.string_to_sign = None

    def fail(self, code, message=None):
        self.ok, self.code = False, code
        self.message = message or ERRORS[code][1]
        return self


def verify_sigv4(method: str, url: str, headers, body: bytes, lookup,
                 region: Optional[str] = None, service: str = "ec2",
                 now: Optional[float] = None) -> SigCheck:
    """Verify a SigV4 Authorization header with botocore.

    `headers` is an email.message.Message (or anything with get/get_all);
    `lookup(access_key)` -> (secret, token) or None; `region` None accepts any
    scope region.
    """
    chk = SigCheck()
    auth = headers.get("Authorization")
    if not auth:
        return chk.fail("AuthFailure", "Request is missing Authentication Token")
    algo, _, rest = auth.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        return chk.fail("IncompleteSignature", f"Unsupported algorithm '{algo}'")
    parts = {}
    for comp in rest.split(","):
        k, eq, v = comp.strip().partition("=")
        if eq:
            parts[k.strip()] = v.strip()
    try:
        cred, signed, signature = parts["Credential"], parts["SignedHeaders"], parts["Signature"]
        akid, date, c_region, c_service, term = cred.split("/")
        if term != "aws4_request":
            raise ValueError
    except (KeyError, ValueError):
        return chk.fail("IncompleteSignature",
                        "Authorization header requires 'Credential', 'Signature' "
                        "and 'SignedHeaders' parameters")
    chk.access_key, chk.date, chk.region, chk.service = akid, date, c_region, c_service
    chk.signed_headers = signed_list = signed.split(";")
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        return chk.fail("IncompleteSignature",
                        "Authorization header requires existence of either a "
                        "'X-Amz-Date' or a 'Date' header.")
    try:
        ts = datetime.datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return chk.fail("IncompleteSignature", f"Invalid X-Amz-Date '{amz_date}'")
    now = time.time() if now is None else now
    if abs(now - ts) > MAX_SKEW:
        return chk.fail("RequestExpired",
                        f"Request has expired. Timestamp date is {amz_date}")
    known = lookup(akid)
    if known is None:
        return chk.fail("AuthFailure")
    secret, token = known
    sent_token = headers.get("X-Amz-Security-Token")
    if (sent_token or None) != (token or None):
        return chk.fail("AuthFailure",
                        "AWS was not able to validate the provided access "
                        "credentials (session token)")
    if c_service != service:
        return chk.fail("SignatureDoesNotMatch",
                        f"Credential should be scoped to correct service: '{service}'.")
    if region is not None and c_region != region:
        return chk.fail("SignatureDoesNotMatch",
                        f"Credential should be scoped to a valid region, not '{c_region}'.")
    if date != amz_date[:8]:
        return chk.fail("SignatureDoesNotMatch",
                        f"Credential should be scoped to a valid date: '{amz_date[:8]}'.")
    required = ["host", "x-amz-date"] + (["x-amz-security-token"] if sent_token else [])
    for h in required:
        if h not in signed_list:
            return chk.fail("SignatureDoesNotMatch", f"'{h}' must be a signed header.")
    req = AWSRequest(method=method, url=url, data=body)
    for h in signed_list:
        values = headers.get_all(h)
        if not values:
            return chk.fail("SignatureDoesNotMatch", f"Signed header '{h}' is missing.")
        for v in values:
            req.headers[h] = v
    signer = _ClientHeadersSigV4Auth(Credentials(akid, secret, token),
                                     c_service, c_region, signed_list)
    req.context["timestamp"] = amz_date
    signer._modify_request_before_signing(req)
    chk.canonical_request = signer.canonical_request(req)
    chk.string_to_sign = signer.string_to_sign(req, chk.canonical_request)
    expected = signer.signature(chk.string_to_sign, req)
    if signer.signed_headers(signer.headers_to_sign(req)) != signed:
        return chk.fail("SignatureDoesNotMatch",
                        "SignedHeaders must be lowercase, sorted, ';'-separated.")
    if not hmac.compare_digest(expected, signature):
        return chk.fail("SignatureDoesNotMatch")
    chk.ok = True
    return chk


# ---------------------------------------------------------------------------
# Server


def _params(query: str, body: bytes, content_type: str) -> dict:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if body and "json" not in content_type:
        pairs += urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                        errors="strict")
    return dict(pairs)


def _indexed(params: dict, prefix: str) -> dict:
    """{N: value} for keys 'prefix.N' (N a positive integer)."""
    out = {}
    for k, v in params.items():
        if k.startswith(prefix + "."):
            n = k[len(prefix) + 1:]
            if n.isdigit() and int(n) > 0:
                out[int(n)] = v
    return out


class Ec2Server(StandinServer):
    """The EC2 Query API on 127.0.0.1.  ``Ec2Server(tls=False, state=None)``;
    with tls=True, ``ca_file`` is the PEM clients must trust."""

    name = "ec2"
    server_header = "AmazonEC2"
    state_class = Ec2State

    def __init__(self, tls: bool = False, state=None, **kw):
        if isinstance(state, dict):
            state = Ec2State(**state)
        super().__init__(state, tls=tls, **kw)
        self.calls = 0
        self.throttled = 0

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.calls = 0
            self.throttled = 0

    def actions(self, action: Optional[str] = None, verified: Optional[bool] = None):
        """Logged requests, optionally only one action / verification result."""
        match = {}
        if action is not None:
            match["action"] = action
        if verified is not None:
            match["verified"] = verified
        return self.requests(**match)

    def handle(self, handler, method, path, query, body) -> Reply:
        st: Ec2State = self.state
        entry = dict(method=method, path=path, action=None, params={},
                     verified=False, sig_error=None, access_key=None, region=None,
                     service=None, fault=None, code=None, status=None,
                     headers=dict(handler.headers.items()))
        reply = self._answer(handler, st, method, path, query, body, entry)
        entry["status"] = None if reply.action in ("hang", "disconnect", "rst") \
            else reply.status
        entry["code"] = reply.note if reply.note in ERRORS else None
        with self._lock:
            self.calls += 1
            if entry["code"] in THROTTLE_CODES:
                self.throttled += 1
        self.record(**entry)
        return reply

    def _answer(self, handler, st, method, path, query, body, entry) -> Reply:
        try:
            params = _params(query, body, handler.headers.get("Content-Type") or "")
        except (UnicodeDecodeError, ValueError):
            return error_reply("InvalidParameterValue", "The request body is not "
                               "valid form-encoded UTF-8.")
        action = params.get("Action", "")
        entry.update(action=action, params=params)
        host = handler.headers.get("Host") or f"127.0.0.1:{self.port}"
        scheme = "https" if self.tls else "http"
        chk = verify_sigv4(method, f"{scheme}://{host}{handler.path}", handler.headers,
                           body, st.lookup, region=st.region)
        entry.update(verified=chk.ok, sig_error=chk.code, access_key=chk.access_key,
                     region=chk.region, service=chk.service,
                     signed_headers=chk.signed_headers,
                     canonical_request=chk.canonical_request,
                     string_to_sign=chk.string_to_sign)

        fault = st.take_fault(method, (action,))
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind not in ("delay", "truncate", "invalid_utf8", "oversized"):
                r = self._fault_reply(fault)
                r.delay = fault.delay
                return r
        if path != "/":
            reply = error_reply("InvalidAction", f"Unsupported path '{path}'.")
        elif not chk.ok:
            reply = error_reply(chk.code, chk.message)
        elif not st.take_bucket_token():
            reply = error_reply("RequestLimitExceeded")
        else:
            reply = self._action(st, action, params)
        if fault is not None:
            reply.delay = fault.delay
            if fault.kind == "truncate":
                reply.action = "truncate"
            elif fault.kind == "invalid_utf8":
                i = reply.body.find(b"<value>")
                i = i + len(b"<value>") if i >= 0 else len(reply.body) // 2
                reply.body = reply.body[:i] + BAD_UTF8 + reply.body[i:]
            elif fault.kind == "oversized":
                reply = self._huge(fault.size or HUGE_DEFAULT)
        return reply

    def _fault_reply(self, f) -> Reply:
        if f.kind == "error":
            return error_reply(f.code or "InternalError", f.message, f.status)
        if f.kind == "status":
            return _status_reply(f.status or 500, f.body)
        if f.kind == "malformed":
            return Reply(200, (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                               f'<DescribeTagsResponse xmlns="{NS}"><requestId>'
                               f'{uuid.uuid4()}</requestId><tagSet><item><resourceId>'
                               f'i-0').encode(),
                         [("Content-Type", "text/xml;charset=UTF-8")], note="malformed")
        if f.kind == "garbage":
            return Reply(200, f.body if f.body is not None else GARBAGE,
                         [("Content-Type", "text/xml;charset=UTF-8")], note="garbage")
        return Reply(action=f.kind, note=f.kind)        # hang, disconnect, rst

    def _huge(self, size: int) -> Reply:
        item = (f"<item><resourceId>i-0fffffffffffffff0</resourceId><resourceType>"
                f"instance</resourceType><key>Padding</key><value>{'x' * 200}"
                f"</value></item>").encode()
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeTagsResponse '
                f'xmlns="{NS}"><requestId>{uuid.uuid4()}</requestId><tagSet>').encode()
        tail = b"</tagSet></DescribeTagsResponse>"
        n = max(1, (size - len(head) - len(tail)) // len(item) + 1)
        return Reply(200, head + item * n + tail,
                     [("Content-Type", "text/xml;charset=UTF-8")], note="oversized")

    # -- actions --
    def _action(self, st: Ec2State, action: str, params: dict) -> Reply:
        if action == "DescribeTags":
            return self._describe_tags(st, params)
        if action == "CreateTags":
            return self._create_tags(st, params)
        if not action:
            return error_reply("MissingParameter",
                               "The request must contain the parameter Action")
        return error_reply("InvalidAction",
                           f"The action {action} is not valid for this web service.")

    def _xml(self, root: str, children: list) -> Reply:
        """children: [(name, text-or-list-of-items)]; items are lists of
        (name, text)."""
        reordered = self.state.xml_style == "reordered"
        nl = "" if reordered else "\n"

        def el(name, value, depth):
            pad = "" if reordered else "    " * depth
            if isinstance(value, list):
                # element order reversed; the order of <item>s is kept
                lists = all(n == "item" for n, _ in value)
                kids = value[::-1] if reordered and not lists else value
                inner = "".join(el(n, v, depth + 1) for n, v in kids)
                return f"{pad}<{name}>{nl}{inner}{pad}</{name}>{nl}"
            if value == "":
                return f"{pad}<{name}/>{nl}"
            return f"{pad}<{name}>{escape(value)}</{name}>{nl}"

        kids = children[::-1] if reordered else children
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{nl}'
                + "".join(el(n, v, 1) for n, v in kids) + f"</{root}>")
        return Reply(200, body.encode("utf-8"),
                     [("Content-Type", "text/xml;charset=UTF-8")])

    def _describe_tags(self, st: Ec2State, params: dict) -> Reply:
        names = {int(k.split(".")[1]): v for k, v in params.items()
                 if re.fullmatch(r"Filter\.[1-9][0-9]*\.Name", k)}
        filters = []
        for n, name in sorted(names.items()):
            values = list(_indexed(params, f"Filter.{n}.Value").values())
            if name not in ("resource-id", "resource-type", "key", "value"):
                return error_reply("InvalidParameterValue",
                                   f"The filter '{name}' is invalid")
            if not values:
                return error_reply("InvalidParameterValue",
                                   f"The filter '{name}' requires a value")
            filters.append((name, [_glob_re(v) for v in values]))
        max_results = None
        if "MaxResults" in params:
            try:
                max_results = int(params["MaxResults"])
            except ValueError:
                max_results = -1
            if not 5 <= max_results <= 1000:
                return error_reply(
                    "InvalidParameterValue",
                    f"Value ( {params['MaxResults']} ) for parameter maxResults is "
                    f"invalid. Expecting a value between 5 and 1000.")
        start = 0
        if params.get("NextToken"):
            try:
                raw = base64.urlsafe_b64decode(params["NextToken"].encode()).decode()
                tag, _, off = raw.partition(":")
                if tag != "cdgate-standin":
                    raise ValueError
                start = int(off)
            except (ValueError, UnicodeDecodeError):
                return error_reply("InvalidPaginationToken",
                                   f"Invalid pagination token '{params['NextToken']}'")

        rows = []
        for (rid, key), value in sorted(st.visible_tags().items()):
            fields = {"resource-id": rid, "resource-type": resource_type(rid),
                      "key": key, "value": value}
            if all(any(p.match(fields[name]) for p in pats) for name, pats in filters):
                rows.append((rid, key, value))
        page = len(rows)
        if max_results is not None:
            page = max_results
        if st.page_size:
            page = min(page, int(st.page_size))
        chunk = rows[start:start + page]
        children = [("requestId", str(uuid.uuid4())),
                    ("tagSet", [("item", [("resourceId", rid),
                                          ("resourceType", resource_type(rid)),
                                          ("key", key), ("value", value)])
                                for rid, key, value in chunk])]
        if start + page < len(rows):
            tok = base64.urlsafe_b64encode(f"cdgate-standin:{start + page}".encode())
            children.append(("nextToken", tok.decode()))
        return self._xml("DescribeTagsResponse", children)

    def _create_tags(self, st: Ec2State, params: dict) -> Reply:
        rids = [v for _, v in sorted(_indexed(params, "ResourceId").items())]
        keys = {int(k.split(".")[1]): v for k, v in params.items()
                if re.fullmatch(r"Tag\.[1-9][0-9]*\.Key", k)}
        if not rids:
            return error_reply("MissingParameter",
                               "The request must contain the parameter ResourceId")
        if not keys:
            return error_reply("MissingParameter",
                               "The request must contain the parameter Tag")
        tags = []
        for n, key in sorted(keys.items()):
            value = params.get(f"Tag.{n}.Value", "")
            if not key or len(key) > 128 or len(value) > 256:
                return error_reply("InvalidParameterValue",
                                   f"Tag key or value has an invalid length: '{key}'")
            if key.lower().startswith("aws:"):
                return error_reply("InvalidParameterValue",
                                   "Tag keys starting with 'aws:' are reserved for "
                                   "internal use")
            tags.append((key, value))
        for rid in rids:
            have = set(st.latest_tags(rid))
            if len(have | {k for k, _ in tags}) > TAG_LIMIT:
                return error_reply("TagLimitExceeded",
                                   f"The maximum number of tags for resource '{rid}' "
                                   f"has been reached.")
        for rid in rids:
            for key, value in tags:
                st.put_tag(rid, key, value)
        return self._xml("CreateTagsResponse", [("requestId", str(uuid.uuid4())),
                                                ("return", "true")])


# ---------------------------------------------------------------------------
# Test-side client (signs with botocore, like an SDK would)


def call(url: str, action: str, params: Optional[dict] = None, *,
         access_key: str = DEFAULT_ACCESS_KEY, secret_key: str = DEFAULT_SECRET,
         token: Optional[str] = None, region: str = "us-east-1",
         timestamp: Optional[str] = None, tamper=None,
         ca_file: Optional[str] = None, timeout: float = 10.0):
    """POST one signed Query API call; returns (status, body bytes, headers).

    `timestamp` ('YYYYMMDDTHHMMSSZ') signs at another time; `tamper(body)`
    returns the body actually sent after signing.
    """
    form = {"Action": action, "Version": API_VERSION, **(params or {})}
    body = urllib.parse.urlencode(form).encode()
    req = AWSRequest(method="POST", url=url.rstrip("/") + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signer = SigV4Auth(Credentials(access_key, secret_key, token), "ec2", region)
    if timestamp is None:
        signer.add_auth(req)
    else:
        req.context["timestamp"] = timestamp
        signer._modify_request_before_signing(req)
        cr = signer.canonical_request(req)
        signer._inject_signature_to_request(
            req, signer.signature(signer.string_to_sign(req, cr), req))
    if tamper is not None:
        body = tamper(body)
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca_file)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout,
                                           context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        conn.close()


def parse_tags(xml: bytes):
    """DescribeTagsResponse -> ([{resourceId, resourceType, key, value}], nextToken)."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml)
    ns = {"e": NS}
    items = []
    for it in root.iterfind("e:tagSet/e:item", ns):
        items.append({c.tag.split("}")[1]: (c.text or "") for c in it})
    nt = root.find("e:nextToken", ns)
    return items, (nt.text if nt is not None else None)


def parse_error(xml: bytes):
    """Error XML -> (code, message)."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml)
    return root.findtext("Errors/Error/Code"), root.findtext("Errors/Error/Message")


def main(argv=None) -> int:
    return serve_main(Ec2Server, argv, description=__doc__.splitlines()[0],
                      tls_option=True)


if __name__ == "__main__":
    sys.exit(main())
