"""Writing provisioning markers (the format of cdgate.ini(5)) for the tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

INSTANCE_ID = "i-0123456789abcdef0"


def marker_text(status: str = "ok", instance_id: str = INSTANCE_ID,
                boot_id: str = "8c0c4a1e-0000-4000-8000-000000000001",
                finished_at: Optional[str] = None, digest: Optional[str] = None,
                message: Optional[str] = None, tags: Optional[dict] = None) -> str:
    finished_at = finished_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = ["[provision]", f"status = {status}", f"instance_id = {instance_id}",
             f"boot_id = {boot_id}", f"finished_at = {finished_at}"]
    if digest:
        lines.append(f"digest = {digest}")
    if message:
        lines.append(f"message = {message}")
    if tags:
        lines.append("[tags]")
        lines += [f"{k} = {v}" for k, v in tags.items()]
    return "\n".join(lines) + "\n"


def write_marker(path, text="", mode: int = 0o644, data: Optional[bytes] = None) -> float:
    """Write atomically (temp file + rename) and return time.monotonic() of
    the rename.  Creates missing directories 0755."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = path.parent / f".{path.name}.test-tmp"
    tmp.write_bytes(data if data is not None else text.encode())
    os.chmod(tmp, mode)
    t = time.monotonic()
    os.rename(tmp, path)
    return t


def state_config(tmp_path, timeout: int = 8, gate: str = "", event: str = "") -> str:
    """A cdgate.ini whose history and marker live in tmp_path/state (made
    here); gate and event are more lines for [gate] and after [marker]."""
    state = Path(tmp_path) / "state"
    state.mkdir(mode=0o755, exist_ok=True)
    return (f"[gate]\ntimeout = {timeout}\nhistory = {state}/history.jsonl\n{gate}"
            f"[marker]\npath = {state}/provisioned\n{event}")


def provision(tmp_path) -> None:
    """A passing marker where state_config's cdgate.ini looks for it."""
    state = Path(tmp_path) / "state"
    state.mkdir(mode=0o755, exist_ok=True)
    write_marker(state / "provisioned", marker_text())
