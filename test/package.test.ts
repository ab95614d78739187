import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";

describe("package", () => {
  it("declares the exports map and bin the user relies on", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.name).toBe("callgate");
    expect(pkg.type).toBe("module");
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining([".", "./sip", "./cops", "./osp"]));
    expect(pkg.bin.callgate).toBe("./dist/lib/cli/main.js");
  });
});
