"""Runs one loopback stand-in (tests/standin) in its own process for bench.py.

    python3 serve.py imds|ec2 [STATE_JSON]

Prints ``listening PORT`` once serving on 127.0.0.1, then answers one JSON
line per command read from stdin:

    stats          {"counts": {"METHOD PATH": n, ...}, "calls": n,
                    "throttled": n, "requests": n}
    reset          counters and request log emptied (state kept); {}
    bucket R B     EC2 token bucket: refill R/s, burst B, starting full
                   ("bucket off": none); {}
    quit           stops; {} (end of input does the same)

Its own process, so that the stand-in does not share a GIL with the
driver, and a listen backlog large enough for the fleet simulation (1000
connections at once would overflow the default and cost SYN retries).
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from standin import common  # noqa: E402
from standin.ec2 import Ec2Server, Ec2State  # noqa: E402
from standin.imds import ImdsServer, ImdsState  # noqa: E402

BACKLOG = 2048


def main(argv) -> int:
    kind = argv[1]
    state = json.loads(argv[2]) if len(argv) > 2 else {}
    common._HTTPServer.request_queue_size = BACKLOG
    if kind == "imds":
        srv = ImdsServer(ImdsState(**state))
    elif kind == "ec2":
        srv = Ec2Server(state=Ec2State(**state))
    else:
        print(f"serve.py: unknown stand-in {kind!r}", file=sys.stderr)
        return 64
    srv.start()
    print(f"listening {srv.port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        out = {}
        if words[0] == "stats":
            with srv._lock:
                out = {"counts": {f"{m} {p}": n for (m, p), n in srv.counts.items()},
                       "requests": len(srv.log),
                       "calls": getattr(srv, "calls", None),
                       "throttled": getattr(srv, "throttled", None)}
        elif words[0] == "reset":
            with srv._lock:
                srv.counts.clear()
                srv.log.clear()
                if kind == "ec2":
                    srv.calls = srv.throttled = 0
        elif words[0] == "bucket":
            if words[1] == "off":
                srv.state.token_bucket(None)
            else:
                srv.state.token_bucket(float(words[1]), int(words[2]))
        elif words[0] == "quit":
            print("{}", flush=True)
            break
        else:
            out = {"error": f"unknown command {words[0]!r}"}
        print(json.dumps(out), flush=True)
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
