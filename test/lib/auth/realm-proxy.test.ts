// The realm proxy's machine alone: packets in, actions out (no sockets).
import { describe, expect, it } from "vitest";
import { CredentialStore, credentialLine } from "../../../lib/auth/credential-store.js";
import { RealmProxy, type RealmProxyAction } from "../../../lib/auth/realm-proxy.js";
import { RealmConfigError, parseRadiusProxyConfig, splitUserRealm } from "../../../lib/auth/realm-table.js";
import { RadiusCode, attributeValue, radiusAttribute, type RadiusAttribute, type RadiusPacket } from "../../../protocols/radius/index.js";

const CONFIG = `
nas: [{ address: 127.0.0.1, secret: s }]
master:
  realms: [m.example]
  radius: { address: 127.0.0.1, authPort: 1, acctPort: 2, secret: ms }
clients:
  - name: b
    realms: [B.example]
    virtualIdentity: { user: b-virtual, password: vpw }
    capacity: { ports: 1 }
    radius: { address: 127.0.0.1, authPort: 3, acctPort: 4, secret: cs }
`;
const T = 1_000_000;
const auth = Buffer.alloc(16, 7);
const req = (attributes: RadiusAttribute[], code: RadiusCode = RadiusCode.AccessRequest): RadiusPacket => ({ code, identifier: 1, authenticator: auth, attributes });
const answer = (code: RadiusCode, attributes: RadiusAttribute[] = []): RadiusPacket => ({ code, identifier: 9, authenticator: Buffer.alloc(16), attributes });
const of = <T extends RealmProxyAction["type"]>(actions: RealmProxyAction[], type: T) => actions.filter((a) => a.type === type) as Extract<RealmProxyAction, { type: T }>[];

describe("RealmProxy machine", () => {
  it("a client realm: virtual identity to the master, then the original (CHAP challenge kept) to the provider; Proxy-State echoed", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG) });
    const chap = radiusAttribute("CHAP-Password", Buffer.alloc(17, 1));
    const state = radiusAttribute("Proxy-State", Buffer.from("nas-state"));
    const first = m.request(T, 1, req([radiusAttribute("User-Name", "bob@b.example"), chap, state]), "127.0.0.1");
    const [toMaster] = of(first, "forward");
    expect(toMaster).toMatchObject({ step: "capacity", port: "auth", to: { authPort: 1 } });
    expect(attributeValue(toMaster!.request, "User-Name")).toBe("b-virtual");
    expect((attributeValue(toMaster!.request, "User-Password") as Buffer).toString()).toBe("vpw");
    expect(attributeValue(toMaster!.request, "CHAP-Password")).toBeUndefined();
    const second = m.upstream(T, 1, "capacity", answer(RadiusCode.AccessAccept));
    const [toClient] = of(second, "forward");
    expect(toClient).toMatchObject({ step: "client-auth", to: { authPort: 3 } });
    expect(attributeValue(toClient!.request, "User-Name")).toBe("bob@b.example");
    expect(attributeValue(toClient!.request, "CHAP-Challenge")).toEqual(auth);
    // The provider's answer, its User-Name restored to the original identity, its Proxy-State dropped for the NAS's.
    const last = m.upstream(T, 1, "client-auth", answer(RadiusCode.AccessAccept, [radiusAttribute("User-Name", "bob"), radiusAttribute("Proxy-State", Buffer.from("theirs"))]));
    const [reply] = of(last, "answer");
    expect(reply!.reply.code).toBe(RadiusCode.AccessAccept);
    expect(attributeValue(reply!.reply, "User-Name")).toBe("bob@b.example");
    expect(reply!.reply.attributes.filter((a) => a.type === 33).map((a) => (a as { value: Buffer }).value.toString())).toEqual(["nas-state"]);
    // Its one port is held.
    expect(of(m.request(T, 2, req([radiusAttribute("User-Name", "carol@b.example")]), "127.0.0.1"), "decision")[0]!.decision).toBe("capacity-ports");
  });

  it("a silent upstream: no answer to the NAS and the port freed; a master refusal refuses", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG) });
    m.request(T, 1, req([radiusAttribute("User-Name", "bob@b.example")]), "n");
    expect(of(m.upstream(T, 1, "capacity", undefined), "no-answer")).toHaveLength(1);
    m.request(T, 2, req([radiusAttribute("User-Name", "bob@b.example")]), "n");
    expect(of(m.upstream(T, 2, "capacity", answer(RadiusCode.AccessReject)), "decision")[0]!.decision).toBe("capacity-refused-by-master");
    expect(of(m.request(T, 3, req([radiusAttribute("User-Name", "bob@b.example")]), "n"), "forward")).toHaveLength(1);
    // An answer for a step not asked is ignored.
    expect(m.upstream(T, 3, "client-auth", answer(RadiusCode.AccessAccept))).toEqual([]);
  });

  it("accounting: journal first, both servers asked, answered only when both stored it", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG) });
    const start = req([radiusAttribute("User-Name", "bob@b.example"), radiusAttribute("Acct-Status-Type", "Start"), radiusAttribute("Acct-Session-Id", "x1")], RadiusCode.AccountingRequest);
    const actions = m.request(T, 1, start, "10.1.1.1");
    expect(actions.map((a) => a.type)).toEqual(["journal", "forward", "forward"]);
    const [toMaster, toClient] = of(actions, "forward");
    expect(attributeValue(toMaster!.request, "User-Name")).toBe("b-virtual");
    expect(attributeValue(toClient!.request, "User-Name")).toBe("bob@b.example");
    expect(m.upstream(T, 1, "acct-client", answer(RadiusCode.AccountingResponse))).toEqual([]);
    expect(of(m.upstream(T, 1, "acct-master", answer(RadiusCode.AccountingResponse)), "answer")).toHaveLength(1);
    // One side silent: no Accounting-Response (RFC 2866 §2), and the retransmission does not open the session twice.
    m.request(T, 2, start, "10.1.1.1");
    m.upstream(T, 2, "acct-master", undefined);
    expect(of(m.upstream(T, 2, "acct-client", answer(RadiusCode.AccountingResponse)), "no-answer")).toHaveLength(1);
    expect(m.ledger.usage(T, "b").sessions).toBe(1);
    // Unknown realm: not recorded, not answered.
    expect(of(m.request(T, 3, req([radiusAttribute("User-Name", "x@nowhere")], RadiusCode.AccountingRequest), "n"), "no-answer")[0]!.cause).toBe("acct-unknown-realm");
  });

  it("Accounting-On from a NAS closes its open sessions (journaled), not another NAS's", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG.replace("ports: 1", "ports: 2")) });
    const start = (nas: string, session: string) =>
      req([radiusAttribute("User-Name", "bob@b.example"), radiusAttribute("Acct-Status-Type", "Start"), radiusAttribute("Acct-Session-Id", session), radiusAttribute("NAS-IP-Address", nas)], RadiusCode.AccountingRequest);
    m.request(T, 1, start("10.0.0.1", "a"), "n");
    m.request(T, 2, start("10.0.0.2", "b"), "n");
    expect(m.ledger.usage(T, "b").sessions).toBe(2);
    const on = m.request(T, 3, req([radiusAttribute("Acct-Status-Type", "Accounting-On"), radiusAttribute("NAS-IP-Address", "10.0.0.1")], RadiusCode.AccountingRequest), "n");
    expect(of(on, "journal").map((j) => j.event)).toEqual([{ t: T, kind: "stop", provider: "b", session: "10.0.0.1|a", seconds: 0 }]);
    expect(of(on, "forward")[0]).toMatchObject({ step: "acct-master", port: "acct" });
    expect(m.ledger.usage(T, "b").sessions).toBe(1);
    expect(of(m.upstream(T, 3, "acct-master", answer(RadiusCode.AccountingResponse)), "answer")).toHaveLength(1);
  });

  it("Status-Server is answered by the proxy itself (RFC 5997)", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG) });
    const [a] = of(m.request(T, 1, { ...req([]), code: RadiusCode.StatusServer }, "n"), "answer");
    expect(a!.reply.code).toBe(RadiusCode.AccessAccept);
  });

  it("a master realm with local credentials only decides at once", () => {
    const config = parseRadiusProxyConfig(`nas: [{ address: 127.0.0.1, secret: s }]\nmaster: { realms: [m.example], credentials: creds }\n`);
    const credentials = CredentialStore.parse(credentialLine("SHA-256", "dave", "m.example", "pw"));
    const m = new RealmProxy({ config, credentials });
    const ask = (pw: string) => of(m.request(T, 1, req([radiusAttribute("User-Name", "dave@m.example"), radiusAttribute("User-Password", pw)]), "n"), "answer")[0]!.reply.code;
    expect(ask("pw")).toBe(RadiusCode.AccessAccept);
    expect(ask("nope")).toBe(RadiusCode.AccessReject);
    const noRealm = of(m.request(T, 2, req([radiusAttribute("User-Name", "dave")]), "n"), "decision")[0]!;
    expect(noRealm.decision).toBe("unknown-realm");
  });
});

describe("radius-proxy configuration", () => {
  it("names the path of what is wrong", () => {
    const bad: [string, RegExp][] = [
      ["master: { realms: [a] }\nnas: [{address: x, secret: y}]", /^master: needs credentials/],
      ["nas: []\nmaster: { realms: [a], credentials: f }", /^nas: must list/],
      ["nas: [{address: x, secret: y}]\nmaster: { realms: [a], credentials: f }\nclients: [{ name: c, realms: [A], virtualIdentity: {user: u, password: p}, radius: {address: h, secret: s} }]", /clients\[0\]\.realms\[0\]: realm 'a' is already the master's/],
      ["nas: [{address: x, secret: y}]\nmaster: { realms: [a], credentials: f }\nclients: [{ name: c, realms: [b], virtualIdentity: {user: u, password: p}, capacity: { port: 1 }, radius: {address: h, secret: s} }]", /capacity\.port: unknown setting/],
      ["nas: [{address: x, secret: y}]\nmaster: { realms: [a], credentials: f }\nclients: [{ name: c, realms: [b], virtualIdentity: {user: u, password: p}, radius: {address: h, authPort: 70000, secret: s} }]", /radius\.authPort: must be a port/],
      ["a: [", /not YAML/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseRadiusProxyConfig(text)).toThrow(RealmConfigError);
      expect(() => parseRadiusProxyConfig(text)).toThrow(why);
    }
  });

  it("splits user@realm at the last @", () => {
    expect(splitUserRealm("a@b@C.example")).toEqual({ user: "a@b", realm: "c.example" });
    expect(splitUserRealm("@x")).toBeUndefined();
    expect(splitUserRealm("x@")).toBeUndefined();
  });
});
