// Runs `callgate clearinghouse ARGS` from source (the dispatcher lists compiled commands only).
import { run } from "../../../lib/cli/commands/clearinghouse.js";

process.exitCode = await run(process.argv.slice(2));
