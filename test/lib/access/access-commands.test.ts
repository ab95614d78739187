// The two commands' argument handling: --help on stdout with exit 0, reasons and exit 2 on bad input.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { run as concentrator } from "../../../lib/cli/commands/pppoe-concentrator.js";
import { run as server } from "../../../lib/cli/commands/pppoe-server.js";

const dir = mkdtempSync(join(tmpdir(), "access-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((c) => ((out += String(c)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((c) => ((err += String(c)), true));
  const code = await f();
  vi.restoreAllMocks();
  return { code, out, err };
}

describe.each([
  ["pppoe-server", server],
  ["pppoe-concentrator", concentrator],
])("callgate %s", (name, run) => {
  it("--help prints the usage on stdout and exits 0", async () => {
    const r = await capture(() => run(["--help"]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^usage: callgate ${name} --config FILE`));
  });

  it("refuses a missing --config, an unknown option and a bad file with reasons", async () => {
    expect((await capture(() => run([])))).toMatchObject({ code: 2, err: expect.stringMatching(/^--config is required/) });
    expect((await capture(() => run(["--frobnicate", "1"])))).toMatchObject({ code: 2, err: expect.stringMatching(/^unknown option '--frobnicate'/) });
    expect((await capture(() => run(["--config", join(dir, "missing.yaml")])))).toMatchObject({ code: 2, err: expect.stringContaining("config: cannot read") });
    const bad = join(dir, `${name}.yaml`);
    writeFileSync(bad, "mode: session-per-line\nframePort: { interface: 'no such if' }\nlocalAddress: 10.0.0.1\npool: { first: 10.0.0.2, last: 10.0.0.3 }\n");
    expect((await capture(() => run(["--config", bad])))).toMatchObject({ code: 2, err: expect.stringContaining("framePort.interface: is not an interface name") });
  });
});
