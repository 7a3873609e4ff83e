"""IMDSv2 stand-in: the EC2 instance metadata service on 127.0.0.1.

Guarantees (what a test may rely on):

- ``PUT /latest/api/token`` needs ``X-aws-ec2-metadata-token-ttl-seconds``
  with an integer 1..21600 (else 400) and returns a fresh token (text/plain,
  with the TTL echoed in the same header).  Other methods on it: 405; a
  token request with ``X-Forwarded-For``: 403 (as the real service).
- Every ``GET`` under ``/latest/`` needs ``X-aws-ec2-metadata-token`` with a
  token that is known and not expired (else 401).  ``state.revoke_tokens()``
  makes every issued token invalid at once (simulated expiry); a token also
  expires after its TTL.
- Items (``state`` fields in brackets): ``meta-data/instance-id``
  [instance_id], ``meta-data/placement/region`` [region],
  ``meta-data/placement/availability-zone``, ``meta-data/services/domain``
  [domain], ``dynamic/instance-identity/document`` (JSON: instanceId,
  region, accountId, availabilityZone, imageId, instanceType, pendingTime,
  ... or [identity_document] verbatim), ``meta-data/tags/instance`` (keys,
  one per line, no trailing newline) and ``meta-data/tags/instance/KEY``
  [tags, tags_mode: ``enabled`` | ``disabled-404`` | ``disabled-empty``
  (200 with an empty list, and 404 for every key)],
  ``meta-data/autoscaling/target-lifecycle-state`` [lifecycle_state; None:
  404], ``meta-data/iam/security-credentials/`` (role name) and ``.../ROLE``
  (JSON Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token,
  Expiration) [role, credentials; role None: 404].  EC2's notices:
  ``meta-data/spot/instance-action`` [spot_action: None (the default) 404,
  a dict such as {"action": "terminate", "time": "2026-12-06T12:00:00Z"}
  served as JSON, a str or bytes verbatim],
  ``meta-data/events/recommendations/rebalance`` [rebalance: None (the
  default) 404, a dict such as {"noticeTime": "..."} as JSON, str/bytes
  verbatim] and ``meta-data/events/maintenance/scheduled``
  [scheduled_events: a list of event dicts (Code, State, NotBefore,
  NotAfter, Description, EventId; the default [] serves "[]") as JSON,
  str/bytes verbatim, None 404]; like every field they may change during a
  run.  ``state.items`` adds or overrides any item (value None: 404).
  Anything else: 404.
- Error bodies look like the real service's (a small HTML page).
- Faults (see ``standin.common``) match the full path
  (``/latest/meta-data/tags/instance/Role``) or the item below ``/latest/``
  (``meta-data/tags/*``); ``*`` matches everything, the token PUT included.
  They are checked before the token, like a disabled (403) or throttling
  (429) IMDS would.
- ``server.counts[(method, path)]`` counts requests; ``server.log`` has one
  entry per request (method, path, item, status, token_ok, fault).

Standalone: ``python3 tests/standin/imds.py --port N --state FILE.json``;
the JSON holds ``ImdsState.to_dict()`` fields (any subset).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from typing import Optional

if __package__ in (None, ""):      # run as a script: make `standin` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from standin.common import (BAD_UTF8, GARBAGE, FaultSet, Reply, StandinServer,
                            reason_phrase, serve_main)

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL = 21600
OVERSIZED_DEFAULT = 1024 * 1024 + 1     # > CAP_IMDS_BODY (64 KiB) by far

DEFAULT_INSTANCE_ID = "i-0123456789abcdef0"
DEFAULT_REGION = "us-east-1"
DEFAULT_ROLE = "cdgate-test-role"
# Role credentials served by default; conftest registers them with the EC2
# stand-in so that a hook using instance-role credentials can sign.
DEFAULT_ROLE_ACCESS_KEY = "ASIACDGATEEXAMPLE001"
DEFAULT_ROLE_SECRET = "roleSecretKeyEXAMPLE/0123456789abcdefghij"
DEFAULT_ROLE_TOKEN = ("IQoJb3JpZ2luX2VjEXAMPLEcdgateSessionToken//////////"
                      "wEaCXVzLWVhc3QtMSJHMEUCIQDtestTOKEN+forCDGATE=")
TAGS_MODES = ("enabled", "disabled-404", "disabled-empty")


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def default_credentials() -> dict:
    now = time.time()
    return {
        "Code": "Success",
        "LastUpdated": _iso(now - 60),
        "Type": "AWS-HMAC",
        "AccessKeyId": DEFAULT_ROLE_ACCESS_KEY,
        "SecretAccessKey": DEFAULT_ROLE_SECRET,
        "Token": DEFAULT_ROLE_TOKEN,
        "Expiration": _iso(now + 6 * 3600),
    }


def _defaults() -> dict:
    return {
        "instance_id": DEFAULT_INSTANCE_ID,
        "region": DEFAULT_REGION,
        "availability_zone": None,          # None: region + "a"
        "domain": "amazonaws.com",
        "account_id": "123456789012",
        "image_id": "ami-0123456789abcdef0",
        "instance_type": "t3.micro",
        "pending_time": "2026-11-26T01:50:00Z",
        "identity_document": None,          # dict or str: served verbatim
        "tags": {"Role": "api", "Env": "production"},
        "tags_mode": "enabled",
        "lifecycle_state": "InService",     # None: 404 (not in a group)
        "role": DEFAULT_ROLE,               # None: no instance profile (404)
        "credentials": None,                # None: default_credentials()
        "spot_action": None,                # dict (JSON)/str/bytes; None: 404
        "rebalance": None,                  # dict (JSON)/str/bytes; None: 404
        "scheduled_events": [],             # list (JSON)/str/bytes; None: 404
        "items": {},                        # item -> str/bytes/None overrides
        "max_ttl": MAX_TTL,
    }


class ImdsState(FaultSet):
    """What the stand-in serves.  Change any attribute at any time; the next
    request sees it.  ``ImdsState(**overrides)``; ``reset()`` goes back to the
    values given at construction (faults cleared, tokens revoked)."""

    FIELDS = tuple(_defaults())

    def __init__(self, **overrides):
        self._init_faults()
        self._token_lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        unknown = set(overrides) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown ImdsState fields: {sorted(unknown)}")
        self._initial = {**_defaults(), **copy.deepcopy(overrides)}
        self.reset()

    # -- whole state --
    def reset(self) -> None:
        self.load_dict(copy.deepcopy(self._initial), partial=False)
        self.clear_faults()
        self.revoke_tokens()

    def load_dict(self, data: dict, partial: bool = True) -> None:
        """Set fields from a dict (JSON state file); unknown keys are errors.
        ``faults`` (a list of Fault dicts) replaces the faults."""
        data = dict(data)
        faults = data.pop("faults", None)
        unknown = set(data) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown ImdsState fields: {sorted(unknown)}")
        base = {} if partial else _defaults()
        for k, v in {**base, **data}.items():
            setattr(self, k, v)
        if faults is not None:
            self._faults_from_list(faults)

    def to_dict(self) -> dict:
        d = {k: copy.deepcopy(getattr(self, k)) for k in self.FIELDS}
        d["faults"] = self._faults_to_list()
        return d

    # -- tokens --
    def issue_token(self, ttl: int) -> str:
        token = base64.b64encode(b"\x01\x00\x04" + secrets.token_bytes(39)).decode()
        now = time.monotonic()
        with self._token_lock:
            if len(self._tokens) > 10000:     # long benchmark: drop expired
                self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + ttl
        return token

    def token_valid(self, token: Optional[str]) -> bool:
        if not token:
            return False
        with self._token_lock:
            exp = self._tokens.get(token)
        return exp is not None and time.monotonic() < exp

    def revoke_tokens(self) -> None:
        """Every token issued so far becomes invalid (401), as on expiry."""
        with self._token_lock:
            self._tokens.clear()

    @property
    def token_count(self) -> int:
        with self._token_lock:
            return len(self._tokens)

    # -- content --
    def document(self) -> str:
        if isinstance(self.identity_document, str):
            return self.identity_document
        if isinstance(self.identity_document, dict):
            return json.dumps(self.identity_document, indent=2)
        doc = {
            "accountId": self.account_id,
            "architecture": "x86_64",
            "availabilityZone": self.availability_zone or f"{self.region}a",
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": self.image_id,
            "instanceId": self.instance_id,
            "instanceType": self.instance_type,
            "kernelId": None,
            "pendingTime": self.pending_time,
            "privateIp": "10.0.0.10",
            "ramdiskId": None,
            "region": self.region,
            "version": "2017-09-30",
        }
        return json.dumps(doc, indent=2)

    def item(self, item: str):
        """The body of `item` (str or bytes), or None for 404."""
        items = dict(self.items or {})
        if item in items:
            return items[item]
        norm = item.rstrip("/")
        if norm in items:
            return items[norm]
        simple = {
            "meta-data/instance-id": self.instance_id,
            "meta-data/placement/region": self.region,
            "meta-data/placement/availability-zone":
                self.availability_zone or f"{self.region}a",
            "meta-data/services/domain": self.domain,
            "meta-data/ami-id": self.image_id,
            "meta-data/instance-type": self.instance_type,
            "dynamic/instance-identity/document": self.document(),
            "meta-data/autoscaling/target-lifecycle-state": self.lifecycle_state,
        }
        if norm in simple:
            return simple[norm]
        notices = {
            "meta-data/spot/instance-action": self.spot_action,
            "meta-data/events/recommendations/rebalance": self.rebalance,
            "meta-data/events/maintenance/scheduled": self.scheduled_events,
        }
        if norm in notices:
            value = notices[norm]
            if value is None or isinstance(value, (str, bytes)):
                return value
            return json.dumps(value, indent=2)
        if norm == "meta-data":
            return "ami-id\nautoscaling/\nevents/\niam/\ninstance-id\n" \
                   "instance-type\nplacement/\nservices/\n" + \
                   ("spot/\n" if self.spot_action is not None else "") + "tags/"
        if norm == "meta-data/tags/instance":
            mode = self.tags_mode
            if mode == "enabled":
                return "\n".join(dict(self.tags or {}))
            if mode in ("disabled-empty", "disabled-empty-200"):
                return ""
            return None
        if norm.startswith("meta-data/tags/instance/"):
            if self.tags_mode != "enabled":
                return None
            key = urllib.parse.unquote(norm[len("meta-data/tags/instance/"):])
            return dict(self.tags or {}).get(key)
        if norm == "meta-data/iam/security-credentials":
            return self.role
        if norm.startswith("meta-data/iam/security-credentials/"):
            role = norm[len("meta-data/iam/security-credentials/"):]
            if self.role is None or role != self.role:
                return None
            creds = self.credentials or default_credentials()
            return creds if isinstance(creds, str) else json.dumps(creds, indent=2)
        return None


def _error_page(status: int) -> bytes:
    phrase = reason_phrase(status)
    return (f'<?xml version="1.0" encoding="iso-8859-1"?>\n'
            f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            f'\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            f'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            f' <head>\n  <title>{status} - {phrase}</title>\n </head>\n'
            f' <body>\n  <h1>{status} - {phrase}</h1>\n </body>\n</html>\n').encode()


def _error(status: int, note: str = "") -> Reply:
    return Reply(status, _error_page(status),
                 [("Content-Type", "text/html")], note=note)


class ImdsServer(StandinServer):
    """IMDSv2 on 127.0.0.1.  ``ImdsServer(state=None)``: state is an
    ImdsState, a dict of ImdsState fields, or None for the defaults."""

    name = "imds"
    server_header = "EC2ws"
    state_class = ImdsState

    def __init__(self, state=None, **kw):
        if isinstance(state, dict):
            state = ImdsState(**state)
        super().__init__(state, **kw)

    def count(self, item_or_path: str, method: str = "GET") -> int:
        """Requests for an item ('meta-data/instance-id') or a full path."""
        path = item_or_path if item_or_path.startswith("/") \
            else "/latest/" + item_or_path
        with self._lock:
            return self.counts[(method, path)]

    def handle(self, handler, method, path, query, body) -> Reply:
        st: ImdsState = self.state
        item = path[len("/latest/"):] if path.startswith("/latest/") else path
        entry = dict(method=method, path=path, item=item, token_ok=None, fault=None)
        reply = self._answer(handler, st, method, path, item, entry)
        entry["status"] = None if reply.action in ("hang", "disconnect", "rst") \
            else reply.status
        entry["fault"] = entry["fault"] or (reply.note or None)
        self.record(**entry)
        return reply

    def _answer(self, handler, st, method, path, item, entry) -> Reply:
        fault = st.take_fault(method, (path, item))
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind not in ("delay", "truncate", "invalid_utf8", "oversized"):
                return self._fault_reply(fault)
        reply = self._normal(handler, st, method, path, item, entry)
        if fault is None:
            return reply
        reply.delay = fault.delay
        if fault.kind == "truncate":
            reply.action = "truncate"
        elif fault.kind == "invalid_utf8":
            reply.body = reply.body[: len(reply.body) // 2] + BAD_UTF8 \
                + reply.body[len(reply.body) // 2:]
        elif fault.kind == "oversized":
            size = fault.size or OVERSIZED_DEFAULT
            reply.body = reply.body + b"A" * max(0, size - len(reply.body))
        return reply

    def _fault_reply(self, f) -> Reply:
        if f.kind in ("status", "error"):
            status = f.status or 500
            if f.body is not None:
                r = Reply(status, f.body, note=f.kind)
            else:
                r = _error(status, f.kind)
        elif f.kind in ("garbage", "malformed"):
            r = Reply(200, f.body if f.body is not None else GARBAGE,
                      [("Content-Type", "text/plain")], note=f.kind)
        else:                       # hang, disconnect, rst
            r = Reply(action=f.kind, note=f.kind)
        r.delay = f.delay
        return r

    def _normal(self, handler, st, method, path, item, entry) -> Reply:
        if path == "/latest/api/token":
            if method != "PUT":
                return _error(405)
            if handler.headers.get("X-Forwarded-For") is not None:
                return _error(403)          # IMDS refuses proxied token requests
            raw = handler.headers.get(TTL_HEADER)
            try:
                ttl = int(raw.strip())
            except (AttributeError, ValueError):
                return _error(400)
            if not 1 <= ttl <= int(st.max_ttl):
                return _error(400)
            token = st.issue_token(ttl)
            return Reply(200, token.encode(), [("Content-Type", "text/plain"),
                                               (TTL_HEADER, str(ttl))])
        if method not in ("GET", "HEAD"):
            return _error(405)
        if not path.startswith("/latest/"):
            return _error(404)
        ok = st.token_valid(handler.headers.get(TOKEN_HEADER))
        entry["token_ok"] = ok
        if not ok:
            return _error(401)
        value = st.item(item)
        if value is None:
            return _error(404)
        if isinstance(value, str):
            value = value.encode("utf-8")
        return Reply(200, value, [("Content-Type", "text/plain"),
                                  ("Accept-Ranges", "none")])


def main(argv=None) -> int:
    return serve_main(ImdsServer, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
