import { describe, expect, it } from "vitest";
import { DscCore, decodeDscEnvelope, encodeDscFrame, rendezvousOwner, type DscAction } from "../../../protocols/dsc/index.js";
import { Mesh } from "./mesh.js";

const LIMITS = (e: string) => (e.startsWith("realm ") ? { global: 2, local: 1 } : e.startsWith("user ") ? { global: 5, local: 5 } : undefined);
// Every entity's authority is dsc-b, so that dsc-a's path is the one under test.
const AUTHORITY = new Map([["realm example.net", "dsc-b"], ["user alice", "dsc-b"]]);

function sent(actions: DscAction[]): string[] {
  return actions.flatMap((a) => (a.type === "send" ? [`${a.to}:${decodeDscEnvelope(a.frame.subarray(4)).message.kind}`] : a.type === "decided" ? [`decided:${a.granted}`] : []));
}

describe("DSC core", () => {
  it("asks the authority first, then grants on its view and reports afterwards (Update after the answer)", () => {
    const mesh = new Mesh(["dsc-a", "dsc-b"], { threshold: LIMITS, authority: AUTHORITY });
    mesh.drain();
    const a = mesh.core("dsc-a");
    // No view of the realm yet: a Request.
    expect(sent(a.authorise({ sessionId: "s1", entities: ["realm example.net"], server: "pol-1", port: 3288 }))).toEqual(["dsc-b:request"]);
    // Feed the same through the mesh to get the answer and the broadcast.
    mesh.authorise("dsc-a", { sessionId: "s2", entities: ["realm example.net"], server: "pol-1", port: 3288 });
    mesh.drain();
    expect(mesh.decisions.get("s2")).toEqual({ granted: true });
    expect(mesh.core("dsc-b").recordedSessions("realm example.net").map((s) => [s.id, s.owner, s.server, s.port])).toEqual([["s2", "dsc-a", "pol-1", 3288]]);
    expect(mesh.core("dsc-b").authorisers("realm example.net")).toEqual(["dsc-a"]);
  });

  it("grants locally below the local threshold: the decision first, the Update after it", () => {
    const mesh = new Mesh(["dsc-a", "dsc-b"], { threshold: (e) => (e === "user alice" ? { global: 5, local: 3 } : undefined), authority: AUTHORITY });
    mesh.drain();
    mesh.authorise("dsc-a", { sessionId: "s1", entities: ["user alice"], server: "p", port: 1 });
    mesh.drain();
    const actions = mesh.core("dsc-a").authorise({ sessionId: "s2", entities: ["user alice"], server: "p", port: 1 });
    expect(sent(actions)).toEqual(["decided:true", "dsc-b:update"]);
  });

  it("refuses at the global threshold naming the entity, and an end lets the next one in", () => {
    const mesh = new Mesh(["dsc-a", "dsc-b"], { threshold: LIMITS, authority: AUTHORITY });
    mesh.drain();
    for (const id of ["s1", "s2", "s3"]) {
      mesh.authorise("dsc-a", { sessionId: id, entities: ["user alice", "realm example.net"], server: "p", port: 1 });
      mesh.drain();
    }
    expect(mesh.decisions.get("s3")).toEqual({ granted: false, cause: "limit", entity: "realm example.net" });
    // The refused session counted nowhere: alice has 2, not 3.
    expect(mesh.core("dsc-b").entityStats("user alice").active).toBe(2);
    mesh.terminate("dsc-a", "s1");
    mesh.drain();
    mesh.authorise("dsc-a", { sessionId: "s4", entities: ["user alice", "realm example.net"], server: "p", port: 1 });
    mesh.drain();
    expect(mesh.decisions.get("s4")).toEqual({ granted: true });
    expect(mesh.core("dsc-a").entityStats("realm example.net")).toMatchObject({ active: 2, granted: 3, refused: 1 });
  });

  it("fails closed while the authority is unreachable, yet keeps granting within the local threshold", () => {
    const mesh = new Mesh(["dsc-a", "dsc-b"], { threshold: LIMITS, authority: AUTHORITY });
    mesh.drain();
    mesh.authorise("dsc-a", { sessionId: "s0", entities: ["realm example.net"], server: "p", port: 1 });
    mesh.drain();
    mesh.terminate("dsc-a", "s0");
    mesh.drain();
    mesh.kill("dsc-b");
    mesh.authorise("dsc-a", { sessionId: "s1", entities: ["realm example.net"], server: "p", port: 1 });
    mesh.authorise("dsc-a", { sessionId: "s2", entities: ["realm example.net"], server: "p", port: 1 });
    expect(mesh.decisions.get("s1")).toEqual({ granted: true });
    expect(mesh.decisions.get("s2")).toEqual({ granted: false, cause: "unreachable", entity: "realm example.net" });
    // Back: the Resync tells the restarted authority of s1.
    mesh.restart("dsc-b");
    mesh.drain();
    expect(mesh.core("dsc-b").recordedSessions("realm example.net").map((s) => s.id)).toEqual(["s1"]);
  });

  it("a request that times out is refused and undone at the authority", () => {
    const mesh = new Mesh(["dsc-a", "dsc-b"], { threshold: LIMITS, authority: AUTHORITY, requestTimeoutMs: 50 });
    mesh.drain();
    mesh.authorise("dsc-a", { sessionId: "s1", entities: ["realm example.net"], server: "p", port: 1 });
    const [key] = [...(mesh.timers.get("dsc-a") ?? [])];
    mesh.fireTimer("dsc-a", key as string);
    expect(mesh.decisions.get("s1")).toEqual({ granted: false, cause: "timeout", entity: "realm example.net" });
    mesh.drain();
    expect(mesh.core("dsc-b").entityStats("realm example.net").active).toBe(0);
  });

  it("a frame that is not a message, or one in another DSC's name, is a bad peer", () => {
    const a = new DscCore({ id: "dsc-a", peers: ["dsc-b"], threshold: LIMITS });
    const garbage = a.receive("dsc-b", Buffer.from([0xff, 0xff, 0xff]));
    expect(garbage).toMatchObject([{ type: "bad-peer", peer: "dsc-b", error: { code: "bad-protobuf" } }]);
    const forged = encodeDscFrame({ from: "dsc-c", message: { kind: "broadcast", counts: [{ entity: "realm example.net", active: 0, overSubscribed: 0 }] } });
    expect(a.receive("dsc-b", forged.subarray(4))).toMatchObject([{ type: "bad-peer", error: { code: "bad-value", field: "from" } }]);
  });

  it("rendezvous hashing spreads entities and agrees everywhere", () => {
    const dscs = ["dsc-0", "dsc-1", "dsc-2", "dsc-3", "dsc-4"];
    const owners = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const o = rendezvousOwner(`user u${i}`, dscs);
      expect(rendezvousOwner(`user u${i}`, [...dscs].reverse())).toBe(o);
      owners.set(o, (owners.get(o) ?? 0) + 1);
    }
    for (const d of dscs) expect(owners.get(d) ?? 0).toBeGreaterThan(800);
    // Removing one DSC moves only its own entities.
    for (let i = 0; i < 1000; i++) {
      const o = rendezvousOwner(`user u${i}`, dscs);
      if (o !== "dsc-4") expect(rendezvousOwner(`user u${i}`, dscs.slice(0, 4))).toBe(o);
    }
  });
});
