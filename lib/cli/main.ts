#!/usr/bin/env node
// callgate command line: `callgate <command> [args]`. Each command lives in lib/cli/commands/<command>.ts
// and exports `run(args: string[]): Promise<number>` (the exit code).
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));

// Compiled (.js under dist/) or run from sources (.ts, e.g. through tsx).
const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/** One line per command for `callgate --help`; a command missing here is listed without one. */
const SUMMARIES: Record<string, string> = {
  demo: "one call through FIG. 5 / FIG. 6 on loopback sockets: ladder, legend, HTML, pcap",
  replay: "run a scenario file (or a recorded trace) and check its expectations",
  load: "place N calls shaped like a scenario's at R per second; throughput and latency",
  lab: "every role on 127.0.0.1 for an outside caller (SIPp, a softphone)",
  serve: "one role of a deployment in this process (ROLE --config FILE); merge record files",
  proxy: "a stateful SIP proxy between listeners and a next hop",
  clearinghouse: "the OSP clearinghouse over HTTP(S); export its CDRs",
  parse: "parse a SIP message file and show each header's typed decoding",
  quota: "show or export a policy server's quota counters",
  "radius-proxy": "a RADIUS proxy routing by realm to the master and its clients",
  "pppoe-server": "a PPPoE server (Discovery, PPP LCP, PAP/CHAP, IPCP)",
  "pppoe-concentrator": "an access concentrator: end users' lines in, PPPoE out",
};

/** The package's version from its package.json (lib/cli/ in sources, dist/lib/cli/ built), without loading the library. */
function packageVersion(): string {
  for (let dir = here, up = 0; up < 4; dir = dirname(dir), up++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "callgate" && pkg.version) return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return "unknown";
}

function listCommands(): string[] {
  return readdirSync(join(here, "commands"))
    .filter((f) => f.endsWith(extension) && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -extension.length))
    .sort();
}

function usage(commands: string[]): string {
  const width = Math.max(...commands.map((c) => c.length));
  return [
    "usage: callgate <command> [options]",
    "       callgate <command> --help     the command's options",
    "       callgate --version",
    "commands:",
    ...commands.map((c) => `  ${c.padEnd(width)}  ${SUMMARIES[c] ?? ""}`.trimEnd()),
    "docs: docs/cli.md in the package",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const commands = listCommands();
  if (command === "--version" || command === "-V" || (command !== undefined && commands.includes(command) && (args[0] === "--version" || args[0] === "-V"))) {
    console.log(`callgate ${packageVersion()}`);
    return 0;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(usage(commands));
    return 0;
  }
  if (!command) {
    console.error(`callgate: no command given\n${usage(commands)}`);
    return 2;
  }
  if (!commands.includes(command)) {
    console.error(`callgate: unknown command '${command}' (commands: ${commands.join(", ")}; callgate --help)`);
    return 2;
  }
  const mod = (await import(`./commands/${command}${extension}`)) as { run(args: string[]): Promise<number> };
  return mod.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`callgate: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
