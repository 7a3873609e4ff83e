#!/usr/bin/python3
"""make bench: cdgate next to the hand-written gate (docs/dev/bench.md).

    bench.py --build BUILD [--runs N] [--wait S] [--fleet 200,1000]
             [--items 1,2,3,4,6] [--out FILE] [--smoke] [--keep]
             [--variant NAME=PATH]... [--no-scripts]

Everything runs on 127.0.0.1 against the loopback stand-ins of
tests/standin (each in its own process, tests/bench/serve.py); nothing
leaves the machine.  The aws CLI, when installed, only ever talks to the
EC2 stand-in (--endpoint-url, dummy keys, AWS_EC2_METADATA_DISABLED).

Items (the numbering of docs/dev/bench.md):
 1. happy path: wall time and peak RSS of before-install (marker present,
    tags from instance metadata) next to the floor, bash + curl, and
    bash + aws CLI; the commands alternate, N rounds, one table per run;
    5. request economy: the IMDS requests of one happy-path run;
 2. waiting cost: CPU seconds per minute of waiting for a marker that never
    comes, before-install and the hand-written loops side by side, all in
    one window;
 3. marker latency: from the marker's rename into place to the exit,
    before-install and a 1 s polling loop, alternating;
 4. fleet: 200 and 1000 processes started at once against the EC2
    stand-in with a token bucket (100/s, burst 200), before-install
    ([tags] source = ec2) next to the same binary retrying at a fixed 1 s
    interval (CDGATE_TEST_FIXED_RETRY_MS, test-only: the policy alone
    differs; no lifecycle watch, so the one shared IMDS stand-in is not
    the bottleneck).
 6. SIGTERM to exit: the agent's timeout (SIGTERM to the process group)
    during before-install's marker wait, and during cdgate-mark --run of a
    command that ignores SIGTERM (30 ms grace, then SIGKILL); from the
    kill to the exit, N rounds, alternated (issue 2's target: 100 ms).

--smoke: one iteration of each, short waits, a fleet of 10; it checks that
every command behaves (exit status, request economy) and nothing about
speed.  Exit status: 0, 1 when a command misbehaved, 64 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
INSTANCE_ID = "i-0123456789abcdef0"
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TAGS = {"Role": "api", "Env": "production"}
BASE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
FLEET_BUCKET = (100.0, 200)         # refill per second, burst
FLEET_TIMEOUT = 120                 # seconds: each fleet process's deadline


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# stand-ins and processes


class Standin:
    """One stand-in in its own process (serve.py)."""

    def __init__(self, kind: str, state: dict):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve.py"), kind, json.dumps(state)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            raise BenchError(f"{kind} stand-in did not start")
        self.url = f"http://127.0.0.1:{line[1]}"

    def cmd(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        try:
            self.cmd("quit")
        except (OSError, ValueError):
            pass
        self.proc.wait(10)


class Sample:
    def __init__(self, line: str, out: str = ""):
        wall, rss, ut, stt, status = line.split()
        self.wall_ms = int(wall) / 1000.0
        self.rss_kib = int(rss)
        self.cpu_s = (int(ut) + int(stt)) / 1e6
        self.status = int(status)
        self.out = out

    @property
    def exit(self) -> int:
        return self.status >> 8 if self.status & 0x7f == 0 else -(self.status & 0x7f)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build).resolve()
        self.spawn = self.build / "bench" / "spawn"
        self.floor = self.build / "bench" / "floor"
        self.hook = self.build / "hooks" / "before-install"
        for p in (self.spawn, self.floor, self.hook):
            if not os.access(p, os.X_OK):
                raise BenchError(f"{p} is not built; run `make bench`")
        self.tmp = Path(tempfile.mkdtemp(prefix="cdgate-bench-"))
        self.aws = args.aws if args.aws and os.access(args.aws, os.X_OK) else None
        self.failures: list[str] = []
        self.out: list[str] = []
        self.imds = self.ec2 = None

    # -- plumbing --
    def start(self) -> None:
        self.imds = Standin("imds", {"instance_id": INSTANCE_ID, "region": REGION,
                                     "tags": TAGS, "lifecycle_state": "InService"})
        self.ec2 = Standin("ec2", {
            "credentials": {ACCESS_KEY: {"secret": SECRET_KEY, "token": None}},
            "tags": {INSTANCE_ID: TAGS}, "region": REGION})

    def stop(self) -> None:
        for s in (self.imds, self.ec2):
            if s is not None:
                s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def emit(self, text: str = "") -> None:
        print(text, flush=True)
        self.out.append(text)

    def fail(self, what: str) -> None:
        self.failures.append(what)
        print(f"bench: FAILED: {what}", file=sys.stderr, flush=True)

    def run(self, argv, env, out: str = "/dev/null") -> Sample:
        r = subprocess.run([str(self.spawn), "-o", out, "--", *map(str, argv)],
                           env=env, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise BenchError(f"spawn {argv[0]}: {r.stderr.strip()}")
        text = Path(out).read_text(errors="replace") if out != "/dev/null" else ""
        return Sample(r.stdout, text)

    def start_spawn(self, argv, env, out: str) -> subprocess.Popen:
        return subprocess.Popen([str(self.spawn), "-o", out, "--", *map(str, argv)],
                                env=env, stdout=subprocess.PIPE, text=True)

    # -- fixtures --
    def marker_text(self) -> str:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return (f"[provision]\nstatus = ok\ninstance_id = {INSTANCE_ID}\n"
                f"boot_id = {boot}\nfinished_at = "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")

    def write_marker(self, path: Path) -> float:
        """Atomically, as cdgate-mark does; returns monotonic time after the
        rename."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(self.marker_text())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
        return time.monotonic()

    def config(self, name: str, marker: Path, timeout: int, source: str = "imds",
               extra: str = "") -> Path:
        p = self.tmp / f"{name}.ini"
        p.write_text(f"[gate]\ntimeout = {timeout}\nhistory = {self.tmp}/history.jsonl\n"
                     f"{extra}\n[marker]\npath = {marker}\n\n"
                     f"[tags]\nsource = {source}\nRole = api\n")
        os.chmod(p, 0o644)
        return p

    def hook_env(self, config: Path, **extra) -> dict:
        env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "LIFECYCLE_EVENT": "BeforeInstall",
               "DEPLOYMENT_ID": "d-BENCH0001", "CDGATE_CONFIG": str(config),
               "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url}
        env.update(extra)
        return env

    def script_env(self, marker: Path, tags_from: str = "imds", **extra) -> dict:
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": str(home),
               "IMDS": self.imds.url, "MARKER": str(marker), "TAGS_FROM": tags_from,
               "TAG_KEY": "Role", "TAG_VALUE": "api"}
        if tags_from == "aws":
            env.update({"AWS": self.aws, "EC2_ENDPOINT": self.ec2.url,
                        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                        "AWS_DEFAULT_REGION": REGION, "AWS_PAGER": "",
                        "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": str(home / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")})
        env.update(extra)
        return env

    # -- item 1 and 5 --
    def happy_path(self) -> None:
        marker = self.tmp / "happy" / "provisioned"
        self.write_marker(marker)
        cfg = self.config("happy", marker, 60)
        cmds = [("floor (same libraries, does nothing)", [self.floor], {}),
                ("cdgate before-install", [self.hook], self.hook_env(cfg)),
                ("bash + curl (gate.sh)", ["/bin/bash", HERE / "gate.sh"],
                 self.script_env(marker))]
        if self.args.no_scripts:
            cmds.pop()
        for v in self.args.variant:         # before/after comparisons
            vname, _, vpath = v.partition("=")
            cmds.append((f"variant: {vname}", [Path(vpath).resolve()],
                         self.hook_env(cfg)))
        floors = set()
        for v in self.args.variant_floor:   # the floor of such a variant
            vname, _, vpath = v.partition("=")
            floors.add(f"variant: {vname}")
            cmds.append((f"variant: {vname}", [Path(vpath).resolve()], {}))
        if self.aws and not self.args.no_scripts:
            cmds.append(("bash + curl + aws CLI (gate.sh, TAGS_FROM=aws)",
                         ["/bin/bash", HERE / "gate.sh"], self.script_env(marker, "aws")))
        log = self.tmp / "happy.out"
        for name, argv, env in cmds:         # warm the page cache; check
            s = self.run(argv, env, str(log))
            if s.exit != 0 or (name != cmds[0][0] and name not in floors
                               and "PASS" not in s.out):
                self.fail(f"happy path: {name} exited {s.exit}: {s.out[-500:]}")
                return
        # item 5 first: one run, the stand-in's counters
        self.imds.cmd("reset")
        self.run([self.hook], cmds[1][2])
        counts = self.imds.cmd("stats")["counts"]
        self.economy(counts)

        n = self.args.runs
        samples = {name: [] for name, _, _ in cmds}
        for r in range(n):
            k = r % len(cmds)
            for name, argv, env in cmds[k:] + cmds[:k]:
                s = self.run(argv, env)
                if s.exit != 0:
                    self.fail(f"happy path: {name} exited {s.exit} in round {r + 1}")
                samples[name].append(s)
        floor = statistics.median(s.wall_ms for s in samples[cmds[0][0]])
        ours = statistics.median(s.wall_ms for s in samples[cmds[1][0]])
        self.emit(f"### 1. Happy path ({n} rounds, commands alternated)\n")
        self.emit("| command | median ms | min ms | max ms | vs floor | cdgate faster by "
                  "| peak RSS KiB median (max) | CPU ms median |")
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, _, _ in cmds:
            ss = samples[name]
            w = [s.wall_ms for s in ss]
            med = statistics.median(w)
            self.emit(f"| {name} | {med:.2f} | {min(w):.2f} | {max(w):.2f} | "
                      f"{med / floor:.2f}x | "
                      f"{'-' if name in (cmds[0][0], cmds[1][0]) else f'{med / ours:.1f}x'} | "
                      f"{statistics.median(s.rss_kib for s in ss):.0f} "
                      f"({max(s.rss_kib for s in ss)}) | "
                      f"{statistics.median(s.cpu_s for s in ss) * 1000:.2f} |")
        self.emit()

    def economy(self, counts: dict) -> None:
        self.emit("### 5. Request economy (IMDS requests of one happy-path run)\n")
        self.emit("| request | count |")
        self.emit("|---|---:|")
        for key in sorted(counts):
            self.emit(f"| `{key}` | {counts[key]} |")
        self.emit()
        tokens = counts.get("PUT /latest/api/token", 0)
        if tokens != 1:
            self.fail(f"request economy: {tokens} IMDS tokens in one run (want 1)")
        for key, n in counts.items():
            if n > 1:
                self.fail(f"request economy: {key} requested {n} times in one run")
        # EC2's notices (checks/notices.h): outside a Spot instance, one
        # more request per lifecycle read (spot/instance-action, also what
        # the watch re-reads), and the rebalance recommendation and the
        # scheduled events once per run
        lifecycle = counts.get("GET /latest/meta-data/autoscaling/target-lifecycle-state", 0)
        spot = counts.get("GET /latest/meta-data/spot/instance-action", 0)
        once = [counts.get("GET /latest/meta-data/events/recommendations/rebalance", 0),
                counts.get("GET /latest/meta-data/events/maintenance/scheduled", 0)]
        self.emit(f"Notices: {spot} spot/instance-action read(s) for {lifecycle} lifecycle "
                  f"read(s); rebalance and scheduled events {once[0]} and {once[1]} time(s).\n")
        if lifecycle < 1 or spot > lifecycle:
            self.fail(f"request economy: {spot} spot/instance-action reads for {lifecycle} "
                      "lifecycle reads (want at most one per lifecycle read)")
        if once != [1, 1]:
            self.fail(f"request economy: rebalance and scheduled events read {once} times "
                      "(want once each)")

    # -- item 2 --
    def waiting_cost(self) -> None:
        wait = self.args.wait
        marker = self.tmp / "never" / "provisioned"
        marker.parent.mkdir(parents=True, exist_ok=True)
        cfg = self.config("never", marker, wait)
        nhooks = self.args.runs
        nloops = 1 if self.args.smoke else 2
        jobs = [("cdgate before-install", [self.hook], self.hook_env(cfg), 2)] * nhooks
        loops = [("bash loop, 1 s, tag with curl (wait.sh)",
                  ["/bin/bash", HERE / "wait.sh"], self.script_env(marker, TIMEOUT=str(wait)),
                  2)]
        if self.aws:
            loops.insert(0, ("bash loop, 1 s, tag with aws CLI (wait.sh)",
                             ["/bin/bash", HERE / "wait.sh"],
                             self.script_env(marker, "aws", TIMEOUT=str(wait)), 2))
        jobs += [j for j in loops for _ in range(nloops)]
        procs = []
        for i, (name, argv, env, _) in enumerate(jobs):
            procs.append(self.start_spawn(argv, env, str(self.tmp / f"wait{i}.out")))
        samples: dict = {}
        for i, (p, (name, _, _, want)) in enumerate(zip(procs, jobs)):
            out, _ = p.communicate(timeout=wait + 120)
            s = Sample(out, (self.tmp / f"wait{i}.out").read_text(errors="replace"))
            if s.exit != want:
                self.fail(f"waiting cost: {name} exited {s.exit} (want {want}): "
                          f"{s.out[-300:]}")
            samples.setdefault(name, []).append(s)
        self.emit(f"### 2. Waiting cost ({wait} s waiting for a marker that never comes; "
                  f"{nhooks} hooks and {nloops} of each loop at once)\n")
        self.emit("| command | runs | CPU s per minute median | min | max | wall s |")
        self.emit("|---|---:|---:|---:|---:|---:|")
        for name in dict.fromkeys(j[0] for j in jobs):
            ss = samples[name]
            per_min = [s.cpu_s * 60000.0 / s.wall_ms for s in ss]
            self.emit(f"| {name} | {len(ss)} | {statistics.median(per_min):.4f} | "
                      f"{min(per_min):.4f} | {max(per_min):.4f} | "
                      f"{statistics.median(s.wall_ms for s in ss) / 1000:.1f} |")
        self.emit()

    # -- item 3 --
    def marker_latency(self) -> None:
        marker = self.tmp / "late" / "provisioned"
        cfg = self.config("late", marker, 30)
        cmds = [("cdgate before-install (inotify)", [self.hook], self.hook_env(cfg),
                 "marker: waiting"),
                ("bash loop, 1 s, tag with curl (wait.sh)", ["/bin/bash", HERE / "wait.sh"],
                 self.script_env(marker, TIMEOUT="30"), "wait: waiting")]
        rnd = random.Random(8)
        n = self.args.runs
        lat: dict = {c[0]: [] for c in cmds}
        for r in range(n):
            delay = rnd.uniform(0.05, 1.05)
            k = r % len(cmds)
            for name, argv, env, ready in cmds[k:] + cmds[:k]:
                ms = self.latency_once(marker, argv, env, ready, delay, name)
                if ms is not None:
                    lat[name].append(ms)
        self.emit(f"### 3. Marker latency ({n} rounds, commands alternated; the marker is "
                  f"renamed into place 0.05 to 1.05 s after the wait began)\n")
        self.emit("| command | median ms | min ms | max ms |")
        self.emit("|---|---:|---:|---:|")
        for name, *_ in cmds:
            v = lat[name]
            if v:
                self.emit(f"| {name} | {statistics.median(v):.1f} | {min(v):.1f} | "
                          f"{max(v):.1f} |")
        self.emit()

    def start_waiting(self, argv, env, ready: str, what: str, **popen):
        """Starts argv (stdout and stderr on one pipe) and reads its output
        until a line holds `ready`; the process, or None (a failure)."""
        p = subprocess.Popen([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)
        seen = b""
        while ready.encode() not in seen:
            line = p.stdout.readline()
            if not line:
                break
            seen += line
        if ready.encode() not in seen:
            p.wait()
            self.fail(f"{what} never waited: {seen[-300:]!r}")
            return None
        return p

    def latency_once(self, marker: Path, argv, env, ready: str, delay: float, name: str):
        if marker.exists():
            marker.unlink()
        marker.parent.mkdir(parents=True, exist_ok=True)
        p = self.start_waiting(argv, env, ready, f"marker latency: {name}")
        if p is None:
            return None
        time.sleep(delay)
        t0 = self.write_marker(marker)
        _, status, _ = os.wait4(p.pid, 0)
        t1 = time.monotonic()
        p.returncode = status >> 8
        rest = p.stdout.read()
        p.stdout.close()
        if status != 0 or b"PASS" not in rest:
            self.fail(f"marker latency: {name} exit status {status}: {rest[-300:]!r}")
            return None
        return (t1 - t0) * 1000.0

    # -- item 6 --
    def sigterm_exit(self) -> None:
        marker = self.tmp / "term" / "provisioned"
        cfg = self.config("term", marker, 60)
        mark_env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "CDGATE_CONFIG": str(cfg)}
        cmds = [("before-install, waiting for the marker", [self.hook],
                 self.hook_env(cfg), "marker: waiting"),
                ("cdgate-mark --run of a command that ignores SIGTERM",
                 [self.build / "bin" / "cdgate-mark", "--instance-id", INSTANCE_ID,
                  "--path", self.tmp / "term-mark" / "provisioned", "--run", "--",
                  "/bin/sh", "-c", "trap '' TERM; echo started; exec sleep 60"],
                 mark_env, "started")]
        rnd = random.Random(6)
        n = self.args.runs
        took: dict = {c[0]: [] for c in cmds}
        for r in range(n):
            k = r % len(cmds)
            for name, argv, env, ready in cmds[k:] + cmds[:k]:
                ms = self.term_once(argv, env, ready, rnd.uniform(0.05, 0.3), name)
                if ms is not None:
                    took[name].append(ms)
        self.emit(f"### 6. SIGTERM to exit ({n} rounds, commands alternated; SIGTERM to "
                  f"the process group 0.05 to 0.3 s into the wait, as the agent's timeout "
                  f"sends it; target 100 ms)\n")
        self.emit("| command | median ms | p95 ms | max ms | under 100 ms |")
        self.emit("|---|---:|---:|---:|---:|")
        for name, *_ in cmds:
            v = sorted(took[name])
            if v:
                self.emit(f"| {name} | {statistics.median(v):.1f} | {pct(v, 95):.1f} | "
                          f"{v[-1]:.1f} | {sum(x < 100 for x in v)}/{len(v)} |")
        self.emit()

    def term_once(self, argv, env, ready: str, delay: float, name: str):
        """Starts argv as the leader of its own process group, waits for
        `ready` in its output, then SIGTERM to the group; ms to the exit
        (which must be 3, the exit code of a SIGTERM), or None."""
        p = self.start_waiting(argv, env, ready, f"SIGTERM: {name}",
                               start_new_session=True, cwd="/")
        if p is None:
            return None
        time.sleep(delay)
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGTERM)
        _, status, _ = os.wait4(p.pid, 0)
        t1 = time.monotonic()
        p.returncode = status >> 8
        rest = p.stdout.read()
        p.stdout.close()
        if status >> 8 != 3 or b"FAIL: terminated by SIGTERM" not in rest:
            self.fail(f"SIGTERM: {name} exit status {status}: {rest[-300:]!r}")
            return None
        return (t1 - t0) * 1000.0

    # -- item 4 --
    def fleet(self) -> None:
        sizes = [int(x) for x in self.args.fleet.split(",") if x]
        marker = self.tmp / "fleet" / "provisioned"
        self.write_marker(marker)
        cfg = self.config("fleet", marker, FLEET_TIMEOUT, source="ec2")
        # not in a group (no lifecycle watch polling the one shared IMDS)
        imds = Standin("imds", {"instance_id": INSTANCE_ID, "region": REGION,
                                "tags": TAGS, "lifecycle_state": None})
        try:
            hook_env = self.hook_env(cfg, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                                     AWS_ENDPOINT_URL_EC2=self.ec2.url, AWS_REGION=REGION,
                                     AWS_ACCESS_KEY_ID=ACCESS_KEY,
                                     AWS_SECRET_ACCESS_KEY=SECRET_KEY)
            # the same binary with the naive policy: every retry after
            # exactly 1 s (test-only switch, ec2.h), all else equal
            naive_env = dict(hook_env, CDGATE_TEST_FIXED_RETRY_MS="1000")
            cmds = [("cdgate before-install (full jitter, base 1 s, cap 20 s)",
                     [self.hook], hook_env),
                    ("cdgate, naive fixed 1 s retry (CDGATE_TEST_FIXED_RETRY_MS)",
                     [self.hook], naive_env)]
            rows = []
            for size in sizes:
                for name, argv, env in cmds:
                    rows.append((size, name) + self.fleet_once(size, argv, env, name))
        finally:
            imds.stop()
        self.emit(f"### 4. Fleet ({'/'.join(map(str, sizes))} processes at once; EC2 "
                  f"token bucket {FLEET_BUCKET[0]:.0f}/s, burst {FLEET_BUCKET[1]}; "
                  f"deadline {FLEET_TIMEOUT} s)\n")
        self.emit("| processes | command | passed | EC2 calls | throttled | "
                  "p50 s | p99 s | max s |")
        self.emit("|---:|---|---:|---:|---:|---:|---:|---:|")
        for size, name, ok, calls, thr, p50, p99, mx in rows:
            self.emit(f"| {size} | {name} | {ok}/{size} | {calls} | {thr} | {p50:.2f} | "
                      f"{p99:.2f} | {mx:.2f} |")
        self.emit()

    def fleet_once(self, size: int, argv, env, name: str):
        """size processes released at once (spawn -n); the EC2 stand-in's
        counters; (passed, calls, throttled, p50, p99, max)."""
        self.ec2.cmd("reset")
        self.ec2.cmd(f"bucket {FLEET_BUCKET[0]} {FLEET_BUCKET[1]}")
        outdir = Path(tempfile.mkdtemp(prefix=f"fleet-{size}-", dir=self.tmp))
        r = subprocess.run([str(self.spawn), "-n", str(size), "-d", str(outdir), "--",
                            *map(str, argv)], env=env, capture_output=True, text=True,
                           timeout=FLEET_TIMEOUT + 300, check=False)
        stats = self.ec2.cmd("stats")
        self.ec2.cmd("bucket off")
        if r.returncode != 0:
            raise BenchError(f"fleet {size}: spawn: {r.stderr.strip()}")
        done = [line.split() for line in r.stdout.splitlines()]
        times = sorted(int(d[1]) / 1e6 for d in done)
        bad = [d[0] for d in done if int(d[5]) != 0]
        if len(done) != size or bad:
            self.fail(f"fleet {size}: {name}: {len(bad)} of {len(done)} did not pass, "
                      f"e.g.: "
                      f"{(outdir / f'{bad[0]}.out').read_text(errors='replace')[-400:]}"
                      if bad else f"fleet {size}: {name}: {len(done)} of {size} reported")
        return (size - len(bad), stats["calls"], stats["throttled"], pct(times, 50),
                pct(times, 99), times[-1] if times else 0.0)

    # -- the machine --
    def machine(self) -> None:
        cpu = "unknown"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        libcurl = subprocess.run(["pkg-config", "--modversion", "libcurl"],
                                 capture_output=True, text=True).stdout.strip()
        ossl = subprocess.run(["openssl", "version"], capture_output=True,
                              text=True).stdout.strip()
        aws = "not installed"
        if self.aws:
            aws = subprocess.run([self.aws, "--version"], capture_output=True, text=True,
                                 env={"PATH": BASE_PATH, "HOME": str(self.tmp)}
                                 ).stdout.strip()
        bash = subprocess.run(["/bin/bash", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
        load = Path("/proc/loadavg").read_text().split()[:3]
        self.emit(f"Machine: {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
                  f"libcurl {libcurl}, {ossl}, {bash}, aws CLI: {aws}; "
                  f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                  f"load average {' '.join(load)} at the start.\n")

    def check_floor(self) -> None:
        """The floor must load exactly the shared objects the hook loads."""
        def objects(p):
            r = subprocess.run([str(p)], env={"LD_TRACE_LOADED_OBJECTS": "1"},
                               capture_output=True, text=True)
            return sorted(line.split()[0] for line in r.stdout.splitlines()
                          if line.strip() and "vdso" not in line)
        a, b = objects(self.floor), objects(self.hook)
        if a != b:
            self.fail(f"floor loads {sorted(set(a) ^ set(b))} unlike before-install")
        self.emit(f"The floor and before-install both load {len(a)} shared objects.\n")


def pct(values, p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--wait", type=int, default=60)
    ap.add_argument("--fleet", default="200,1000")
    ap.add_argument("--items", default="1,2,3,4,6")
    ap.add_argument("--aws", default="/usr/bin/aws")
    ap.add_argument("--out")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                    help="item 1: also run this before-install build (before/after)")
    ap.add_argument("--variant-floor", action="append", default=[],
                    metavar="NAME=PATH",
                    help="item 1: also run this floor build (does nothing)")
    ap.add_argument("--no-scripts", action="store_true",
                    help="item 1: leave out the bash scripts (quicker comparisons)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.runs, args.wait, args.fleet = 1, 3, "10"
    items = set(args.items.split(","))
    t0 = time.monotonic()
    try:
        b = Bench(args)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 64
    try:
        b.start()
        b.machine()
        b.check_floor()
        if "1" in items:
            b.happy_path()
        if "2" in items:
            b.waiting_cost()
        if "3" in items:
            b.marker_latency()
        if "4" in items:
            b.fleet()
        if "6" in items:
            b.sigterm_exit()
    except BenchError as e:
        b.fail(str(e))
    finally:
        if not args.keep:
            b.stop()
        else:
            print(f"bench: kept {b.tmp}", file=sys.stderr)
    b.emit(f"(bench ran {time.monotonic() - t0:.0f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(b.out) + "\n")
    if b.failures:
        print(f"bench: {len(b.failures)} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
