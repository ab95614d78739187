#!/usr/bin/env node
// callgate command line: `callgate <command> [args]`. Each command lives in lib/cli/commands/<command>.ts
// and exports `run(args: string[]): Promise<number>` (the exit code).
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));

// Compiled (.js under dist/) or run from sources (.ts, e.g. through tsx).
const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

function listCommands(): string[] {
  return readdirSync(join(here, "commands"))
    .filter((f) => f.endsWith(extension) && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -extension.length))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const commands = listCommands();
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(`usage: callgate <command> [options]\ncommands: ${commands.join(", ")}`);
    return command ? 0 : 2;
  }
  if (!commands.includes(command)) {
    console.error(`callgate: unknown command '${command}' (commands: ${commands.join(", ")})`);
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
