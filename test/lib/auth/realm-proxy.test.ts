// The realm proxy's machine alone: packets in, actions out (no sockets).
import { describe, expect, it } from "vitest";
import { CredentialStore, credentialLine } from "../../../lib/auth/credential-store.js";
import { RealmProxy, accountingRecord, type RealmProxyAction } from "../../../lib/auth/realm-proxy.js";
import { toRadiusAttribute, type AccountingRecord } from "../../../lib/accounting/records.js";
import { RealmConfigError, parseRadiusProxyConfig, splitUserRealm } from "../../../lib/auth/realm-table.js";
import { RadiusCode, attributeValue, radiusAttribute, vendorSpecific, type RadiusAttribute, type RadiusPacket } from "../../../protocols/radius/index.js";

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

  it("accounting: journal, then one spool action per destination (each its identity), then the answer", () => {
    const m = new RealmProxy({ config: parseRadiusProxyConfig(CONFIG) });
    const vsa = vendorSpecific(9, [{ vendorType: 1, value: Buffer.from("cisco-avpair=x") }]);
    const unknown: RadiusAttribute = { type: 241, kind: "octets", value: Buffer.from([0, 1, 2, 255]) };
    const klass = radiusAttribute("Class", Buffer.from([0xde, 0xad, 0, 0xbe]));
    const start = req(
      [
        radiusAttribute("User-Name", "bob@b.example"),
        radiusAttribute("Acct-Status-Type", "Start"),
        radiusAttribute("Acct-Session-Id", "x1"),
        radiusAttribute("Acct-Delay-Time", 3),
        radiusAttribute("Proxy-State", Buffer.from("hop")),
        klass,
        vsa,
        unknown,
      ],
      RadiusCode.AccountingRequest,
    );
    const actions = m.request(T, 1, start, "10.1.1.1");
    expect(actions.map((a) => a.type)).toEqual(["journal", "spool", "spool", "decision", "answer"]);
    const [toMaster, toClient] = of(actions, "spool");
    expect(toMaster).toMatchObject({ destination: { kind: "master" }, to: { acctPort: 2 } });
    expect(toClient).toMatchObject({ destination: { kind: "client", name: "b" }, to: { acctPort: 4 } });
    const names = (r: AccountingRecord) => r.attributes.map(([n]) => n);
    expect(toMaster!.record.attributes).toContainEqual(["User-Name", "b-virtual"]);
    expect(toClient!.record.attributes).toContainEqual(["User-Name", "bob@b.example"]);
    for (const { record } of [toMaster!, toClient!]) {
      // The NAS's delay moves into eventMs (the exporter adds the whole delay when it sends); the hop's own attributes go.
      expect(record.eventMs).toBe(T - 3000);
      expect(names(record)).not.toContain("Acct-Delay-Time");
      expect(names(record)).not.toContain("Proxy-State");
      expect(record.key).toBe("10.1.1.1|x1|Start");
      // Class, the Vendor-Specific and the unknown type byte for byte, as encoded again.
      const encoded = record.attributes.map(toRadiusAttribute);
      expect(encoded).toContainEqual(klass);
      expect(record.attributes).toContainEqual([26, Buffer.from([0, 0, 0, 9, 1, 16, ...Buffer.from("cisco-avpair=x")])]);
      expect(encoded).toContainEqual(vsa);
      expect(encoded).toContainEqual(unknown);
    }
    // The answer echoes the NAS's Proxy-State (RFC 2865 §5.33).
    expect(of(actions, "answer")[0]!.reply).toMatchObject({ code: RadiusCode.AccountingResponse, attributes: [radiusAttribute("Proxy-State", Buffer.from("hop"))] });
    // The NAS's retransmission, as a new request with a longer delay: the same keys, and the session opened once.
    const again = m.request(T + 5000, 2, { ...start, attributes: start.attributes.map((a) => (a.type === 41 ? radiusAttribute("Acct-Delay-Time", 8) : a)) }, "10.1.1.1");
    expect(of(again, "spool").map((a) => a.record.key)).toEqual(["10.1.1.1|x1|Start", "10.1.1.1|x1|Start"]);
    expect(m.ledger.usage(T, "b").sessions).toBe(1);
    expect(m.inProgress).toBe(0);
    // Unknown realm: not recorded, not answered; no Acct-Status-Type: dropped.
    expect(of(m.request(T, 3, req([radiusAttribute("User-Name", "x@nowhere"), radiusAttribute("Acct-Status-Type", "Start")], RadiusCode.AccountingRequest), "n"), "no-answer")[0]!.cause).toBe("acct-unknown-realm");
    expect(of(m.request(T, 4, req([radiusAttribute("User-Name", "bob@b.example")], RadiusCode.AccountingRequest), "n"), "no-answer")[0]!.cause).toBe("acct-status-type-unsupported");
  });

  it("record keys: Stop and Start apart, interims by session time, Event-Timestamp when given, else the authenticator", () => {
    const pkt = (attrs: RadiusAttribute[], authenticator = auth): RadiusPacket => ({ code: RadiusCode.AccountingRequest, identifier: 1, authenticator, attributes: [radiusAttribute("Acct-Session-Id", "s"), ...attrs] });
    const key = (status: "Start" | "Stop" | "Interim-Update" | "Accounting-On", attrs: RadiusAttribute[] = [], a = auth) => accountingRecord(T, pkt(attrs, a), "nas", status).key;
    expect(key("Start")).not.toBe(key("Stop"));
    expect(key("Interim-Update", [radiusAttribute("Acct-Session-Time", 60)])).not.toBe(key("Interim-Update", [radiusAttribute("Acct-Session-Time", 120)]));
    expect(key("Interim-Update", [radiusAttribute("Acct-Session-Time", 60)])).toBe(key("Interim-Update", [radiusAttribute("Acct-Session-Time", 60)], Buffer.alloc(16, 1)));
    // A NAS reusing a session id after a reboot: Event-Timestamp tells the two Starts apart.
    expect(key("Start", [radiusAttribute("Event-Timestamp", 100)])).not.toBe(key("Start", [radiusAttribute("Event-Timestamp", 200)]));
    expect(key("Accounting-On")).not.toBe(key("Accounting-On", [], Buffer.alloc(16, 1)));
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
    expect(of(on, "spool").map((a) => [a.destination, a.record.status])).toEqual([[{ kind: "master" }, "Accounting-On"]]);
    expect(m.ledger.usage(T, "b").sessions).toBe(1);
    expect(of(on, "answer")).toHaveLength(1);
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
