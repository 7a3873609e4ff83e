"""Portability (docs/portability.md): what the programs need at run time.

Run by `make portable` (part of `make check`), on the plain build only:
the sanitizer builds need their runtime libraries by design.

- Every program of the native build and of the cross build (aarch64 on an
  x86_64 machine) is within the ceilings: tools/elfcheck, which reads the
  NEEDED list, the version requirements and the dynamic symbols.
- tools/elfcheck names the program and the library or symbol when a
  program breaks a ceiling: the usual dynamic link (build/legacy) and the
  static link without src/base/compat.c.
- Proof by running: tools/minroot makes a root filesystem holding only
  glibc, libcurl and OpenSSL (cached under build/minroot/ARCH); before-install
  (a marker written by cdgate-mark, then a missing marker) runs in it with
  chroot, like the agent would run it, against the loopback stand-in; the
  usual dynamic link cannot even start there.  The aarch64 programs run in
  an aarch64 root under qemu-aarch64-static: pass, missing marker,
  Terminated.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import INSTANCE_ID, REGION, _build_dir
from lib.agent import AGENT_PATH, HOOKS, run_program

TOP = Path(__file__).resolve().parents[2]
ELFCHECK = TOP / "tools" / "elfcheck"
MINROOT = TOP / "tools" / "minroot"
BUILD = _build_dir()
NATIVE = os.uname().machine
CROSS = {"x86_64": "aarch64", "aarch64": "x86_64"}[NATIVE]
CROSS_BUILD = Path(os.environ.get("CDGATE_CROSS_BUILD", str(BUILD / CROSS)))
HELPERS = ("cdgate-mark", "cdgate-tag", "cdgate-wait", "cdgate-status")


def programs(build: Path):
    return [build / "hooks" / h for h in HOOKS] + [build / "bin" / b for b in HELPERS]


def elfcheck(*paths):
    return subprocess.run([str(ELFCHECK)] + [str(p) for p in paths],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("build", [BUILD, CROSS_BUILD], ids=[NATIVE, CROSS])
def test_every_program_within_the_ceilings(build):
    progs = programs(build)
    missing = [str(p) for p in progs if not p.is_file()]
    assert not missing, f"not built: {missing} (make all; make ARCH={CROSS} all)"
    r = elfcheck(*progs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"elfcheck: {len(progs)} programs within the ceilings"


def test_elfcheck_names_what_the_usual_dynamic_link_needs():
    legacy = BUILD / "legacy" / "before-install"
    r = elfcheck(legacy)
    assert r.returncode == 1, r.stdout
    for lib in ("libinih.so.1", "libjson-c.so.5", "libexpat.so.1"):
        assert f"elfcheck: {legacy}: needs {lib}" in r.stdout, r.stdout
    assert re.search(rf"elfcheck: {re.escape(str(legacy))}: symbol curl_easy_init"
                     r"@CURL_OPENSSL_4: a libcurl version", r.stdout), r.stdout
    assert "requires CURL_OPENSSL_4 from libcurl.so.4" in r.stdout
    assert r.stdout.splitlines()[-1] == "elfcheck: 1 of 1 programs break the ceilings"


def test_elfcheck_names_a_glibc_symbol_over_the_ceiling():
    # the static archives without src/base/compat.c: expat's arc4random_buf
    nocompat = BUILD / "legacy" / "before-install-nocompat"
    r = elfcheck(nocompat)
    assert r.returncode == 1, r.stdout
    assert (f"elfcheck: {nocompat}: symbol arc4random_buf@GLIBC_2.36: newer than "
            "GLIBC_2.34") in r.stdout, r.stdout
    assert "needs lib" not in r.stdout      # only the symbol is wrong there


def test_elfcheck_usage_and_missing_file(tmp_path):
    assert elfcheck().returncode == 2
    r = elfcheck(tmp_path / "nope")
    assert r.returncode == 2 and "no such program" in r.stderr
    (tmp_path / "text").write_text("not an ELF file\n")
    r = elfcheck(tmp_path / "text")
    assert r.returncode == 2 and "readelf" in r.stderr


# -- the minimal root ------------------------------------------------------

def minroot(arch: str) -> Path:
    """build/minroot/ARCH, made once (a lock keeps parallel workers apart)."""
    root = BUILD / "minroot" / arch
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{arch}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run([str(MINROOT), arch, str(root)], capture_output=True,
                           text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return root


class Chroot:
    """A deployment inside a minimal root: hooks, cdgate-mark and cdgate.ini
    under /d/ID/cdgate/, run with chroot in a private mount namespace with
    /proc mounted, the way the agent runs a hook (argv of one element, cwd
    /, stdin at EOF, the agent's variables, its own process group)."""

    def __init__(self, root: Path, build: Path, arch: str, config: str):
        self.root, self.arch = root, arch
        self.id = f"d-{uuid.uuid4().hex[:9].upper()}"
        self.inner = f"/d/{self.id}"
        self.dir = root / self.inner.lstrip("/")
        (self.dir / "cdgate").mkdir(parents=True, mode=0o755)
        os.chmod(self.dir.parent, 0o755)
        for p in [build / "hooks" / h for h in HOOKS] + [build / "bin" / "cdgate-mark"]:
            dst = self.dir / "cdgate" / p.name
            dst.write_bytes(p.read_bytes())
            os.chmod(dst, 0o755)
        cfg = config.format(d=self.inner)
        (self.dir / "cdgate" / "cdgate.ini").write_text(cfg)
        os.chmod(self.dir / "cdgate" / "cdgate.ini", 0o644)

    def wrap(self):
        run = 'exec chroot "$0" "$@"'
        if self.arch != NATIVE:
            run = f'exec chroot "$0" /qemu-{self.arch}-static "$@"'
        return ["unshare", "-m", "--", "/bin/sh", "-c",
                'mount -t proc proc "$0/proc" && ' + run, str(self.root)]

    def run(self, program: str, args=(), event=None, imds=None, timeout=60):
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_REGION": REGION}
        if event:
            env.update({"LIFECYCLE_EVENT": event, "DEPLOYMENT_ID": self.id,
                        "APPLICATION_NAME": "app", "DEPLOYMENT_GROUP_NAME": "group",
                        "DEPLOYMENT_GROUP_ID": str(uuid.uuid4())})
        return run_program(f"{self.inner}/cdgate/{program}", args, env=env,
                           timeout=timeout, wrap=self.wrap())


CONFIG = """[gate]
timeout = {t}
history = {{d}}/history.jsonl
[marker]
path = {{d}}/provisioned
"""


def last(r) -> str:
    lines = r.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.parametrize("arch", [NATIVE, CROSS])
def test_minimal_root_holds_only_glibc_curl_and_openssl(arch):
    root = minroot(arch)
    names = [p.name for p in root.rglob("*")]
    assert any(n == "libc.so.6" for n in names) and "libcurl.so.4" in names
    assert "libssl.so.3" in names and "libcrypto.so.3" in names
    for lib in ("libinih", "libjson-c", "libexpat", "libyaml"):
        assert not [n for n in names if n.startswith(lib)], lib
    assert not (root / "bin" / "sh").exists() and not (root / "usr/bin/sh").exists()


def test_the_usual_dynamic_link_does_not_start_in_the_minimal_root(imds):
    root = minroot(NATIVE)
    c = Chroot(root, BUILD, NATIVE, CONFIG.format(t=5))
    legacy = c.dir / "cdgate" / "before-install"
    legacy.write_bytes((BUILD / "legacy" / "before-install").read_bytes())
    r = c.run("before-install", event="BeforeInstall", imds=imds)
    assert r.returncode == 127, r.describe()
    assert ("error while loading shared libraries: libinih.so.1: cannot open shared "
            "object file") in r.stderr, r.describe()


@pytest.mark.parametrize("arch", [NATIVE, CROSS])
def test_mark_then_before_install_pass_in_the_minimal_root(imds, arch):
    build = BUILD if arch == NATIVE else CROSS_BUILD
    c = Chroot(minroot(arch), build, arch, CONFIG.format(t=20))
    r = c.run("cdgate-mark", imds=imds)
    assert r.returncode == 0, r.describe()
    marker = (c.dir / "provisioned").read_text()
    assert f"instance_id = {INSTANCE_ID}" in marker and "status = ok" in marker
    r = c.run("before-install", event="BeforeInstall", imds=imds)
    assert r.returncode == 0, r.describe()
    assert last(r).startswith("cdgate: BeforeInstall: PASS"), r.describe()
    assert "no version information" not in r.stdout + r.stderr


@pytest.mark.parametrize("arch", [NATIVE, CROSS])
def test_missing_marker_fails_in_the_minimal_root(imds, arch):
    build = BUILD if arch == NATIVE else CROSS_BUILD
    c = Chroot(minroot(arch), build, arch, CONFIG.format(t=2))
    r = c.run("before-install", event="BeforeInstall", imds=imds, timeout=30)
    assert r.returncode == 2, r.describe()
    assert last(r).startswith("cdgate: BeforeInstall: FAIL: "), r.describe()
    assert "provisioned" in last(r), r.describe()


def test_terminated_skips_in_the_cross_root(imds):
    imds.state.lifecycle_state = "Terminated"
    c = Chroot(minroot(CROSS), CROSS_BUILD, CROSS, CONFIG.format(t=20))
    r = c.run("before-install", event="BeforeInstall", imds=imds, timeout=30)
    assert r.returncode == 0, r.describe()
    assert last(r).startswith("cdgate: BeforeInstall: SKIP: "), r.describe()
    assert "Terminated" in last(r)


# -- an older libcurl ------------------------------------------------------

def test_protocols_limited_on_a_libcurl_older_than_7_85(deploy, tmp_path):
    """RHEL 9 (7.76) and Ubuntu 22.04 (7.81) have no *_PROTOCOLS_STR: the
    hooks limit protocols with the bitmask options there (src/aws/http.c), and
    still pass.  tests/shim/oldcurl.so makes this machine's libcurl answer
    like theirs and logs the masks set."""
    from lib.marker import marker_text, write_marker
    shim = BUILD / "tests" / "shim" / "oldcurl.so"
    assert shim.is_file(), f"{shim} not built (make portable)"
    log = tmp_path / "oldcurl.log"
    write_marker(tmp_path / "provisioned", marker_text())
    cfg = f"[gate]\ntimeout = 20\n[marker]\npath = {tmp_path}/provisioned\n"
    r = deploy(cfg).run("before-install", env={"LD_PRELOAD": str(shim),
                                               "OLDCURL_LOG": str(log)})
    assert r.returncode == 0, r.describe()
    assert last(r).startswith("cdgate: BeforeInstall: PASS"), r.describe()
    got = log.read_text().splitlines()
    # instance metadata is plain HTTP only (CURLPROTO_HTTP = 1), for the
    # request and for any redirect
    assert got and set(got) == {"PROTOCOLS 1", "REDIR_PROTOCOLS 1"}, got
    assert len(got) % 2 == 0 and got[0] == "PROTOCOLS 1", got


# -- one revision for both architectures -----------------------------------

def bundle_both(dest: Path):
    return subprocess.run(["sh", str(TOP / "tools" / "bundle"), str(BUILD), str(dest),
                           f"{NATIVE}={BUILD}", f"{CROSS}={CROSS_BUILD}"],
                          capture_output=True, text=True, timeout=120)


def test_bundle_for_both_architectures(tmp_path, imds):
    dest = tmp_path / "rev"
    r = bundle_both(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"cdgate: bundle: architectures: {NATIVE} {CROSS}" in r.stdout
    for h in HOOKS:
        for arch, build in ((NATIVE, BUILD), (CROSS, CROSS_BUILD)):
            assert (dest / "cdgate" / arch / h).read_bytes() == \
                (build / "hooks" / h).read_bytes()
        script = (dest / "cdgate" / h).read_text()
        assert script.startswith("#!/bin/sh\n") and "exec " in script
    # the dispatcher passes arguments, output and exit status straight through
    r = run_program(dest / "cdgate" / "before-install", ["-n"],
                    env={"CDGATE_CONFIG": None})
    assert r.returncode == 0, r.describe()
    assert f"config '{dest}/cdgate/cdgate.ini'" in r.stdout, r.describe()
    # single architecture again: plain programs, no architecture folders left
    r = subprocess.run(["sh", str(TOP / "tools" / "bundle"), str(BUILD), str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (dest / "cdgate" / CROSS).exists() and not (dest / "cdgate" / NATIVE).exists()
    assert (dest / "cdgate" / "before-install").read_bytes() == \
        (BUILD / "hooks" / "before-install").read_bytes()


def test_dispatcher_runs_the_hook_like_the_agent(tmp_path, imds):
    from lib.agent import run_hook
    dest = tmp_path / "rev"
    assert bundle_both(dest).returncode == 0
    ini = dest / "cdgate" / "cdgate.ini"
    ini.write_text(f"[gate]\ntimeout = 2\nhistory = {tmp_path}/h.jsonl\n"
                   f"[marker]\npath = {tmp_path}/provisioned\n")
    r = run_hook(dest / "cdgate" / "before-install",
                 env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                      "AWS_REGION": REGION}, timeout=30)
    assert r.returncode == 2, r.describe()
    assert last(r).startswith("cdgate: BeforeInstall: FAIL: "), r.describe()
    assert r.stdout.splitlines()[0].startswith("cdgate: BeforeInstall: cdgate "), \
        "the dispatcher printed something of its own"


def test_dispatcher_on_an_unknown_machine(tmp_path):
    dest = tmp_path / "rev"
    assert bundle_both(dest).returncode == 0
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "uname").write_text("#!/bin/sh\necho riscv64\n")
    os.chmod(fake / "uname", 0o755)
    r = run_program(dest / "cdgate" / "validate-service",
                    env={"PATH": f"{fake}:{AGENT_PATH}"})
    assert r.returncode == 70, r.describe()
    assert r.stdout.splitlines() == [
        f"cdgate: ValidateService: FAIL: this revision holds programs for {NATIVE} "
        f"{CROSS} only, not for this machine (riscv64): bundle it with make bundle "
        f'ARCHS="{NATIVE} {CROSS} riscv64"'], r.describe()
    assert r.stderr == ""


def test_make_refuses_an_architecture_without_its_toolchain():
    r = subprocess.run(["make", "-C", str(TOP), "-n", f"ARCH={CROSS}",
                        "CC=no-such-cross-gcc", "BUILD=/nonexistent", "all"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert f"no {CROSS} cross build here (toolchain missing)" in r.stderr, r.stderr
    assert "sh tools/deps cross" in r.stderr and "crossbuild-essential-" in r.stderr
    r = subprocess.run(["make", "-C", str(TOP), "-n", "ARCH=riscv64", "all"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "ARCH=riscv64 is not supported" in r.stderr, r.stderr
    r = subprocess.run(["make", "-C", str(TOP), "-n", "bundle", "DEST=/nonexistent",
                        "ARCHS=x86_64 mips"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "ARCHS names mips" in r.stderr, r.stderr
