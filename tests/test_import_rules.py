"""Who may import whom (DESIGN.md), checked on the source of every module.

- ``core/`` imports no transport and no entry point: not ``rest``, ``mcp_server``,
  ``web``, ``patchbay``, nor starlette, fastapi, uvicorn, mcp, typer or rich.
- The kernel imports no business domain; a domain imports the kernel and no other
  business domain (cross-domain effects go through the platform: events, capabilities,
  erasure hooks, related-record types).
- ``rest/`` and ``mcp_server/`` import the kernel only: no domain, no ``patchbay``.
- ``web/`` (the dashboard) imports the kernel like them, plus the members domain's
  service (sign-in, sessions, invitations, resets: what a person's pages are about);
  every other domain action goes through the gate. No ``patchbay``, ``rest`` or
  ``mcp_server``.

Imports are read with ``ast`` (including those inside functions); ``core/migrations``
is Alembic's entry point and is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from patchbay.domains import DOMAINS

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = ("rest", "mcp_server", "web", "patchbay", "starlette", "fastapi", "uvicorn",
              "mcp", "typer", "rich")  # fmt: skip
KERNEL_DOMAINS = {"workspaces", "tokens", "audit"}
"""Domains the kernel itself stands on: the gate authenticates tokens of workspaces and
writes audit rows. They still export manifests for their operations."""


DOMAIN_PACKAGES = {p.name for p in (ROOT / "core").iterdir() if (p / "manifest.py").exists()}
BUSINESS = DOMAIN_PACKAGES - KERNEL_DOMAINS


def imports_of(path: Path) -> list[str]:
    """Every module name ``path`` imports (absolute imports; relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                package = path.relative_to(ROOT).parent.parts
                base = ".".join(package[: len(package) - node.level + 1])
                names.append(f"{base}.{node.module}")
            else:
                names.append(node.module)
    return names


def modules(top: str) -> list[Path]:
    return [p for p in sorted((ROOT / top).rglob("*.py")) if "migrations" not in p.parts]


def _top(name: str) -> str:
    return name.split(".")[0]


def _domain_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "core" and len(parts) > 1 and parts[1] in BUSINESS | KERNEL_DOMAINS:
        return parts[1]
    return None


def test_the_rules_see_every_domain() -> None:
    assert {domain.name for domain in DOMAINS} == DOMAIN_PACKAGES
    assert {"crm", "tasks", "activities", "workflows", "webhooks"} <= BUSINESS
    assert imports_of(ROOT / "patchbay" / "domains.py")  # the parser reads real files


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_transport_and_domains_stay_apart(path: Path) -> None:
    relative = path.relative_to(ROOT).parts
    own = relative[1] if len(relative) > 2 else None  # core/<domain>/... or kernel file
    for name in imports_of(path):
        assert _top(name) not in TRANSPORTS, f"{path.name} imports {name}"
        target = _domain_of(name)
        if target is None or target == own or target in KERNEL_DOMAINS:
            continue
        if own is None or own not in BUSINESS | KERNEL_DOMAINS:
            raise AssertionError(f"kernel module {'/'.join(relative)} imports domain {name}")
        raise AssertionError(f"domain {own} imports another domain: {name}")


@pytest.mark.parametrize(
    "path",
    modules("rest") + modules("mcp_server"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_transports_import_the_kernel_only(path: Path) -> None:
    for name in imports_of(path):
        assert _top(name) != "patchbay", f"{path} imports {name}"
        target = _domain_of(name)
        assert target is None or target in KERNEL_DOMAINS, f"{path} imports domain {name}"


WEB_MAY_IMPORT = {"core.members.service"}


@pytest.mark.parametrize("path", modules("web"), ids=lambda p: str(p.relative_to(ROOT)))
def test_web_imports_the_kernel_and_the_members_service(path: Path) -> None:
    for name in imports_of(path):
        assert _top(name) not in {"patchbay", "rest", "mcp_server"}, f"{path} imports {name}"
        target = _domain_of(name)
        assert target is None or target in KERNEL_DOMAINS or name in WEB_MAY_IMPORT, (
            f"{path} imports domain {name}"
        )


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The parser sees imports inside functions too (where lazy imports hide)."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from rest.app import build_app\n    import fastapi\n")
    assert imports_of(sample) == ["rest.app", "fastapi"]
