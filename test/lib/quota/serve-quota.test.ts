// The deploy file's `quota` section: `rules`/`db` are POL1's (the shorthand), POL1 and POL2 may each have their
// own rules and counter file; what the section cannot mean is refused with the file's reason.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS } from "../../support/deploy-file.js";

const dir = mkdtempSync(join(tmpdir(), "serve-quota-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (quota: string) => {
  const file = join(dir, "deploy.yaml");
  writeFileSync(file, `seed: 1\ntopology: { clearinghouse: none }\n${ROLES_ON_TWO_HOSTS}quota: ${quota}\n`);
  return loadDeployConfig(file).quota;
};

describe("the deploy file's quota section", () => {
  it("the shorthand is POL1's; POL1 and POL2 each have their rules and file, paths beside the deploy file", () => {
    expect(load("{ rules: q.yaml }")).toEqual({ POL1: { rules: join(dir, "q.yaml"), db: join(dir, "callgate-quota.db") } });
    expect(load("{ rules: q.yaml, db: x.db }")).toEqual({ POL1: { rules: join(dir, "q.yaml"), db: join(dir, "x.db") } });
    expect(load("{ POL2: { rules: callees.yaml } }")).toEqual({ POL2: { rules: join(dir, "callees.yaml"), db: join(dir, "callgate-quota-POL2.db") } });
    expect(load("{ rules: callers.yaml, POL2: { rules: callees.yaml, db: /var/lib/pol2.db } }")).toEqual({
      POL1: { rules: join(dir, "callers.yaml"), db: join(dir, "callgate-quota.db") },
      POL2: { rules: join(dir, "callees.yaml"), db: "/var/lib/pol2.db" },
    });
    expect(load("{ POL1: { rules: a.yaml, db: a.db }, POL2: { rules: b.yaml, db: b.db } }")).toEqual({
      POL1: { rules: join(dir, "a.yaml"), db: join(dir, "a.db") },
      POL2: { rules: join(dir, "b.yaml"), db: join(dir, "b.db") },
    });
  });

  it("refuses a section that names no rules, POL1's twice, a db without rules, or one counter file for both", () => {
    for (const bad of ["{}", "{ db: x.db }", "{ rules: a.yaml, POL1: { rules: b.yaml } }", "{ POL2: { db: b.db } }", "{ POL3: { rules: c.yaml } }", "{ db: x.db, POL2: { rules: b.yaml } }"])
      expect(() => load(bad), bad).toThrow(/quota/);
    expect(() => load("{ rules: a.yaml, db: same.db, POL2: { rules: b.yaml, db: same.db } }")).toThrow(`quota: POL1 and POL2 count in one file (${join(dir, "same.db")}); each policy server needs its own`);
  });
});
