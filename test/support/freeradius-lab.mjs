// A FreeRADIUS server on loopback for interop tests and the RADIUS bench: a copy of the Debian configuration
// with the default sites and mods-enabled/eap removed, user/group commented out (the tests run as root), no
// proxying, no reject delay, one client (127.0.0.1) and one site listening on the ports given; accounting
// goes to one detail file, and users come from the `files` module.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A UDP port free on 127.0.0.1 right now. */
export async function freeUdpPort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", () => r()));
  const { port } = s.address();
  await new Promise((r) => s.close(() => r()));
  return port;
}

/**
 * Write the configuration under `dir`, start `freeradius -f -d DIR -l LOG` and wait until it is ready.
 * `authorize` and `authenticate` replace those sections' bodies (default: files and pap); `dictionary` is
 * appended to the local dictionary (raddb/dictionary); `accounting` replaces the accounting section's body
 * (default: detail_callgate, the detail file), and `modules` are written to mods-enabled by name.
 * @param {{ dir: string, secret: string, authPort: number, acctPort: number, users?: string,
 *   requireMessageAuthenticator?: boolean, readyTimeoutMs?: number, authorize?: string, authenticate?: string,
 *   dictionary?: string, accounting?: string, modules?: Record<string, string> }} options
 * @returns {Promise<{ detailFile: string, logFile: string, pid: number | undefined, stop: () => Promise<void> }>}
 */
export async function startFreeradiusLab(options) {
  const { dir, secret, authPort, acctPort } = options;
  const raddb = join(dir, "raddb");
  const detailFile = join(dir, "detail");
  const logFile = join(dir, "radius.log");
  cpSync("/etc/freeradius/3.0", raddb, { recursive: true });
  for (const f of readdirSync(join(raddb, "sites-enabled"))) rmSync(join(raddb, "sites-enabled", f));
  rmSync(join(raddb, "mods-enabled", "eap"), { force: true });
  const conf = readFileSync(join(raddb, "radiusd.conf"), "utf8")
    .replace(/^(\s*)(user|group)\s*=/gm, "$1# $2 =")
    .replace(/^logdir = .*$/m, `logdir = ${dir}`)
    .replace(/^run_dir = .*$/m, `run_dir = ${dir}`)
    .replace(/^(\s*)proxy_requests\s*=\s*yes/m, "$1proxy_requests = no")
    .replace(/^(\s*)reject_delay\s*=\s*\d+/m, "$1reject_delay = 0");
  writeFileSync(join(raddb, "radiusd.conf"), conf);
  const requireMa = options.requireMessageAuthenticator ? "\trequire_message_authenticator = yes\n" : "";
  writeFileSync(join(raddb, "clients.conf"), `client loopback {\n\tipaddr = 127.0.0.1\n\tsecret = ${secret}\n${requireMa}}\n`);
  writeFileSync(join(raddb, "mods-config", "files", "authorize"), options.users ?? "");
  if (options.dictionary) writeFileSync(join(raddb, "dictionary"), `${readFileSync(join(raddb, "dictionary"), "utf8")}\n${options.dictionary}\n`);
  writeFileSync(
    join(raddb, "mods-enabled", "detail_callgate"),
    `detail detail_callgate {\n\tfilename = ${detailFile}\n\tpermissions = 0600\n\theader = "%t"\n}\n`,
  );
  for (const [name, text] of Object.entries(options.modules ?? {})) writeFileSync(join(raddb, "mods-enabled", name), text);
  writeFileSync(
    join(raddb, "sites-enabled", "callgate"),
    `server callgate {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = ${authPort}
	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = ${acctPort}
	}
	authorize {
		${options.authorize ?? "files\n\t\tpap"}
	}
	authenticate {
		${options.authenticate ?? "Auth-Type PAP {\n\t\t\tpap\n\t\t}"}
	}
	preacct {
	}
	accounting {
		${options.accounting ?? "detail_callgate"}
	}
	post-auth {
	}
}
`,
  );
  const child = spawn("freeradius", ["-f", "-d", raddb, "-l", logFile], { stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  };
  const until = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (!(existsSync(logFile) && /Ready to process requests/.test(readFileSync(logFile, "utf8")))) {
    if (child.exitCode !== null || Date.now() > until) {
      await stop();
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "(no log)";
      throw new Error(`FreeRADIUS did not become ready (exit ${child.exitCode}); log:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { detailFile, logFile, pid: child.pid, stop };
}
