"""`make bundle DEST=DIR` (tools/bundle) and the example revision in appspec/ (issue 7)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lib.agent import HOOK_EVENTS, HOOKS, run_program

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "tools" / "bundle"
EXAMPLE = ROOT / "appspec"
EXAMPLE_INI = EXAMPLE / "cdgate" / "cdgate.ini"
MARGIN = 60
# The example cdgate.ini's deadlines: [gate] timeout = 300 and the event
# sections' overrides.
EXAMPLE_DEADLINES = {ev: 300 for ev in HOOK_EVENTS.values()}
EXAMPLE_DEADLINES.update(BeforeInstall=900, ValidateService=180, AfterBlockTraffic=120)


def bundle(build: Path, *args, env=None) -> subprocess.CompletedProcess:
    """Runs tools/bundle BUILD ARGS... as `make bundle` does."""
    e = {k: v for k, v in os.environ.items() if k != "CDGATE_CONFIG"}
    e.update(env or {})
    return subprocess.run(["sh", str(BUNDLE), str(build), *map(str, args)], env=e,
                          capture_output=True, text=True, timeout=120)


def hooks_of(yaml_text: str) -> dict:
    """{event: (location, timeout)} from the hooks section of an appspec.

    A small reader for the block layout appspec files use: `  Event:` then
    `    - location: X` and `      timeout: N`.  Fails on anything else in
    the hooks section, so a malformed file cannot pass.
    """
    hooks, event, section = {}, None, False
    for raw in yaml_text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            section = line == "hooks:"
            continue
        if not section:
            continue
        m = re.fullmatch(r"  (\w+):", line)
        if m:
            event = m.group(1)
            assert event not in hooks, f"{event} listed twice"
            hooks[event] = [None, None]
            continue
        m = re.fullmatch(r"    - location: (\S+)", line)
        if m and event:
            hooks[event][0] = m.group(1)
            continue
        m = re.fullmatch(r"      timeout: (\d+)", line)
        if m and event:
            hooks[event][1] = int(m.group(1))
            continue
        raise AssertionError(f"unexpected line in hooks: {raw!r}")
    return {k: tuple(v) for k, v in hooks.items()}


def expected_hooks(deadlines: dict) -> dict:
    return {ev: (f"cdgate/{prog}", min(deadlines[ev] + MARGIN, 3600))
            for prog, ev in HOOK_EVENTS.items()}


def assert_hooks_bundled(build: Path, dest: Path) -> None:
    for h in HOOKS:
        p = dest / "cdgate" / h
        assert p.is_file(), f"{p} missing"
        assert stat.S_IMODE(p.stat().st_mode) == 0o755, oct(p.stat().st_mode)
        assert p.read_bytes() == (build / "hooks" / h).read_bytes(), f"{p} differs from the build"


def test_bundle_fresh_dir_gets_hooks_config_and_appspec(build, tmp_path):
    dest = tmp_path / "revision"            # does not exist yet
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_hooks_bundled(build, dest)
    ini = dest / "cdgate" / "cdgate.ini"
    assert ini.read_bytes() == EXAMPLE_INI.read_bytes()
    assert stat.S_IMODE(ini.stat().st_mode) == 0o644
    app = (dest / "appspec.yml").read_text()
    assert re.search(r"^version: 0\.0$", app, re.M), app
    assert re.search(r"^os: linux$", app, re.M), app
    assert hooks_of(app) == expected_hooks(EXAMPLE_DEADLINES)
    assert not (dest / "cdgate" / "appspec-hooks.snippet.yml").exists()
    assert "appspec.yml' written" in r.stdout, r.stdout


def test_bundle_keeps_existing_appspec_and_writes_snippet(build, tmp_path):
    dest = tmp_path / "revision"
    dest.mkdir()
    mine = "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
    (dest / "appspec.yml").write_text(mine)
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dest / "appspec.yml").read_text() == mine, "an existing appspec.yml was changed"
    snippet = dest / "cdgate" / "appspec-hooks.snippet.yml"
    assert hooks_of(snippet.read_text()) == expected_hooks(EXAMPLE_DEADLINES)
    assert "merge" in r.stdout and str(snippet) in r.stdout, r.stdout
    assert_hooks_bundled(build, dest)


def test_bundle_keeps_existing_config_and_times_appspec_from_it(build, tmp_path):
    dest = tmp_path / "revision"
    (dest / "cdgate").mkdir(parents=True)
    ini = dest / "cdgate" / "cdgate.ini"
    mine = "[gate]\ntimeout = 100\n[BeforeInstall]\ntimeout = 200\n"
    ini.write_text(mine)
    os.chmod(ini, 0o600)
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ini.read_text() == mine and stat.S_IMODE(ini.stat().st_mode) == 0o600
    deadlines = {ev: 100 for ev in HOOK_EVENTS.values()}
    deadlines["BeforeInstall"] = 200
    assert hooks_of((dest / "appspec.yml").read_text()) == expected_hooks(deadlines)
    assert "kept" in r.stdout, r.stdout


def test_bundle_caps_appspec_timeout_at_3600_with_a_warning(build, tmp_path):
    dest = tmp_path / "revision"
    (dest / "cdgate").mkdir(parents=True)
    (dest / "cdgate" / "cdgate.ini").write_text("[gate]\ntimeout = 3590\n")
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    got = hooks_of((dest / "appspec.yml").read_text())
    assert {t for _, t in got.values()} == {3600}, got
    assert "capped at 3600" in r.stdout + r.stderr


def test_bundle_refuses_invalid_bundled_config(build, tmp_path):
    dest = tmp_path / "revision"
    (dest / "cdgate").mkdir(parents=True)
    (dest / "cdgate" / "cdgate.ini").write_text("[gate]\ntimout = 3\n")
    r = bundle(build, dest)
    assert r.returncode == 78, r.stdout + r.stderr
    assert "cdgate.ini:2: unknown key 'timout'" in r.stdout, r.stdout
    assert not (dest / "appspec.yml").exists()


def test_bundle_refuses_group_writable_bundled_config(build, tmp_path):
    dest = tmp_path / "revision"
    (dest / "cdgate").mkdir(parents=True)
    ini = dest / "cdgate" / "cdgate.ini"
    ini.write_text("[gate]\ntimeout = 30\n")
    os.chmod(ini, 0o664)
    r = bundle(build, dest)
    assert r.returncode == 78, r.stdout + r.stderr
    assert "group-writable" in r.stdout and "chmod go-w" in r.stdout, r.stdout


def test_bundle_without_dest_is_usage_error(build):
    r = bundle(build)
    assert r.returncode == 64, r.stdout + r.stderr
    assert "DEST" in r.stdout, r.stdout


def test_bundle_without_built_hooks_is_error(tmp_path):
    r = bundle(tmp_path / "nobuild", tmp_path / "revision")
    assert r.returncode == 64, r.stdout + r.stderr
    assert "run make first" in r.stdout, r.stdout
    assert not (tmp_path / "revision").exists()


def test_make_bundle_without_dest_fails_before_building(build, tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DEST")}
    r = subprocess.run(["make", "-C", str(ROOT), f"BUILD={tmp_path / 'nobuild'}", "bundle"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "DEST=DIR" in r.stderr, r.stderr
    assert not (tmp_path / "nobuild").exists(), "make built something before refusing"


@pytest.mark.parametrize("hook", HOOKS)
def test_bundled_hooks_find_bundled_config(build, tmp_path, hook):
    dest = tmp_path / "revision"
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    ini = dest / "cdgate" / "cdgate.ini"
    res = run_program(dest / "cdgate" / hook, ["-n"],
                      env={"LIFECYCLE_EVENT": HOOK_EVENTS[hook]})
    assert res.returncode == 0, res.describe()
    assert f"config '{ini}'" in res.stdout, res.describe()
    deadline = EXAMPLE_DEADLINES[HOOK_EVENTS[hook]]
    assert f"; deadline {deadline}s" in res.stdout, res.describe()


def test_example_revision_names_all_nine_hooks_above_their_deadlines():
    got = hooks_of((EXAMPLE / "appspec.yml").read_text())
    assert got == expected_hooks(EXAMPLE_DEADLINES)


def test_example_revision_matches_what_bundle_derives(build, tmp_path):
    """The example appspec's timeouts are the ones the hooks report for the
    example cdgate.ini (so EXAMPLE_DEADLINES above is not just restated)."""
    dest = tmp_path / "revision"
    shutil.copytree(EXAMPLE, dest)
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    snippet = hooks_of((dest / "cdgate" / "appspec-hooks.snippet.yml").read_text())
    assert snippet == hooks_of((EXAMPLE / "appspec.yml").read_text())
    assert (dest / "appspec.yml").read_bytes() == (EXAMPLE / "appspec.yml").read_bytes()


def test_bundle_again_rewrites_the_timeouts_of_its_own_appspec(build, tmp_path):
    """Raising a timeout in cdgate.ini reaches the appspec make bundle wrote,
    and nothing else in that file changes (the operator's files: stay)."""
    dest = tmp_path / "rev"
    assert bundle(build, dest).returncode == 0
    app = dest / "appspec.yml"
    assert app.read_text().splitlines()[0].startswith("# cdgate: written by make bundle")
    app.write_text(app.read_text() + "files:\n  - source: app\n    destination: /opt/app\n")
    ini = dest / "cdgate" / "cdgate.ini"
    ini.write_text(ini.read_text().replace("timeout = 900", "timeout = 1800"))
    before = app.read_text()
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    after = app.read_text()
    deadlines = dict(EXAMPLE_DEADLINES, BeforeInstall=1800)
    assert hooks_of(after) == expected_hooks(deadlines)
    assert after == before.replace("timeout: 960", "timeout: 1860")
    assert "was written by make bundle: its cdgate timeouts now follow" in r.stdout
    assert not (dest / "cdgate" / "appspec-hooks.snippet.yml").exists()


def test_bundle_again_recognises_the_older_mark(build, tmp_path):
    dest = tmp_path / "rev"
    assert bundle(build, dest).returncode == 0
    app = dest / "appspec.yml"
    lines = app.read_text().splitlines(keepends=True)
    old = ("# cdgate hooks (make bundle).  Each timeout is the event's deadline in\n"
           + "".join(lines[1:]).replace("timeout: 360", "timeout: 100"))
    app.write_text(old)
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert hooks_of(app.read_text()) == expected_hooks(EXAMPLE_DEADLINES)


def test_bundle_names_cdgate_entries_it_could_not_retime(build, tmp_path):
    dest = tmp_path / "rev"
    assert bundle(build, dest).returncode == 0
    app = dest / "appspec.yml"
    app.write_text(app.read_text().replace("cdgate/after-install", "mine/after-install"))
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no timeout rewritten for: after-install;" in r.stdout, r.stdout


def test_bundle_over_own_appspec_says_the_hooks_cap_their_deadline(build, tmp_path):
    dest = tmp_path / "rev"
    dest.mkdir()
    (dest / "appspec.yml").write_text("version: 0.0\nos: linux\n")
    r = bundle(build, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dest / "appspec.yml").read_text() == "version: 0.0\nos: linux\n"
    assert "is your own: not changed" in r.stdout
    assert "the hooks cap their deadline by the timeout they find there" in r.stdout


def test_bundle_refuses_a_program_of_another_architecture(build, tmp_path):
    other = "aarch64" if os.uname().machine == "x86_64" else "x86_64"
    r = bundle(build, tmp_path / "rev", f"{other}={build}")
    assert r.returncode == 64, r.stdout + r.stderr
    assert f"is not an {other} program" in r.stdout and f"make ARCH={other}" in r.stdout
    r = bundle(build, tmp_path / "rev", f"riscv64={build}")
    assert r.returncode == 64 and "'riscv64' is not supported" in r.stdout, r.stdout


def test_bundle_from_a_relative_build_directory(build, tmp_path):
    """make bundle passes BUILD as the Makefile names it (build, relative)."""
    top = BUNDLE.parents[1]
    rel = os.path.relpath(build, top)
    r = subprocess.run(["sh", "tools/bundle", rel, str(tmp_path / "rev")], cwd=top,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert hooks_of((tmp_path / "rev" / "appspec.yml").read_text()) == \
        expected_hooks(EXAMPLE_DEADLINES)
