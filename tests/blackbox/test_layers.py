"""tools/layers (issue 13): the include graph of src/, bin/ and hooks/ points
only down the layers (base, fmt and aws, checks, run, programs) and has no
cycle; make check runs it.  Each rule is shown failing on a small tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "tools" / "layers"


def run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/python3", str(LAYERS), str(root)],
                          capture_output=True, text=True, timeout=60)


def tree(tmp_path: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


GOOD = {
    "src/base/text.h": "",
    "src/base/text.c": '#include "base/text.h"\n',
    "src/aws/imds.h": '#include "base/text.h"\n',
    "src/checks/check.h": '#include "aws/imds.h"\n',
    "src/run/gate.h": '#include "checks/check.h"\n',
    "src/run/gate.c": '#include "run/gate.h"\n#include <stdio.h>\n',
    "hooks/before-install.c": '#include "run/gate.h"\n',
}


def test_the_tree_keeps_the_layers():
    r = run(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("no problems"), r.stdout


def test_a_small_good_tree_passes(tmp_path):
    r = run(tree(tmp_path, GOOD))
    assert r.returncode == 0 and "7 files, no problems" in r.stdout, r.stdout


def test_an_upward_include_fails(tmp_path):
    files = dict(GOOD)
    files["src/base/text.c"] = '#include "base/text.h"\n#include "checks/check.h"\n'
    r = run(tree(tmp_path, files))
    assert r.returncode == 1, r.stdout
    assert 'src/base/text.c: includes "checks/check.h": base may not include checks' in r.stdout


def test_fmt_and_aws_do_not_include_each_other(tmp_path):
    files = dict(GOOD)
    files["src/fmt/history.h"] = '#include "aws/imds.h"\n'
    r = run(tree(tmp_path, files))
    assert r.returncode == 1 and "fmt may not include aws" in r.stdout, r.stdout


def test_a_cycle_in_one_layer_fails(tmp_path):
    files = dict(GOOD)
    files["src/checks/a.h"] = '#include "checks/b.h"\n'
    files["src/checks/b.c"] = '#include "checks/b.h"\n#include "checks/a.h"\n'
    files["src/checks/b.h"] = ""
    r = run(tree(tmp_path, files))
    assert r.returncode == 1, r.stdout
    assert "cycle: src/checks/a -> src/checks/b -> src/checks/a" in r.stdout, r.stdout


def test_a_file_outside_the_layers_and_a_missing_header_fail(tmp_path):
    files = dict(GOOD)
    files["src/util.c"] = ""
    files["src/run/gate.c"] = '#include "run/gate.h"\n#include "run/gone.h"\n'
    r = run(tree(tmp_path, files))
    assert r.returncode == 1, r.stdout
    assert "src/util.c: in no layer" in r.stdout
    assert 'src/run/gate.c: includes "run/gone.h", which is not src/run/gone.h' in r.stdout


def test_usage():
    r = subprocess.run(["/usr/bin/python3", str(LAYERS), "a", "b"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "usage: tools/layers [ROOT]" in r.stderr
