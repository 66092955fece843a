"""Sample calls of every operation, read from the domains' manifests (``Domain.samples``,
``Domain.records``): the registry-wide suites (scope matrix, tenant isolation, output
schemas) pick up a new domain without a line here.

A sample's ``needs`` (and every path parameter ``<type>_id``) are records created first,
through the API itself (REST or MCP), in the caller's workspace. Operations without a
sample get empty arguments: a 400 still proves the scope check passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from core.ids import new_id
from core.operations import Operation
from core.platform import Platform
from tests.domains import suite_platform as platform

API = "/api/v1"

CallOp = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""``(operation name, arguments) -> data`` through some channel; raises on an error."""


def placeholder(prefix: str) -> str:
    """A well-formed id that exists nowhere."""
    return new_id(prefix)


def record_type(param: str) -> str:
    """The record type a path parameter names (``contact_id`` → ``contact``)."""
    return param.removesuffix("_id")


def sample_args(op: Operation, of: Platform | None = None) -> dict[str, Any]:
    """The sample's own arguments for ``op`` (its ``needs`` not filled in), or {}."""
    sample = (of or platform()).samples.get(op.name)
    return sample.args() if sample else {}


def _set(args: dict[str, Any], path: str, value: str) -> None:
    """Set ``lines.0.account_id``-style dotted ``path`` in ``args``."""
    *parents, last = path.split(".")
    node: Any = args
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value


async def full_args(call: CallOp, op: Operation, of: Platform | None = None) -> dict[str, Any]:
    """Arguments that make ``op`` succeed: the sample's, its ``needs`` and its path ids
    created first through ``call``."""
    of = of or platform()
    sample = of.samples.get(op.name)
    args = sample.args() if sample else {}
    for path, type_ in (sample.needs if sample else {}).items():
        _set(args, path, await create(call, type_, of))
    for param in op.path_params:
        args[param] = await create(call, record_type(param), of)
    return args


async def create(call: CallOp, type_: str, of: Platform | None = None) -> str:
    """A new record of ``type_`` (through ``call``); returns its id."""
    of = of or platform()
    op = of.registry.get(of.records[type_])
    assert op is not None
    return (await call(op.name, await full_args(call, op, of)))["id"]


def rest_caller(client: httpx.AsyncClient, headers: dict[str, str]) -> CallOp:
    """``CallOp`` over the REST app."""

    async def call_op(name: str, args: dict[str, Any]) -> dict[str, Any]:
        op = platform().registry.get(name)
        assert op is not None
        path_ids = {p: args.pop(p) for p in op.path_params if p in args}
        response = await call(client, op, headers, path_ids, args)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()["data"]

    return call_op


def build_request(
    op: Operation, path_ids: dict[str, str] | None = None, args: dict[str, Any] | None = None
) -> tuple[str, str, dict[str, Any]]:
    """(method, url, httpx kwargs) for calling ``op`` over REST."""
    path_ids = path_ids or {}
    url = API + op.path
    for name in op.path_params:
        url = url.replace("{" + name + "}", path_ids.get(name) or placeholder("x"))
    args = sample_args(op) if args is None else args
    if op.method in ("GET", "DELETE"):
        return op.method, url, {"params": {k: str(v) for k, v in args.items()}}
    return op.method, url, {"json": args}


async def call(
    client: httpx.AsyncClient,
    op: Operation,
    headers: dict[str, str],
    path_ids: dict[str, str] | None = None,
    args: dict[str, Any] | None = None,
) -> httpx.Response:
    method, url, kwargs = build_request(op, path_ids, args)
    return await client.request(method, url, headers=headers, **kwargs)


async def create_record(client: httpx.AsyncClient, headers: dict[str, str], type_: str) -> str:
    """Create a record of ``type_`` over REST; returns its id."""
    return await create(rest_caller(client, headers), type_)


def record_types() -> list[str]:
    """Every record type some domain can create."""
    return list(platform().records)
