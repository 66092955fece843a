"""A real ``patchbay serve`` subprocess on a free loopback port, for contract tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def patchbay_exe() -> str:
    """The installed ``patchbay`` console script of this interpreter."""
    candidate = Path(sys.executable).with_name("patchbay")
    return str(candidate) if candidate.exists() else (shutil.which("patchbay") or "patchbay")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> dict:
    """Run ``patchbay ARGS --json`` and return its JSON output."""
    out = subprocess.run(
        [patchbay_exe(), *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"patchbay {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout)


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Wait until ``base``/healthz answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.1)


@dataclass
class Served:
    base_url: str
    token: str
    workspace_id: str
    env: dict[str, str]
    token_id: str = ""


@contextmanager
def served(
    database_url: str, *, plan: str = "custom", extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Migrate ``database_url``, create a workspace and an all-scopes token, serve it."""
    env = {
        **os.environ,
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_RATE_LIMIT_PER_MINUTE": "1000000",
        "PATCHBAY_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    cli(env, "db", "upgrade")
    workspace = cli(env, "workspace", "create", "Contract", "--plan", plan)
    token = cli(
        env,
        "token",
        "create",
        "--workspace",
        workspace["id"],
        "--name",
        "contract",
        "--scopes",
        "*",
    )
    port = free_port()
    proc = subprocess.Popen(
        [patchbay_exe(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield Served(base, token["token"], workspace["id"], env, token["id"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
