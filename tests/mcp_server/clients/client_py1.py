"""Drive Patchbay's MCP server with the official Python SDK 1.x client, speaking 2025-03-26.

Run with the interpreter of an isolated venv holding ``mcp`` 1.x (requirements-mcp1.txt;
the test suite builds it), never with Patchbay's own (which has SDK 2.x):

    python client_py1.py PLAN_FILE

Plan and report have the shape of ``client.mjs``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

PROTOCOL_VERSION = "2025-03-26"


async def run(plan: dict[str, Any], report: dict[str, Any]) -> None:
    types.LATEST_PROTOCOL_VERSION = PROTOCOL_VERSION  # what initialize offers
    spec = plan["transport"]
    if spec["kind"] == "stdio":
        params = StdioServerParameters(command=spec["command"], args=spec["args"], env=spec["env"])
        opened = stdio_client(params)
    else:
        opened = streamablehttp_client(spec["url"], headers=spec["headers"])
    async with opened as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            report["protocolVersion"] = init.protocolVersion
            report["server"] = init.serverInfo.model_dump()
            tools: list[str] = []
            cursor = None
            while True:
                page = await session.list_tools(cursor=cursor)
                tools += [tool.name for tool in page.tools]
                cursor = page.nextCursor
                if not cursor:
                    break
            report["tools"] = tools
            for call in plan["calls"]:
                entry: dict[str, Any] = {"name": call["name"], "pending": True}
                report["calls"].append(entry)
                try:
                    result = await session.call_tool(call["name"], call["arguments"])
                    entry["isError"] = bool(result.isError)
                    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
                    entry["text"] = texts[0] if texts else None
                    entry["structured"] = result.structuredContent
                except Exception as error:  # what the SDK raised: reported, not fatal
                    entry["threw"] = str(error)
                del entry["pending"]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    report: dict[str, Any] = {"sdk": "mcp-python-1", "calls": []}
    try:
        anyio.run(run, plan, report)
    except BaseException as error:  # reported to the test
        # SDK 1.x raises an HTTP error status from its transport task, which ends the
        # session: it belongs to the call that was waiting for an answer.
        pending = [entry for entry in report["calls"] if entry.pop("pending", False)]
        if pending:
            pending[-1]["threw"] = repr(error)
        else:
            report["fatal"] = repr(error)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
