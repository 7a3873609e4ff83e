"""`make bench-smoke` inside `make check` (issue 8 allows a one-iteration
smoke): every benchmark command still runs and behaves, and the happy path
keeps its request economy (one IMDS token, one request per item).  Nothing
about speed is asserted here; the numbers are `make bench`'s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_item_and_keeps_request_economy(build, tmp_path):
    for tool in ("floor", "spawn"):
        assert os.access(build / "bench" / tool, os.X_OK), \
            f"{build}/bench/{tool} not built (make check builds it)"
    out = tmp_path / "results.md"
    env = {k: v for k, v in os.environ.items() if k != "CDGATE_CONFIG"}
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "bench.py"),
                        "--build", str(build), "--smoke", "--out", str(out)],
                       cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=300)
    text = p.stdout + p.stderr
    assert p.returncode == 0, text[-4000:]
    table = out.read_text()
    # request economy, counted by the IMDS stand-in
    assert "| `PUT /latest/api/token` | 1 |" in table, table
    for item in ("meta-data/instance-id", "meta-data/tags/instance/Role"):
        assert f"| `GET /latest/{item}` | 1 |" in table, (item, table)
    # each item produced its table, and the whole fleet passed
    for heading in ("### 1. Happy path", "### 2. Waiting cost",
                    "### 3. Marker latency", "### 4. Fleet", "### 6. SIGTERM to exit"):
        assert heading in table, (heading, table)
    assert table.count("| 10/10 |") == 2, table
