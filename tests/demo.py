#!/usr/bin/python3
"""make demo: a whole simulated CodeDeploy deployment on loopback.

Starts the loopback IMDS stand-in (a fake EC2 instance in an Auto Scaling
group), builds a revision with the nine hooks and a cdgate.ini, and plays
three scenes through the agent-faithful runner (tests/lib/agent.py):

1. a launch whose User Data has not finished: BeforeInstall waits, then
   fails with its reason (CodeDeploy would ABANDON the instance);
2. a launch where provisioning finishes mid-wait: cdgate-mark --run writes
   the marker and the whole deployment passes, event by event;
3. a scale-in: the instance is terminating, and the traffic hooks skip
   instead of stalling the deployment.

No AWS account, no traffic beyond 127.0.0.1.  Usage: demo.py BUILD_DIR
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lib.agent import HOOK_EVENTS, make_archive, run_hook, run_program  # noqa: E402
from standin.imds import ImdsServer  # noqa: E402

INSTANCE = "i-0de40c0ffee000001"
T0 = time.monotonic()
BOLD, DIM, RED, GREEN, YELLOW, OFF = (("\033[1m", "\033[2m", "\033[31m", "\033[32m",
                                       "\033[33m", "\033[0m") if sys.stdout.isatty()
                                      else ("",) * 6)


def say(text: str = "") -> None:
    print(text, flush=True)


def stamp() -> str:
    return f"{DIM}[+{time.monotonic() - T0:5.1f}s]{OFF}"


def show(program: str, r) -> None:
    word = r.verdict.split(": ")[2] if r.verdict and r.verdict.count(": ") >= 2 else "?"
    colour = {"PASS": GREEN, "SKIP": YELLOW}.get(word, RED)
    reason = r.verdict.split(": ", 3)[-1] if r.verdict else "(no output)"
    say(f"{stamp()} {HOOK_EVENTS[program]:<19} {colour}{word:<4}{OFF} "
        f"exit {r.returncode}  {r.elapsed:4.1f}s  {reason}")


def hook(arc, program: str, imds, timeout=60):
    return run_hook(arc.program(f"cdgate/{program}"), HOOK_EVENTS[program],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                         "AWS_REGION": "us-east-1"},
                    timeout=timeout, deployment=arc)


def revision(root: Path, build: Path, marker: Path, wait: int):
    config = f"""\
[gate]
timeout = {wait}
on_terminating = skip
history = {root.parent}/history.jsonl

[marker]
path = {marker}

[tags]
source = imds
Role = api
"""
    programs = {f"cdgate/{p}": build / "hooks" / p for p in HOOK_EVENTS}
    return make_archive(root, programs, config=config, config_dir="cdgate",
                        application_name="demo-app",
                        deployment_group_name="demo-asg-group")


def scene_unprovisioned(build, imds, tmp):
    say(f"\n{BOLD}1. Launch: User Data has not finished{OFF}")
    say("   The agent (baked into the AMI) starts first and deploys; "
        "provisioning is still running.")
    arc = revision(tmp / "one", build, tmp / "one-state" / "provisioned", 4)
    r = hook(arc, "before-install", imds)
    show("before-install", r)
    say(f"   {DIM}-> CodeDeploy marks the deployment failed; Auto Scaling "
        f"ABANDONs the instance: it never joined the load balancer.{OFF}")
    # the deadline (exit 2), for the reason that the marker never came
    return r.returncode == 2 and "did not appear" in (r.verdict or "")


def scene_provisioned(build, imds, tmp):
    say(f"\n{BOLD}2. Launch: provisioning finishes while BeforeInstall waits{OFF}")
    marker = tmp / "two-state" / "provisioned"
    arc = revision(tmp / "two", build, marker, 30)
    ini = arc.path / "cdgate" / "cdgate.ini"
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", hook(arc, "before-install", imds)))
    t.start()
    time.sleep(1.5)
    say(f"{stamp()} User Data: cdgate-mark --run -- ./provision.sh")
    m = run_program(build / "bin" / "cdgate-mark",
                    ["-c", str(ini), "--tag", "Role=api", "--run", "--", "sh", "-c",
                     "echo '    provision.sh: installing nginx... done'"],
                    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
    for line in m.stdout.splitlines():
        say(f"{DIM}   {line}{OFF}")
    t.join()
    ok = box["r"].returncode == 0
    show("before-install", box["r"])
    for program in ("after-install", "application-start", "validate-service",
                    "before-allow-traffic", "after-allow-traffic"):
        r = hook(arc, program, imds)
        show(program, r)
        ok = ok and r.returncode == 0
    say(f"   {DIM}-> the instance is registered with the load balancer, "
        f"provisioned.{OFF}")
    st = run_program(build / "bin" / "cdgate-status", ["-c", str(ini), "-l", "3"],
                     env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
    say(f"{stamp()} cdgate-status on the instance:")
    for line in st.stdout.splitlines():
        say(f"{DIM}   {line}{OFF}")
    return ok and st.returncode == 0


def scene_scale_in(build, imds, tmp):
    say(f"\n{BOLD}3. Scale-in while a deployment runs{OFF}")
    say("   A termination lifecycle hook holds the instance in Terminating:Wait;")
    say("   its target lifecycle state reads Terminated.")
    imds.state.lifecycle_state = "Terminated"
    arc = revision(tmp / "three", build, tmp / "three-state" / "provisioned", 30)
    ok = True
    for program in ("before-block-traffic", "after-block-traffic", "application-stop"):
        r = hook(arc, program, imds)
        show(program, r)
        ok = ok and r.returncode == 0 and "SKIP" in (r.verdict or "")
    say(f"   {DIM}-> no hook waits on a leaving instance: the deployment does "
        f"not stall.{OFF}")
    return ok


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: demo.py BUILD_DIR", file=sys.stderr)
        return 64
    build = Path(sys.argv[1])
    imds = ImdsServer({"instance_id": INSTANCE, "region": "us-east-1",
                       "tags": {"Role": "api", "Env": "production"},
                       "tags_mode": "enabled", "lifecycle_state": "InService"})
    imds.start()
    say(f"{BOLD}cdgate demo{OFF}: instance {INSTANCE}, instance metadata "
        f"stand-in at {imds.url}")
    try:
        with tempfile.TemporaryDirectory(prefix="cdgate-demo-") as d:
            tmp = Path(d)
            os.chmod(tmp, 0o755)
            results = [scene_unprovisioned(build, imds, tmp),
                       scene_provisioned(build, imds, tmp),
                       scene_scale_in(build, imds, tmp)]
    finally:
        imds.stop()
    good = all(results)
    say(f"\n{BOLD}{'demo ok' if good else 'demo FAILED'}{OFF} "
        f"in {time.monotonic() - T0:.1f}s")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
