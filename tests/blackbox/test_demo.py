"""`make demo` (tests/demo.py): the README's first command must keep working,
so the whole simulated deployment runs here too, against this build."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from lib.agent import HOOK_EVENTS

ROOT = Path(__file__).resolve().parents[2]


def test_demo_plays_all_three_scenes_and_passes(build):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CDGATE_CONFIG", "AWS_EC2_METADATA_SERVICE_ENDPOINT")}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, str(ROOT / "tests" / "demo.py"), str(build)],
                       cwd="/", env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert took < 60, f"issue 7: under a minute; took {took:.1f}s"
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert "demo ok in" in lines[-1], out
    # scene 1 fails at the deadline, scene 2 passes every hook after the
    # marker lands, scene 3 skips on a terminating instance
    assert "did not appear within 4s" in out, out
    for program in ("before-install", "after-install", "application-start",
                    "validate-service", "before-allow-traffic", "after-allow-traffic"):
        event = HOOK_EVENTS[program]
        assert any(f"] {event} " in ln and " PASS exit 0 " in ln for ln in lines), \
            (event, out)
    assert sum("SKIP exit 0" in ln for ln in lines) == 3, out
