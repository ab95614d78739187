// Model-based test: random message/timer sequences against RFC 3261 Figures 5–8 (rfc3261-figures.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InviteClientTransaction } from "../../../../protocols/sip/transaction/invite-client-transaction.js";
import { InviteServerTransaction } from "../../../../protocols/sip/transaction/invite-server-transaction.js";
import { NonInviteClientTransaction } from "../../../../protocols/sip/transaction/non-invite-client-transaction.js";
import { NonInviteServerTransaction } from "../../../../protocols/sip/transaction/non-invite-server-transaction.js";
import type { TransactionAction, TransactionMachine } from "../../../../protocols/sip/transaction/transaction-types.js";
import { SipRequest, SipResponse } from "../../../../protocols/sip/codec/sip-message.js";
import { FIGURE_5, FIGURE_6, FIGURE_7, FIGURE_8, armedTimers, lookup, type Figure, type Input, type Output } from "./rfc3261-figures.js";
import { makeRequest, makeResponse } from "./fixtures.js";

type Kind = "invite-client" | "non-invite-client" | "invite-server" | "non-invite-server";
const FIGURES: Record<Kind, Figure> = {
  "invite-client": FIGURE_5,
  "non-invite-client": FIGURE_6,
  "invite-server": FIGURE_7,
  "non-invite-server": FIGURE_8,
};

interface Timers {
  t1: number;
  t2: number;
  t4: number;
}

interface Model {
  state: string;
  /** Expected delay of the next re-arm of a retransmission timer (A, E, G). */
  interval: Map<string, number>;
  lastResponseStatus: number | undefined;
}

interface Real {
  machine: TransactionMachine;
  armed: Set<string>;
  timers: Timers;
  reliable: boolean;
  kind: Kind;
  sentResponses: number[];
}

/** Converts machine actions into the figure vocabulary, checking timer delays and message shapes on the way. */
function observe(real: Real, model: Model, actions: TransactionAction[], input: Input | "start"): Output[] {
  const outputs: Output[] = [];
  const { t1, t2, t4 } = real.timers;
  for (const a of actions) {
    switch (a.type) {
      case "send":
        if (a.message instanceof SipResponse) {
          outputs.push("send-response");
          real.sentResponses.push(a.message.status);
        } else if (a.message.method === "ACK") {
          outputs.push("send-ack");
          expect(a.message.getHeaders("Via")).toHaveLength(1);
          expect(a.message.cseq).toEqual({ seq: real.machine.request.cseq.seq, method: "ACK" });
          expect(a.message.uri).toBe(real.machine.request.uri);
        } else {
          expect(a.message).toBe(real.machine.request);
          outputs.push("send-request");
        }
        break;
      case "pass-to-tu":
        outputs.push("pass-tu");
        break;
      case "terminated":
        if (a.reason === "timeout") outputs.push("inform-tu-timeout");
        if (a.reason === "transport-error") outputs.push("inform-tu-transport-error");
        break;
      case "cancel-timer":
        real.armed.delete(a.timer);
        break;
      case "set-timer": {
        real.armed.add(a.timer);
        const t = a.timer;
        if (t === "B" || t === "F" || t === "H" || t === "J") expect(a.delay).toBe(64 * t1);
        else if (t === "D") expect(a.delay).toBeGreaterThanOrEqual(32_000);
        else if (t === "I" || t === "K") expect(a.delay).toBe(t4);
        else {
          // A doubles without bound (§17.1.1.2); E doubles up to T2 in Trying, is T2 in Proceeding (§17.1.2.2); G doubles up to T2.
          const prev = model.interval.get(t);
          let expected: number;
          if (prev === undefined || input === "start" || (t === "G" && input !== "timer G")) expected = t1;
          else if (t === "A") expected = 2 * prev;
          else if (t === "E" && model.state === "proceeding") expected = t2;
          else expected = Math.min(2 * prev, t2);
          expect(a.delay).toBe(expected);
          model.interval.set(t, expected);
        }
        break;
      }
    }
  }
  return outputs;
}

/** Applies an input to the model per the figure, including the immediate exit of zero-timer states on reliable transports. */
function expectTransition(figure: Figure, model: Model, input: Input, reliable: boolean): { to: string; outputs: Output[] } {
  const t = lookup(figure, model.state, input);
  if (!t) return { to: model.state, outputs: [] };
  let to = t.to;
  const outputs = [...t.outputs];
  const zero = figure.zeroOnReliable[to];
  if (reliable && zero !== undefined) {
    const next = lookup(figure, to, zero as Input);
    if (next) {
      to = next.to;
      outputs.push(...next.outputs);
    }
  }
  return { to, outputs };
}

function eventFor(real: Real, input: Input, now: number) {
  const req = real.machine.request;
  const statusOf = (i: string) => (i.endsWith("1xx") ? 180 : i.endsWith("2xx") ? 200 : 300 + ((now * 7) % 400));
  if (input.startsWith("timer ")) return { type: "timer" as const, timer: input.slice(6) as "A", now };
  if (input === "transport error") return { type: "transport-error" as const, error: new Error("peer unreachable"), now };
  if (input === "request") return { type: "message" as const, message: req.clone(), now };
  if (input === "ACK") {
    const ack = new SipRequest("ACK", req.uri, req.clone().headers);
    ack.setHeader("CSeq", `${req.cseq.seq} ACK`);
    return { type: "message" as const, message: ack, now };
  }
  if (input.startsWith("TU ")) return { type: "tu-response" as const, response: makeResponse(req, statusOf(input)), now };
  return { type: "message" as const, message: makeResponse(req, statusOf(input)), now };
}

class Step implements fc.Command<Model, Real> {
  constructor(
    readonly input: Input,
    readonly at: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    if (model.state === "terminated") return false;
    return true;
  }
  run(model: Model, real: Real): void {
    const figure = FIGURES[real.kind];
    if (this.input.startsWith("timer ") && !real.armed.has(this.input.slice(6))) {
      // Only armed timers fire; a stale timer event must be a no-op.
      expect(real.machine.handle(eventFor(real, this.input, this.at))).toEqual([]);
      return;
    }
    // A timer that fires is no longer pending; the machine re-arms it if the figure says so.
    if (this.input.startsWith("timer ")) real.armed.delete(this.input.slice(6));
    const expected = expectTransition(figure, model, this.input, real.reliable);
    const before = real.sentResponses.length;
    const outputs = observe(real, model, real.machine.handle(eventFor(real, this.input, this.at)), this.input);
    expect(outputs).toEqual(expected.outputs);
    if (this.input.startsWith("TU ") && expected.outputs.includes("send-response")) {
      model.lastResponseStatus = real.sentResponses[real.sentResponses.length - 1];
    } else if (expected.outputs.includes("send-response") && model.lastResponseStatus !== undefined) {
      // Retransmissions repeat the most recent response (§17.2.1, §17.2.2).
      expect(real.sentResponses.slice(before)).toEqual([model.lastResponseStatus]);
    }
    model.state = expected.to;
    expect(real.machine.state).toBe(model.state);
    expect([...real.armed].sort()).toEqual(armedTimers(figure, model.state, real.reliable));
  }
  toString(): string {
    return this.input;
  }
}

const CLIENT_INPUTS: Input[] = ["1xx", "2xx", "300-699", "timer A", "timer B", "timer D", "timer E", "timer F", "timer K", "transport error"];
const SERVER_INPUTS: Input[] = ["request", "ACK", "TU 1xx", "TU 2xx", "TU 300-699", "timer G", "timer H", "timer I", "timer J", "transport error"];

function runModel(kind: Kind): void {
  // An ACK only ever matches an INVITE server transaction (§17.2.3).
  const inputs = kind.endsWith("client") ? CLIENT_INPUTS : SERVER_INPUTS.filter((i) => kind === "invite-server" || i !== "ACK");
  // Final responses are rarer so that sequences dwell in the early states too.
  const weights = (i: Input) => (i === "2xx" || i === "TU 2xx" || i === "transport error" ? 1 : 4);
  const command = fc.oneof(
    ...inputs.map((input) => ({ weight: weights(input), arbitrary: fc.nat(1_000_000).map((at) => new Step(input, at)) })),
  );
  fc.assert(
    fc.property(
      fc.record({ t1: fc.integer({ min: 1, max: 2000 }), t2f: fc.integer({ min: 1, max: 16 }), t4: fc.integer({ min: 1, max: 10_000 }) }),
      fc.boolean(),
      fc.commands([command], { maxCommands: 30 }),
      ({ t1, t2f, t4 }, reliable, cmds) => {
        const timers = { t1, t2: t1 * t2f, t4 };
        const method = kind.startsWith("invite") ? "INVITE" : "OPTIONS";
        const request = makeRequest(method);
        const opts = { ...timers, reliable };
        const machine: TransactionMachine =
          kind === "invite-client"
            ? new InviteClientTransaction(request, opts)
            : kind === "non-invite-client"
              ? new NonInviteClientTransaction(request, opts)
              : kind === "invite-server"
                ? new InviteServerTransaction(request, opts)
                : new NonInviteServerTransaction(request, opts);
        const figure = FIGURES[kind];
        const real: Real = { machine, armed: new Set(), timers, reliable, kind, sentResponses: [] };
        const model: Model = { state: figure.initial, interval: new Map(), lastResponseStatus: undefined };
        const outputs = observe(real, model, machine.handle({ type: "start", now: 0 }), "start");
        expect(outputs).toEqual(figure.startOutputs);
        if (kind === "invite-server") model.lastResponseStatus = 100;
        expect(machine.state).toBe(figure.initial);
        expect([...real.armed].sort()).toEqual(armedTimers(figure, figure.initial, reliable));
        fc.modelRun(() => ({ model, real }), cmds);
        // Once terminated, nothing a machine is fed produces actions.
        if (machine.state === "terminated") expect(machine.handle({ type: "timer", timer: "B", now: 1 })).toEqual([]);
      },
    ),
    { numRuns: 400 },
  );
}

describe("transaction state machines follow RFC 3261 Figures 5–8", () => {
  it("INVITE client transaction (Figure 5)", () => runModel("invite-client"));
  it("non-INVITE client transaction (Figure 6)", () => runModel("non-invite-client"));
  it("INVITE server transaction (Figure 7)", () => runModel("invite-server"));
  it("non-INVITE server transaction (Figure 8)", () => runModel("non-invite-server"));
});
