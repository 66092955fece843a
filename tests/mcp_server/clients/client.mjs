// Drive Patchbay's MCP server with an official TypeScript SDK client (as Claude Desktop,
// the MCP Inspector and n8n embed it) and report what the client saw, as JSON on stdout.
//
//   node client.mjs PLAN_FILE
//
// PLAN_FILE (JSON): {"sdk": "mcp-sdk-1-17" | "mcp-sdk-1-32",
//   "transport": {"kind": "stdio", "command": "...", "args": [...], "env": {...}}
//              | {"kind": "http", "url": "...", "headers": {...}},
//   "calls": [{"name": "...", "arguments": {...}}, ...]}
//
// Output: {"protocolVersion", "server", "tools": [names], "calls": [{"name", "isError",
// "text", "structured", "threw"}]}. A call the SDK throws on (e.g. output-schema mismatch,
// an HTTP 401) is reported with "threw" set to the error's message.
import { readFileSync } from "node:fs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sdk = plan.sdk;
const { Client } = await import(`${sdk}/client/index.js`);

function spy(transport, seen) {
  // Record the protocol version the server answered to initialize.
  return new Proxy(transport, {
    set(target, prop, value) {
      if (prop === "onmessage" && typeof value === "function") {
        target.onmessage = (message, extra) => {
          const version = message?.result?.protocolVersion;
          if (version) seen.protocolVersion = version;
          return value(message, extra);
        };
        return true;
      }
      target[prop] = value;
      return true;
    },
  });
}

async function makeTransport(spec) {
  if (spec.kind === "stdio") {
    const { StdioClientTransport } = await import(`${sdk}/client/stdio.js`);
    return new StdioClientTransport({
      command: spec.command,
      args: spec.args,
      env: spec.env,
      stderr: "pipe",
    });
  }
  const { StreamableHTTPClientTransport } = await import(`${sdk}/client/streamableHttp.js`);
  return new StreamableHTTPClientTransport(new URL(spec.url), {
    requestInit: { headers: spec.headers },
  });
}

const seen = {};
const report = { sdk, calls: [] };
const transport = await makeTransport(plan.transport);
const client = new Client({ name: `patchbay-test-${sdk}`, version: "1.0.0" });
try {
  await client.connect(spy(transport, seen));
  report.protocolVersion = seen.protocolVersion ?? null;
  report.server = client.getServerVersion();
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  report.tools = tools;
  for (const call of plan.calls) {
    const entry = { name: call.name };
    try {
      const result = await client.callTool({ name: call.name, arguments: call.arguments });
      entry.isError = Boolean(result.isError);
      entry.text = result.content?.find((c) => c.type === "text")?.text ?? null;
      entry.structured = result.structuredContent ?? null;
    } catch (error) {
      entry.threw = String(error?.message ?? error);
    }
    report.calls.push(entry);
  }
} catch (error) {
  report.fatal = String(error?.stack ?? error);
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
