// One random-traffic run over five DSCs in one process, and the properties checked during and after it.
import { expect } from "vitest";
import { AuthorityMap } from "../../../protocols/dsc/index.js";
import { Mesh } from "./mesh.js";
import { ENTITIES, activeFor, entitiesOf, thresholds, type ActiveSession, type Step } from "./traffic.js";

const IDS = ["dsc-0", "dsc-1", "dsc-2", "dsc-3", "dsc-4"];
const AUTHORITY = new AuthorityMap(IDS);

export interface RunOptions {
  localZero?: boolean;
  failClosed?: boolean;
}

/** What a run went through, so that a property test can show its runs reached the interesting cases. */
export interface RunTally {
  granted: number;
  refused: number;
  overSubscribed: number;
  kills: number;
}

export function runMesh(steps: Step[], opts: RunOptions, tally: RunTally = { granted: 0, refused: 0, overSubscribed: 0, kills: 0 }): void {
  const threshold = thresholds(opts.localZero);
  const active = new Map<string, ActiveSession>();
  const pending = new Map<string, ActiveSession>();
  const killed = new Set<string>();
  const mesh = new Mesh(IDS, { threshold, failClosed: opts.failClosed ?? true }, (_dsc, id, d) => {
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    if (d.granted) active.set(id, p);
    if (d.granted) tally.granted++;
    else tally.refused++;
  });
  let next = 0;

  const checkBound = (): void => {
    for (const e of ENTITIES) {
      const auth = AUTHORITY.of(e);
      if (!mesh.alive(auth)) continue;
      const g = (threshold(e) ?? { global: 0 }).global;
      const recorded = new Set(mesh.core(auth).recordedSessions(e).map((s) => s.id));
      const act = activeFor(active, e);
      const unreported = act.filter((id) => !recorded.has(id)).length;
      const over = mesh.core(auth).entityStats(e).overSubscribed;
      // Active sessions never exceed the global threshold plus local grants not yet reported and the excesses counted.
      expect(act.length, `${e}: ${act.length} active, ${unreported} unreported, ${over} over-subscribed`).toBeLessThanOrEqual(g + unreported + over);
      if (opts.localZero && killed.size === 0) {
        expect(act.length, `${e} with every session asked of its authority`).toBeLessThanOrEqual(g);
        expect(over).toBe(0);
      }
    }
  };

  for (const step of steps) {
    const dsc = "dsc" in step ? (IDS[step.dsc] as string) : "";
    switch (step.t) {
      case "authorise": {
        if (!mesh.alive(dsc)) break;
        const id = `s${next++}`;
        const entities = entitiesOf(step.user, step.userOnly);
        pending.set(id, { owner: dsc, entities });
        mesh.authorise(dsc, { sessionId: id, entities, server: `proxy-${step.dsc}`, port: 5060 + step.user });
        break;
      }
      case "terminate": {
        const ids = [...active].filter(([, s]) => mesh.alive(s.owner)).map(([id]) => id);
        if (ids.length === 0) break;
        const id = ids[step.pick % ids.length] as string;
        mesh.terminate((active.get(id) as ActiveSession).owner, id);
        active.delete(id);
        break;
      }
      case "deliver":
        for (let k = 0; k < step.count; k++) {
          const busy = mesh.busyLinks();
          if (busy.length === 0) break;
          mesh.deliver(busy[(step.pick + k) % busy.length] as string);
        }
        break;
      case "timer": {
        const keys = [...(mesh.timers.get(dsc) ?? [])];
        if (keys.length > 0 && mesh.alive(dsc)) mesh.fireTimer(dsc, keys[step.pick % keys.length] as string);
        break;
      }
      case "kill":
        if (!mesh.alive(dsc)) break;
        mesh.kill(dsc);
        killed.add(dsc);
        tally.kills++;
        // Its undecided sessions never get an answer: their calls failed with it.
        for (const [id, s] of [...pending]) if (s.owner === dsc) pending.delete(id);
        break;
      case "restart":
        mesh.restart(dsc, step.linksBack);
        break;
      case "reconnect":
        mesh.reconnect();
        break;
    }
    checkBound();
  }

  // Every DSC up, every message delivered: the records are exact and every view matches its record.
  for (const id of IDS) mesh.restart(id);
  mesh.reconnect();
  mesh.drain();
  expect(pending.size).toBe(0);
  const owned = new Map<string, ActiveSession>();
  for (const id of IDS) for (const o of mesh.core(id).ownSessions()) if (o.state === "granted") owned.set(o.session.id, { owner: id, entities: o.session.entities });
  for (const [id, s] of active) {
    // Only a crash loses a session: one whose DSC never died is still known to it.
    if (!killed.has(s.owner)) expect(owned.get(id)?.owner, `session ${id}`).toBe(s.owner);
  }
  for (const e of ENTITIES) {
    const auth = mesh.core(AUTHORITY.of(e));
    const recorded = auth.recordedSessions(e).map((s) => s.id).sort();
    expect(recorded, e).toEqual(activeFor(owned, e).sort());
    const count = auth.entityStats(e);
    for (const id of IDS) {
      if (id === auth.id) continue;
      const view = mesh.core(id).viewOf(e);
      if (view !== undefined) expect(view.active, `${id}'s view of ${e}`).toBe(count.active);
    }
    // Every excess is counted as over-subscription.
    const g = (threshold(e) ?? { global: 0 }).global;
    expect(Math.max(0, count.active - g)).toBeLessThanOrEqual(count.overSubscribed);
    tally.overSubscribed += count.overSubscribed;
  }

  // All sessions end: every counter everywhere is 0.
  for (const [id, s] of active) mesh.terminate(s.owner, id);
  for (const id of IDS) for (const o of mesh.core(id).ownSessions()) mesh.terminate(id, o.session.id);
  mesh.drain();
  for (const id of IDS) {
    const core = mesh.core(id);
    expect(core.ownSessions()).toEqual([]);
    for (const e of ENTITIES) {
      expect(core.entityStats(e).active, `${id}: ${e}`).toBe(0);
      expect(core.viewOf(e)?.active ?? 0, `${id}'s view of ${e}`).toBe(0);
    }
  }
  expect(mesh.badPeers).toEqual([]);
}

