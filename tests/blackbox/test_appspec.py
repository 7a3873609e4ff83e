"""Deadlines that follow the appspec (appspec.h), run as the agent runs a hook.

The agent's timeout is the `timeout` of the hook's appspec entry; at that
timeout the agent sends SIGTERM and closes the hook's pipes at once
(tests/lib/agent.py), so a verdict printed after it is lost.  Each test
here writes the appspec and gives the runner the same timeout.

- Without an appspec the hook can read, the configured deadline (300 s)
  stands and the runner's timeout comes first: the verdict is lost (the
  failure mode before the hook read its appspec).
- With an appspec timeout of 5 s or 60 s against cdgate.ini's 300 s, the
  hook ends APPSPEC_MARGIN (3 s) before it: its own FAIL is the last line
  the runner captured, for a marker wait and a health wait.
- Bad appspecs fail closed with exit 78 naming the file (and the line).
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from lib.agent import (SLACK, assert_agent_clean, assert_term_prompt,
                       assert_verdict_lost, make_archive, run_hook, run_program)

MARGIN = 3                      # APPSPEC_MARGIN
CONFIGURED = 300


def marker_cfg(tmp_path) -> str:
    state = tmp_path / "state"
    state.mkdir(mode=0o755, exist_ok=True)
    return (f"[gate]\ntimeout = {CONFIGURED}\nhistory = {tmp_path}/history.jsonl\n"
            f"[marker]\npath = {state}/provisioned\n"
            "[BeforeInstall]\nchecks = lifecycle marker\n")


def health_cfg(tmp_path, port: int) -> str:
    return (f"[gate]\ntimeout = {CONFIGURED}\nhistory = {tmp_path}/history.jsonl\n"
            f"[health]\nurl = http://127.0.0.1:{port}/health\ninterval = 200ms\n"
            "[ValidateService]\nchecks = lifecycle health\n")


def appspec(entries: dict) -> str:
    """entries: {event: [(location, timeout or None), ...]}."""
    out = ["version: 0.0", "os: linux", "hooks:"]
    for event, scripts in entries.items():
        out.append(f"  {event}:")
        for loc, t in scripts:
            out.append(f"    - location: {loc}")
            if t is not None:
                out.append(f"      timeout: {t}")
    return "\n".join(out) + "\n"


def history(tmp_path) -> list:
    return [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]


def timeout_line(dep, event: str) -> int:
    """The line of the event's first timeout in the archive's appspec.yml."""
    lines = (dep.path / "appspec.yml").read_text().splitlines()
    start = lines.index(f"  {event}:")
    return next(i for i in range(start, len(lines)) if "timeout:" in lines[i]) + 1


def check(dep, program: str):
    """`PROGRAM -n` run from the archive (so /proc/self/exe is there)."""
    return run_program(dep.hook(program), ["-n"], timeout=30)


# ---------------------------------------------------------------------------
# The failure mode: the agent's timeout first, the verdict lost


@pytest.mark.parametrize("how", ["no appspec", "no entry for the hook"])
def test_runner_timeout_first_loses_the_verdict(deploy, tmp_path, report, how):
    """The hook cannot know the agent's timeout (no appspec; an appspec
    whose entry is a wrapper script): its deadline is cdgate.ini's 300 s,
    the agent's 5 s comes first, and what it prints then is lost: the
    console shows no reason at all, only the history line has it."""
    if how == "no appspec":
        dep = deploy(marker_cfg(tmp_path), appspec=False)
        r = dep.run("before-install", timeout=5)
    else:       # the agent runs wrapper.sh, which runs the hook
        dep = deploy(marker_cfg(tmp_path), appspec=False, files={
            "appspec.yml": appspec({"BeforeInstall": [("wrapper.sh", 5)]}),
            "wrapper.sh": "#!/bin/sh\nexec \"$(dirname \"$0\")/cdgate/before-install\"\n"})
        r = run_hook(dep.path / "wrapper.sh", "BeforeInstall", env=dep.env(), timeout=5,
                     deployment=dep.archive)
    assert "checks: lifecycle marker; deadline 300s" in r.stdout, r
    assert_term_prompt(r, report, f"at the agent's timeout ({how})")
    assert_verdict_lost(r)
    assert r.agent_message.endswith("failed to complete in 5 seconds"), r
    e = history(tmp_path)[-1]
    assert e["exit"] == 3 and "SIGTERM" in e["reason"], e


# ---------------------------------------------------------------------------
# The fix: the appspec's timeout less the margin, the verdict last


def assert_own_fail_before_timeout(r, timeout: int, report, what: str) -> None:
    """The hook's own FAIL at its deadline is the last line captured, before
    the runner's timeout, with the plan line naming the appspec.  Exit 2
    (the wait timed out); on a machine so loaded that the start took the
    whole deadline, 69 from the lifecycle read ("no time left"): the hook's
    own verdict all the same."""
    in_force = timeout - MARGIN
    assert not r.timed_out, r
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 2 or (r.returncode == 69 and "no time left" in r.verdict), r
    assert f"; deadline {in_force}s (appspec timeout {timeout}s)" in r.stdout, r
    assert r.elapsed < timeout, r
    report(f"appspec timeout {timeout}s, {what}: exit {r.elapsed - in_force:.2f} s after "
           f"the deadline, {timeout - r.elapsed:.2f} s before the agent's timeout")


def marker_run(deploy, tmp_path, timeout: int):
    dep = deploy(marker_cfg(tmp_path), appspec_timeout=timeout)
    return dep.run("before-install", timeout=timeout)


def health_run(deploy, tmp_path, port: int, timeout: int):
    dep = deploy(health_cfg(tmp_path, port), appspec_timeout=timeout)
    return dep.run("validate-service", timeout=timeout)


def test_appspec_5s_marker_wait_ends_with_its_own_verdict(deploy, tmp_path, report):
    r = marker_run(deploy, tmp_path, 5)
    assert_own_fail_before_timeout(r, 5, report, "marker wait")
    assert r.returncode == 69 or "within 2s" in r.verdict, r
    e = history(tmp_path)[-1]
    assert e["exit"] == r.returncode and e["verdict"] == "fail", e


def test_appspec_5s_health_wait_ends_with_its_own_verdict(deploy, tmp_path, report,
                                                          refused_port):
    r = health_run(deploy, tmp_path, refused_port, 5)
    assert_own_fail_before_timeout(r, 5, report, "health wait")
    assert r.returncode == 69 or "health" in r.verdict, r


def test_appspec_60s_marker_and_health_waits_end_with_their_own_verdicts(
        deploy, tmp_path, report, refused_port):
    """The same at 60 s, both runs side by side (one test's wall time,
    57 s, not two): the margin holds for a long timeout too."""
    (tmp_path / "m").mkdir()
    (tmp_path / "h").mkdir()
    with ThreadPoolExecutor(2) as ex:
        fm = ex.submit(marker_run, deploy, tmp_path / "m", 60)
        fh = ex.submit(health_run, deploy, tmp_path / "h", refused_port, 60)
        rm, rh = fm.result(), fh.result()
    assert_own_fail_before_timeout(rm, 60, report, "marker wait")
    assert_own_fail_before_timeout(rh, 60, report, "health wait")


def test_several_architecture_dispatcher_entry_is_followed(build, imds, tmp_path, report):
    """make bundle ARCHS=...: the appspec names cdgate/before-install, a sh
    dispatcher that execs cdgate/ARCH/before-install in the same process
    (the agent's timeout goes on): the program follows that entry."""
    arch = os.uname().machine
    dispatcher = ("#!/bin/sh\nself=$(readlink -f -- \"$0\" 2>/dev/null) || self=$0\n"
                  f"dir=${{self%/*}}\nexec \"$dir/{arch}/before-install\" \"$@\"\n")
    arc = make_archive(tmp_path / "agent", {f"cdgate/{arch}/before-install":
                                            build / "hooks" / "before-install"},
                       {"cdgate/before-install": dispatcher,
                        "appspec.yml": appspec({"BeforeInstall": [("cdgate/before-install", 5)]})},
                       config=marker_cfg(tmp_path), config_dir="cdgate", appspec=False)
    os.chmod(arc.path / "cdgate" / "before-install", 0o755)
    r = run_hook(arc.path / "cdgate" / "before-install", "BeforeInstall", timeout=5,
                 env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": "us-east-1"})
    assert_own_fail_before_timeout(r, 5, report, "marker wait, through a dispatcher")
    c = run_program(arc.path / "cdgate" / "before-install", ["-n"], timeout=30)
    assert "timeout 5s (the entry of its dispatcher); in force 2s" in c.stdout, c


# ---------------------------------------------------------------------------
# -n: both deadlines, and which is in force


@pytest.mark.valgrind
def test_check_mode_shows_both(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path), appspec_timeout=60)
    r = check(dep, "before-install")
    assert_agent_clean(r, "PASS")
    spec = dep.path / "appspec.yml"
    assert "checks: lifecycle marker; deadline 57s (appspec timeout 60s)" in r.stdout, r
    assert (f"deadline: configured 300s; appspec '{spec}' line "
            f"{timeout_line(dep, 'BeforeInstall')}: timeout 60s; in force 57s (the appspec timeout less 3s to report)") in r.stdout, r
    assert re.search(r"deadline: configured ([0-9]+)s", r.stdout).group(1) == "300"


def test_check_mode_appspec_above_the_configured(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path))          # timeout: 3600
    r = check(dep, "before-install")
    spec = dep.path / "appspec.yml"
    assert "checks: lifecycle marker; deadline 300s\n" in r.stdout, r
    assert (f"deadline: configured 300s; appspec '{spec}' line "
            f"{timeout_line(dep, 'BeforeInstall')}: timeout 3600s; in force 300s"
            ) in r.stdout, r


def test_check_mode_no_timeout_is_the_agents_default(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path), appspec_timeout=None)
    r = check(dep, "before-install")
    assert "timeout 3600s (none given: the agent's default); in force 300s" in r.stdout, r


def test_check_mode_no_appspec(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path), appspec=False)
    r = check(dep, "before-install")
    assert_agent_clean(r, "PASS")
    assert (f"deadline: configured 300s; no appspec found (looked in 2 directories, "
            f"from the program's up to '{dep.path}'); in force 300s") in r.stdout, r


def test_check_mode_appspec_yaml_and_entry_for_another(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path), appspec=False, files={
        "appspec.yaml": appspec({"BeforeInstall": [("scripts/other.sh", 10)],
                                 "AfterInstall": [("cdgate/before-install", 10)]})})
    r = check(dep, "before-install")
    assert (f"appspec '{dep.path}/appspec.yaml' has no entry for this program under "
            "BeforeInstall; in force 300s") in r.stdout, r


def test_traffic_and_stop_hooks_read_the_last_successful_revisions_appspec(deploy, tmp_path):
    """The agent runs ApplicationStop, BeforeBlockTraffic and
    AfterBlockTraffic from the last successful revision's archive: each
    reads the appspec there (where it runs from), not the new one's."""
    old = deploy(marker_cfg(tmp_path), appspec_timeout=20)
    new = deploy(marker_cfg(tmp_path), appspec_timeout=600)
    for hook in ("application-stop", "before-block-traffic", "after-block-traffic"):
        r = check(old, hook)
        assert f"appspec '{old.path}/appspec.yml' line" in r.stdout, r
        assert "timeout 20s; in force 17s" in r.stdout, r
        assert str(new.path) not in r.stdout, r


def test_hook_run_by_hand_outside_an_archive(build, tmp_path):
    """A copy outside any archive, run by hand: the configured deadline."""
    (tmp_path / "opt").mkdir()
    hook = tmp_path / "opt" / "before-install"
    hook.write_bytes((build / "hooks" / "before-install").read_bytes())
    hook.chmod(0o755)
    (tmp_path / "opt" / "cdgate.ini").write_text("[gate]\nhistory = none\ntimeout = 42\n")
    r = run_program(hook, ["-n"], timeout=30)
    assert r.returncode == 0, r
    assert "deadline: configured 42s; no appspec found" in r.stdout, r
    assert "deadline 42s\n" in r.stdout


# ---------------------------------------------------------------------------
# Entries: listed twice, `..`, links


def test_listed_twice_takes_the_smaller(deploy, tmp_path):
    dep = deploy(marker_cfg(tmp_path), appspec=False, files={"appspec.yml": appspec(
        {"BeforeInstall": [("cdgate/before-install", 900), ("cdgate/before-install", 45)]})})
    r = check(dep, "before-install")
    assert "line 8: timeout 45s; in force 42s" in r.stdout, r


@pytest.mark.parametrize("location", ["cdgate/../cdgate/before-install",
                                      "/cdgate/before-install", "link-to-hook"])
def test_location_resolving_to_the_program(deploy, tmp_path, location):
    """`..`, a leading slash (the agent joins it to the archive) and a link
    to the program all name it: the match is the file, not the text."""
    dep = deploy(marker_cfg(tmp_path), appspec=False, files={"appspec.yml": appspec(
        {"BeforeInstall": [(location, 20)]})})
    os.symlink("cdgate/before-install", dep.path / "link-to-hook")
    r = check(dep, "before-install")
    assert "line 6: timeout 20s; in force 17s" in r.stdout, r


@pytest.mark.parametrize("location", ["../deployment-archive-other/cdgate/before-install",
                                      "link-elsewhere", "cdgate/after-install"])
def test_location_naming_another_file_is_not_ours(deploy, tmp_path, location):
    """A `..` leading out, a link to another program, another hook: not
    this program's entry, whatever its timeout; the configured one stands."""
    dep = deploy(marker_cfg(tmp_path), appspec=False, files={"appspec.yml": appspec(
        {"BeforeInstall": [(location, 4)]})})
    os.symlink("cdgate/after-install", dep.path / "link-elsewhere")
    r = check(dep, "before-install")
    assert "has no entry for this program under BeforeInstall; in force 300s" in r.stdout, r


# ---------------------------------------------------------------------------
# Bad appspecs: exit 78, the file and the line, in the run and with -n

BOMB = ('version: 0.0\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
        'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'
        'hooks:\n  BeforeInstall:\n    - location: cdgate/before-install\n      timeout: 60\n')
ENTRY = "    - location: cdgate/before-install\n"

BAD = {
    "yaml bomb": (BOMB, "line 2: an anchor (&a): anchors and aliases are not accepted"),
    "tab": ("hooks:\n  BeforeInstall:\n" + ENTRY + "\t  timeout: 60\n",
            "line 4: not valid YAML: found a tab character that violates indentation"),
    "event twice": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout: 900\n"
                    "  BeforeInstall:\n" + ENTRY + "      timeout: 5\n",
                    "line 5: BeforeInstall given twice in hooks (lines 2 and 5)"),
    "timeout twice": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout: 900\n"
                      "      timeout: 5\n", "line 5: this program's entry under BeforeInstall: timeout given twice in one entry"),
    "timeout zero": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout: 0\n",
                     "line 4: this program's entry under BeforeInstall: timeout '0' is "
                     "not a positive whole number of seconds"),
    "timeout with unit": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout: 60s\n",
                          "line 4: this program's entry under BeforeInstall: timeout '60s' is not a "
                          "positive whole number"),
    "timeout empty": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout:\n",
                      "line 4: this program's entry under BeforeInstall: timeout has no value"),
    "too short": ("hooks:\n  BeforeInstall:\n" + ENTRY + "      timeout: 3\n",
                  "line 4: timeout 3s leaves no time once cdgate keeps 3s to report "
                  "before it; make it at least 4s (configured deadline 300s)"),
    "huge": ("#" * (128 * 1024) + "\n", "is too large (131073 bytes, at most 131072)"),
    "two documents": ("hooks: {}\n---\nhooks: {}\n", "line 2: a second YAML document"),
}


# the valgrind subset (make valgrind): the parser's refusals, quick ones
VG = ("yaml bomb", "tab", "event twice", "timeout zero", "huge")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.valgrind) if n in VG
                                  else n for n in BAD])
def test_bad_appspec_fails_closed(deploy, tmp_path, name):
    text, want = BAD[name]
    dep = deploy(marker_cfg(tmp_path), appspec=False, files={"appspec.yml": text})
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78, r
    assert f"appspec '{dep.path}/appspec.yml'" in r.verdict, r
    assert want in r.verdict, r
    assert r.elapsed < 2 + SLACK, r                 # at once, no wait
    e = history(tmp_path)[-1]                       # a failed run, recorded
    assert e["exit"] == 78 and want in e["reason"], e
    c = check(dep, "before-install")
    assert c.returncode == 78 and want in c.verdict, c


@pytest.mark.parametrize("how", ["group-writable", "world-writable", "symlink", "directory"])
def test_unsafe_appspec_file_fails_closed(deploy, tmp_path, how):
    dep = deploy(marker_cfg(tmp_path), appspec_timeout=60)
    spec = dep.path / "appspec.yml"
    want = {"group-writable": "is group-writable; chmod go-w",
            "world-writable": "is world-writable; chmod go-w",
            "symlink": "is a symbolic link; links are refused",
            "directory": "is a directory"}[how]
    if how == "group-writable":
        spec.chmod(0o664)
    elif how == "world-writable":
        spec.chmod(0o646)
    elif how == "symlink":
        os.rename(spec, dep.path / "real.yml")
        os.symlink("real.yml", spec)
    else:
        spec.unlink()
        spec.mkdir()
    r = dep.run("before-install", timeout=30)
    assert_agent_clean(r, "FAIL")
    assert r.returncode == 78 and f"appspec '{spec}' {want}" in r.verdict, r
