// A policy server (serveRole POL1 of a deploy file, socket driver) in its own process, fed 100,000 REQ AAA on
// distinct handles over one COPS connection; its RSS and heap (after a full GC) are read before, at the peak,
// after the flood and after the connection closed and the lost PEP's grace passed.
// Run after `npm run build`: node bench/cops-flood.mjs   (FLOOD_REQS, FLOOD_MAX_STATES to change the run)
// Last line: {"reqs":…, "max_states":…, "decided":…, "refused":…, "rss_mb":{"start","peak","after_flood","after_close"},
// "heap_mb":{…same…}, "states":{"after_flood","after_close"}}
import { fork } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.mjs";

const total = Number(process.env.FLOOD_REQS ?? 100_000);
const maxStates = process.env.FLOOD_MAX_STATES === undefined ? undefined : Number(process.env.FLOOD_MAX_STATES);

if (process.argv[2] === "pdp") {
  // The policy server's process: serves POL1, answers "measure" with its memory after a full GC.
  const { parseDeployConfig } = await import("../dist/lib/flow/deploy-config.js");
  const { serveRole } = await import("../dist/lib/flow/serve.js");
  const served = await serveRole({ config: parseDeployConfig(process.argv[3]), role: "POL1" });
  process.on("message", (m) => {
    if (m === "measure") {
      globalThis.gc?.();
      const mem = process.memoryUsage();
      process.send({ rss: mem.rss, heap: mem.heapUsed, states: served.state().copsRequestStates ?? 0, calls: served.state().calls ?? 0 });
    } else if (m === "stop") void served.close().then(() => process.exit(0));
  });
  process.send("ready");
} else {
  const { ClientType, CopsFrameSplitter, buildSipAaaRequest, decodeCopsMessage, encodeCopsMessage } = await import("../dist/protocols/cops/index.js");
  const port = await freePort();
  const config = [
    "topology: { clearinghouse: none }",
    "roles:",
    "  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }",
    `  POL1: { host: 127.0.0.1, cops: ${port} }`,
    "  R1:   { host: 127.0.0.1 }",
    ...(maxStates === undefined ? [] : ["copsSecurity:", `  POL1: { maxRequestStates: ${maxStates} }`]),
    "",
  ].join("\n");
  const pdp = fork(fileURLToPath(import.meta.url), ["pdp", config], { execArgv: ["--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const replies = [];
  let waiting;
  pdp.on("message", (m) => (waiting ? (waiting(m), (waiting = undefined)) : replies.push(m)));
  const reply = () => (replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((r) => (waiting = r)));
  await reply(); // ready
  const measure = async () => {
    pdp.send("measure");
    return reply();
  };
  const start = await measure();

  const socket = connect({ host: "127.0.0.1", port });
  const splitter = new CopsFrameSplitter();
  let decided = 0;
  let refused = 0;
  let cat;
  const catSeen = new Promise((r) => (cat = r));
  let allAnswered;
  const answered = new Promise((r) => (allAnswered = r));
  socket.on("data", (chunk) => {
    for (const f of splitter.push(chunk)) {
      const m = decodeCopsMessage(f);
      if (m.op === "CAT") cat();
      else if (m.op === "DEC") {
        if (m.error) refused++;
        else decided++;
        if (decided + refused === total) allAnswered();
      }
    }
  });
  await new Promise((r) => socket.once("connect", r));
  socket.write(encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" }));
  await catSeen;
  // RSS is sampled while the flood runs (without a GC: the process as the host sees it).
  let peakRss = start.rss;
  let peakHeap = start.heap;
  const sampler = setInterval(() => {
    void measure().then((m) => {
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heap);
    });
  }, 200);
  const handle = (n) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  let batch = [];
  for (let n = 1; n <= total; n++) {
    batch.push(encodeCopsMessage(buildSipAaaRequest("AAA", handle(n), { callId: `flood-${n}@example.com`, caller: "sip:a@example.com", callee: "sip:b@example.com", flows: [] })));
    if (batch.length === 1000 || n === total) {
      if (!socket.write(Buffer.concat(batch))) await new Promise((r) => socket.once("drain", r));
      batch = [];
    }
  }
  await answered;
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 300));
  const afterFlood = await measure();
  socket.destroy();
  // The lost PEP's states are kept for its grace period (RFC 2748 §2.5 resynchronisation), then ended.
  let afterClose = await measure();
  for (let i = 0; i < 100 && afterClose.states > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    afterClose = await measure();
  }
  await new Promise((r) => setTimeout(r, 500));
  afterClose = await measure();
  pdp.send("stop");
  await new Promise((r) => pdp.once("exit", r));
  const mb = (b) => Math.round((b / 1048576) * 10) / 10;
  console.log(`${total} REQs on one connection: ${decided} decided, ${refused} refused with DEC Error 4`);
  console.log(
    JSON.stringify({
      reqs: total,
      max_states: maxStates ?? "default",
      decided,
      refused,
      rss_mb: { start: mb(start.rss), peak: mb(peakRss), after_flood: mb(afterFlood.rss), after_close: mb(afterClose.rss) },
      heap_mb: { start: mb(start.heap), peak: mb(peakHeap), after_flood: mb(afterFlood.heap), after_close: mb(afterClose.heap) },
      states: { after_flood: afterFlood.states, after_close: afterClose.states, calls_after_close: afterClose.calls },
    }),
  );
}
