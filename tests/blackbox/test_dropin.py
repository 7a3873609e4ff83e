"""Starting the agent after provisioning (issue 4): the systemd drop-in for
codedeploy-agent.service and the example User Data script.

systemd-analyze verify loads a stub codedeploy-agent.service from a
temporary directory together with the built drop-in, so the drop-in itself
is parsed and checked (unknown keys, bad values and missing executables are
reported on stderr; a broken copy proves the check can fail).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lib.agent import HOOKS

REPO = Path(__file__).resolve().parents[2]
DROPIN_REL = Path("dist/systemd/codedeploy-agent.service.d/cdgate.conf")
USER_DATA = REPO / "appspec" / "user-data.sh"
STUB = """[Unit]
Description=stub of codedeploy-agent for systemd-analyze verify

[Service]
Type=forking
ExecStart=/bin/true
"""

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (package systemd): the drop-in "
           "cannot be verified on this machine")


@pytest.fixture
def dropin(build) -> Path:
    p = build / DROPIN_REL
    assert p.is_file(), f"{p} not built: `make` builds it from {DROPIN_REL}.in"
    return p


def keys(text):
    """(section, key, value) of a unit file, comments skipped."""
    out, sec = [], None
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln[0] in "#;":
            continue
        if ln.startswith("["):
            sec = ln.strip("[]")
            continue
        k, _, v = ln.partition("=")
        out.append((sec, k.strip(), v.strip()))
    return out


def verify(tmp_path, dropin_text):
    """systemd-analyze verify on a stub unit with this drop-in: (rc, stderr)."""
    units = tmp_path / "units"
    d = units / "codedeploy-agent.service.d"
    d.mkdir(parents=True)
    (units / "codedeploy-agent.service").write_text(STUB)
    (d / "cdgate.conf").write_text(dropin_text)
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{units}:", SYSTEMD_LOG_LEVEL="notice")
    p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(units / "codedeploy-agent.service")],
                       env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr + p.stdout


def test_dropin_orders_after_cloud_final_and_waits_with_a_timeout(build, dropin):
    kv = keys(dropin.read_text())
    after = [v.split() for s, k, v in kv if (s, k) == ("Unit", "After")]
    assert after == [["cloud-final.service", "multi-user.target"]], after
    # ordering only: never pull cloud-final in where there is none
    assert not [k for s, k, v in kv if k in ("Wants", "Requires", "BindsTo")]
    pre = [v for s, k, v in kv if (s, k) == ("Service", "ExecStartPre")]
    assert len(pre) == 1
    m = re.fullmatch(r"-(/\S+)/cdgate-wait -t (\d+)", pre[0])
    assert m, pre[0]
    bindir = (build / "dist" / "bindir").read_text().strip()
    assert m.group(1) == bindir, "ExecStartPre does not name the BINDIR of the build"
    start = [int(v) for s, k, v in kv if (s, k) == ("Service", "TimeoutStartSec")]
    assert start and start[0] > int(m.group(2)), "TimeoutStartSec must exceed the wait"


@needs_analyze
def test_systemd_analyze_verify_accepts_the_dropin(tmp_path, dropin):
    rc, err = verify(tmp_path, dropin.read_text())
    assert rc == 0 and "cdgate.conf" not in err, err


@needs_analyze
def test_systemd_analyze_verify_finds_the_real_cdgate_wait(tmp_path, build, dropin):
    # without "-", verify checks that the program exists: point it at the build
    text = re.sub(r"ExecStartPre=-\S+/cdgate-wait",
                  f"ExecStartPre={build}/bin/cdgate-wait", dropin.read_text())
    assert f"ExecStartPre={build}/bin/cdgate-wait -t" in text
    rc, err = verify(tmp_path, text)
    assert rc == 0 and "cdgate.conf" not in err, err


@needs_analyze
@pytest.mark.parametrize("breakage", ["TimeoutStartSec=soon", "Aftr=cloud-final.service",
                                      "ExecStartPre=/nonexistent/cdgate-wait -t 5"])
def test_systemd_analyze_verify_catches_a_broken_dropin(tmp_path, dropin, breakage):
    text = dropin.read_text()
    if breakage.startswith("ExecStartPre="):     # verify checks the first one only
        text = re.sub(r"^ExecStartPre=.*$", breakage, text, flags=re.M)
    else:
        text += breakage + "\n"
    rc, err = verify(tmp_path, text)
    assert rc != 0 or "cdgate.conf" in err, "the check cannot fail: " + err


# A boot, as systemd-analyze verify sees it: the start of multi-user.target
# with the agent enabled (wanted by it) and a cloud-final.service stub as each
# distribution's cloud-init ships it.  Debian and Ubuntu order cloud-final
# after multi-user.target (cloud-init's unit template, variant debian/ubuntu);
# Amazon Linux and RHEL-likes do not.
CLOUD_FINAL = {
    "debian": "[Unit]\nDescription=stub cloud-final (Debian/Ubuntu)\n"
              "After=network-online.target\nAfter=multi-user.target\n"
              "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    "amazon": "[Unit]\nDescription=stub cloud-final (Amazon Linux)\n"
              "After=network-online.target\n"
              "[Service]\nType=oneshot\nExecStart=/bin/true\n",
}


def boot(tmp_path, dropin_text, flavour):
    """systemd-analyze verify of multi-user.target's start: (rc, output)."""
    units = tmp_path / f"boot-{flavour}"
    wants = units / "multi-user.target.wants"
    d = units / "codedeploy-agent.service.d"
    d.mkdir(parents=True)
    wants.mkdir()
    (units / "multi-user.target").write_text("[Unit]\nDescription=stub multi-user\n")
    (units / "codedeploy-agent.service").write_text(
        STUB + "\n[Install]\nWantedBy=multi-user.target\n")
    (units / "cloud-final.service").write_text(CLOUD_FINAL[flavour])
    (d / "cdgate.conf").write_text(dropin_text)
    for u in ("codedeploy-agent.service", "cloud-final.service"):   # enabled
        os.symlink(f"../{u}", wants / u)
    env = dict(os.environ, SYSTEMD_UNIT_PATH=str(units), SYSTEMD_LOG_LEVEL="notice")
    p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(units / "multi-user.target")],
                       env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr + p.stdout


@needs_analyze
@pytest.mark.parametrize("flavour", ["debian", "amazon"])
def test_boot_with_the_agent_enabled_has_no_ordering_cycle(tmp_path, dropin, flavour):
    rc, out = boot(tmp_path, dropin.read_text(), flavour)
    assert rc == 0 and "ordering cycle" not in out and "deleted" not in out, out


@needs_analyze
def test_after_cloud_final_alone_would_drop_the_agent_at_boot_on_debian(tmp_path, dropin):
    """The check above can fail: without After=multi-user.target, Debian's
    cloud-final (after multi-user.target, which waits for the enabled agent)
    closes a cycle, and systemd deletes a start job to break it: the
    agent's or cloud-final's (User Data), whichever it meets first."""
    text = re.sub(r"^After=.*$", "After=cloud-final.service", dropin.read_text(), flags=re.M)
    assert "multi-user.target" not in keys(text).__repr__()
    rc, out = boot(tmp_path, text, "debian")
    assert "Found ordering cycle" in out, out
    assert re.search(r"Job (codedeploy-agent|cloud-final)\.service/start deleted to "
                     r"break ordering cycle", out), out


def test_make_install_and_uninstall_the_dropin(build, tmp_path):
    dest = tmp_path / "root"
    base = ["make", "-s", "-C", str(REPO), f"BUILD={build}", f"DESTDIR={dest}",
            "SYSTEMDDIR=/lib/systemd/system"]
    p = subprocess.run(base + ["install"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    installed = dest / "lib/systemd/system/codedeploy-agent.service.d/cdgate.conf"
    assert installed.read_text() == (build / DROPIN_REL).read_text()
    assert installed.stat().st_mode & 0o777 == 0o644
    assert (dest / "usr/local/bin/cdgate-status").is_file()
    hooks = dest / "usr/local/libexec/cdgate"
    assert sorted(os.listdir(hooks)) == sorted(HOOKS)
    assert all(os.access(hooks / h, os.X_OK) for h in HOOKS)
    man = dest / "usr/local/share/man"
    for page in ("man5/cdgate.ini.5", "man7/cdgate.7", "man8/cdgate-hooks.8",
                 "man8/cdgate-mark.8", "man8/cdgate-tag.8", "man8/cdgate-wait.8",
                 "man8/cdgate-status.8"):
        assert (man / page).is_file(), page
    for h in HOOKS:     # `man before-install` finds the hooks' page
        assert (man / "man8" / f"{h}.8").read_text() == ".so man8/cdgate-hooks.8\n"
    p = subprocess.run(base + ["uninstall"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not installed.exists() and not installed.parent.exists()
    assert not hooks.exists()
    left = [str(f.relative_to(dest)) for f in dest.rglob("*") if f.is_file()]
    assert left == [], f"uninstall left {left}"


def test_user_data_follows_the_recipe_in_order():
    text = USER_DATA.read_text()
    code = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    body = "\n".join(code)
    tag = body.index('cdgate-tag "Role=$ROLE" "Env=$ENV"')
    mark = body.index("cdgate-mark --tag")
    run = body.index("--run --", mark)
    start = body.rindex("start_agent\n")
    assert tag < mark < run < start
    assert 'readonly ROLE=api' in body and 'readonly ENV=production' in body
    assert "systemctl start --no-block codedeploy-agent" in body
    assert not re.search(r"systemctl start (?!--no-block)", body)
    assert text.isascii()


def test_user_data_is_valid_bash():
    p = subprocess.run(["bash", "-n", str(USER_DATA)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (package shellcheck)")
def test_user_data_is_shellcheck_clean():
    p = subprocess.run(["shellcheck", str(USER_DATA)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_user_data_runs_the_recipe_with_stub_commands(tmp_path):
    """The script against stubs: the order of the calls, and the agent is
    started even when provisioning fails (the hooks then fail at once)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    for name, rc in (("cdgate-tag", 0), ("aws", 0), ("systemctl", 0), ("cdgate-mark", 3)):
        s = bin_dir / name
        s.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit {rc}\n')
        s.chmod(0o755)
    text = USER_DATA.read_text().replace(
        "PATH=/usr/local/bin:", f"PATH={bin_dir}:/usr/local/bin:")
    script = tmp_path / "user-data.sh"
    script.write_text(text)
    p = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["cdgate-tag", "aws", "cdgate-mark", "systemctl"], calls
    assert calls[0] == "cdgate-tag Role=api Env=production"
    assert calls[2].startswith("cdgate-mark --tag Role=api --tag Env=production --digest ")
    assert " --run -- itamae local " in calls[2]
    assert calls[3] == "systemctl start --no-block codedeploy-agent"
    assert p.returncode == 3        # cloud-init records the failure too
