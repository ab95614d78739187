import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CredentialFileError, CredentialStore, computeHa1, credentialLine } from "../../../lib/auth/credential-store.js";

describe("CredentialStore (HA1 only)", () => {
  it("HA1 is H(user:realm:password): RFC 2617 §3.5's Mufasa example", () => {
    // RFC 2617 §3.5: HA1 of Mufasa:testrealm@host.com:Circle Of Life is 939e7578ed9e3c518a452acee763bce9.
    expect(computeHa1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")).toBe("939e7578ed9e3c518a452acee763bce9");
    expect(computeHa1("SHA-256", "u", "r", "p")).toBe(createHash("sha256").update("u:r:p").digest("hex"));
  });

  it("checks a cleartext password against the stored hash; the file holds no password", () => {
    const text = `# subscribers\n${credentialLine("SHA-256", "dave", "Master.Example", "dave-pw")}\n${credentialLine("MD5", "erin", "master.example", "erin-pw")}\n`;
    expect(text).not.toMatch(/dave-pw|erin-pw/);
    const store = CredentialStore.parse(text);
    expect(store.size).toBe(2);
    expect(store.verifyPassword("dave", "master.example", "dave-pw")).toBe(true);
    expect(store.verifyPassword("dave", "master.example", "dave-pW")).toBe(false);
    expect(store.verifyPassword("erin", "master.example", "erin-pw")).toBe(true);
    expect(store.verifyPassword("frank", "master.example", "x")).toBeUndefined();
    expect(store.ha1("erin", "master.example", "MD5")).toBe(computeHa1("MD5", "erin", "master.example", "erin-pw"));
    expect(store.ha1("erin", "master.example", "SHA-256")).toBeUndefined();
  });

  it("refuses a malformed line, naming it", () => {
    for (const [text, why] of [
      ["a:b:MD5", /line 1: want/],
      ["\n\na:b:SHA-1:00", /line 3: algorithm 'SHA-1'/],
      ["a:b:MD5:zz", /line 1: HA1 is not 32 hex/],
      [":b:MD5:" + "0".repeat(32), /empty username/],
    ] as const) {
      const err = (() => {
        try {
          CredentialStore.parse(text);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CredentialFileError);
      expect((err as Error).message).toMatch(why);
    }
  });
});
