// The shape of a command that starts one service from a YAML file (`--config FILE [--log-level LEVEL]`),
// prints one JSON "ready" line and runs until SIGTERM or SIGINT.
import { checkLogLevel } from "../flow/operations.js";

/** A running service: what its ready line says, and how it stops. */
export interface ConfigService {
  ready: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Parses `--config FILE [--log-level LEVEL]`, starts the service, prints `{"ready":true,…}` and waits for a
 * signal. `start` throws an error of class `configError` for a problem the user can fix (exit 2).
 */
export async function runConfigService(
  name: string,
  usage: string,
  args: string[],
  start: (configPath: string, logLevel: string | undefined) => Promise<ConfigService>,
  configError: new (...a: never[]) => Error,
): Promise<number> {
  let configPath: string | undefined;
  let logLevel: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const value = args[++i];
    if (value === undefined) {
      process.stderr.write(`${a} needs a value\n${usage}\n`);
      return 2;
    }
    if (a === "--config") configPath = value;
    else if (a === "--log-level") logLevel = value;
    else {
      process.stderr.write(`unknown option '${a}'\n${usage}\n`);
      return 2;
    }
  }
  if (!configPath) {
    process.stderr.write(`--config is required\n${usage}\n`);
    return 2;
  }
  const levelProblem = checkLogLevel(logLevel);
  if (levelProblem) {
    process.stderr.write(`${levelProblem.message}\n`);
    return 2;
  }
  let service: ConfigService;
  try {
    service = await start(configPath, logLevel);
  } catch (err) {
    process.stderr.write(`${name}: ${err instanceof configError ? err.message : String(err)}\n`);
    return 2;
  }
  process.stdout.write(`${JSON.stringify({ ready: true, ...service.ready })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void service.close().then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
