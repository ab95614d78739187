import { afterEach, describe, expect, it } from "vitest";
import { checkLogLevel, countCdrsWritten, dropCauseOf, parseHostPort, startOperations, type Operations } from "../../../lib/flow/operations.js";
import { MemoryCdrStore } from "../../../lib/adapters/cdr-store-memory.js";
import type { CallDetailRecord } from "../../../lib/adapters/cdr-store.js";
import { captureLog, metricSample } from "../../support/observability-helpers.js";



let ops: Operations | undefined;
afterEach(async () => {
  await ops?.close();
  ops = undefined;
});

describe("operations settings", () => {
  it("parses HOST:PORT and names the setting when it cannot", () => {
    expect(parseHostPort("127.0.0.1:9464", "--metrics")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseHostPort("[::1]:0", "--metrics")).toEqual({ host: "::1", port: 0 });
    expect(String(parseHostPort("127.0.0.1:70000", "--metrics"))).toContain("--metrics: port 70000 is out of range");
    expect(String(parseHostPort("9464", "--metrics"))).toContain("--metrics wants HOST:PORT, got '9464'");
  });

  it("accepts pino's levels only", () => {
    expect(checkLogLevel("warn")).toBeUndefined();
    expect(checkLogLevel(undefined)).toBeUndefined();
    expect(checkLogLevel("verbose")?.message).toBe("--log-level: unknown level 'verbose' (levels: trace, debug, info, warn, error, fatal, silent)");
  });

  it("names a drop's cause by the message up to its detail", () => {
    expect(dropCauseOf("bad REQ from 127.0.0.1:4000: truncated")).toBe("bad-req");
    expect(dropCauseOf("unreadable OSP request from POL1")).toBe("unreadable-osp-request");
    expect(dropCauseOf("COPS: lost POL1 (closed)")).toBe("cops");
    expect(dropCauseOf("")).toBe("unknown");
  });
});

describe("startOperations", () => {
  it("feeds /metrics from call events, drops and gauges", async () => {
    const { logger, lines } = captureLog();
    ops = await startOperations({ name: "lab", logger, metrics: { host: "127.0.0.1", port: 0 }, callRoles: ["SIP1"] });
    const states = { n: 3 };
    ops.watch({ requestStates: () => ({ POL1: states.n }), queues: () => ({ "POL1 usage backlog": 2 }) });
    ops.onEvent({ type: "terminated", callId: "a", role: "SIP1", at: 1 });
    ops.onEvent({ type: "terminated", callId: "a", role: "SIP2", at: 1 }); // not the process's edge: not a call of its own
    ops.onEvent({ type: "terminated", callId: "b", role: "SIP1", at: 2, status: 486 });
    ops.onEvent({ type: "decision", callId: "a", role: "POL1", purpose: "AAA", allow: true });
    ops.onEvent({ type: "decision", callId: "b", role: "POL1", purpose: "AAA", allow: false });
    ops.onEvent({ type: "usage", callId: "a", role: "POL1", durationS: 1, packets: 0, octets: 0, reported: "pending" });
    for (let i = 0; i < 5; i++) ops.onEvent({ type: "error", role: "POL1", message: `bad REQ from 127.0.0.1:${4000 + i}: truncated` });
    ops.onError("SIP1 udp", new Error("recv failed"));
    ops.onError("SIP1 handling timer", new Error("boom"));
    const body = await (await fetch(`http://${ops.metricsAddress ?? ""}/metrics`)).text();
    expect(metricSample(body, "callgate_calls_total", { outcome: "ended", role: "lab" })).toBe(1);
    expect(metricSample(body, "callgate_calls_total", { outcome: "486" })).toBe(1);
    expect(metricSample(body, "callgate_decisions_total", { kind: "AAA", verdict: "allow" })).toBe(1);
    expect(metricSample(body, "callgate_decisions_total", { kind: "AAA", verdict: "deny" })).toBe(1);
    expect(metricSample(body, "callgate_retries_total", { what: "usage" })).toBe(1);
    expect(metricSample(body, "callgate_drops_total", { proto: "COPS", cause: "bad-req" })).toBe(5);
    expect(metricSample(body, "callgate_drops_total", { proto: "SIP", cause: "recv-failed" })).toBe(1);
    expect(metricSample(body, "callgate_cops_request_states", { peer: "POL1" })).toBe(3);
    expect(metricSample(body, "callgate_queue_size", { queue: "POL1 usage backlog" })).toBe(2);
    expect(metricSample(body, "callgate_process_resident_memory_bytes")).toBeGreaterThan(0);
    // Five drops of one cause: one warn line; the node's exception: one error line.
    expect(lines.filter((l) => l.cause === "COPS:bad-req")).toHaveLength(1);
    expect(lines.filter((l) => l.level === 50 && l.where === "SIP1 handling timer")).toHaveLength(1);
    states.n = 0;
    ops.watch({ requestStates: () => ({ POL1: states.n }) });
    expect(metricSample(await ops.metrics.text(), "callgate_cops_request_states", { peer: "POL1" })).toBe(0);
  });

  it("names at most 200 drop causes; the rest count as the protocol's 'other'", async () => {
    const { logger } = captureLog();
    ops = await startOperations({ name: "lab", logger, callRoles: [] });
    for (let i = 0; i < 300; i++) ops.onEvent({ type: "error", role: "POL1", message: `odd REQ number ${i}: no` });
    const text = await ops.metrics.text();
    const series = text.split("\n").filter((l) => l.startsWith("callgate_drops_total{"));
    expect(series).toHaveLength(201);
    expect(metricSample(text, "callgate_drops_total", { proto: "COPS", cause: "other" })).toBe(100);
  });

  it("counts a CDR once, when the store newly writes it", async () => {
    const store = new MemoryCdrStore();
    let written = 0;
    countCdrsWritten(store, () => written++);
    const cdr = { messageId: "m1", componentId: "c1", receivedAt: 1, transactionId: "7", callId: "Y2FsbA==", role: "source" } as unknown as CallDetailRecord;
    expect(await store.insertOnce(cdr)).toBe(true);
    expect(await store.insertOnce(cdr)).toBe(false);
    expect(written).toBe(1);
  });
});
