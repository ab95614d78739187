import { describe, expect, it } from "vitest";
import { SessionLimitPolicy, addressOf, entitiesOf, type CounterDecision, type SessionCounter } from "../../../lib/dsc/index.js";

describe("SessionLimitPolicy", () => {
  it("names a party's entities from its URI and the membership rules", () => {
    expect(addressOf('"Alice" <sips:Alice@Example.NET;transport=tls>')).toBe("alice@example.net");
    expect(entitiesOf("sip:alice@example.net:5061;user=phone", { groups: { "alice@example.net": ["gold", "emea"] } })).toEqual(["user alice@example.net", "group gold", "group emea", "realm example.net"]);
    expect(entitiesOf("sip:bob@example.org", { realms: false })).toEqual(["user bob@example.org"]);
  });

  it("a call that ends while its session is being decided releases the session once it is granted", async () => {
    let answer: (d: CounterDecision) => void = () => undefined;
    const released: string[] = [];
    const counter: SessionCounter = {
      authorise: () => new Promise<CounterDecision>((resolve) => (answer = resolve)),
      release: (id) => void released.push(id),
      entityStats: () => [],
    };
    const policy = new SessionLimitPolicy({ counter, server: "POL1", port: 3288 });
    const verdict = policy.decideAaa({ callId: "c1", side: "originating", caller: "sip:alice@example.net", callee: "sip:bob@example.net", flows: [], now: 0 });
    policy.callEnded({ callId: "c1", side: "originating", now: 10 });
    expect(released).toEqual([]);
    answer({ granted: true });
    expect(await verdict).toMatchObject({ allow: false });
    expect(released).toEqual(["c1/originating"]);
    expect(policy.counting).toBe(0);
  });

  it("an unreachable counter refuses with 503 and says so", async () => {
    const counter: SessionCounter = { authorise: () => ({ granted: false, cause: "unreachable", entity: "realm example.net" }), release: () => undefined, entityStats: () => [] };
    const policy = new SessionLimitPolicy({ counter, server: "POL1", port: 3288 });
    expect(policy.decideAaa({ callId: "c1", side: "originating", caller: "sip:a@example.net", callee: "sip:b@example.net", flows: [], now: 0 })).toEqual({
      allow: false, sipStatus: 503, reason: "realm example.net session counter unreachable",
    });
    // The terminating side is not counted by default: its inner policy decides.
    expect(policy.decideAaa({ callId: "c1", side: "terminating", caller: "sip:a@example.net", callee: "sip:b@example.net", flows: [], now: 0 })).toEqual({ allow: true });
  });
});
