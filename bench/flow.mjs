// Flow benchmark: complete calls (FIG. 5 setup + FIG. 6 teardown through all nine roles) per second on the
// in-memory driver and on the loopback socket driver, heap bytes per established call with 10,000 calls up,
// and a profile of where the time goes per role and protocol. Run after `npm run build`:
//   node --expose-gc bench/flow.mjs [--quick]
// Last line: {"inmemory_calls_per_s":…, "network_calls_per_s":…, "bytes_per_call":…, …}
import { runCalls, buildTopology, resolveTopology, MemoryNetwork, CallEventBus } from "../dist/lib/index.js";
import { flowPki } from "../dist/lib/flow/flow-pki.js";

const quick = process.argv.includes("--quick");
const gc = globalThis.gc;

function calls(n, { spacingMs = 1, answerDelayMs = 20, durationMs = 200 } = {}) {
  return Array.from({ length: n }, (_, i) => ({
    id: `bench-${i}@callgate.example.com`, caller: `sip:+1555${String(i).padStart(7, "0")}@example.com`, callee: "sip:+15550000001@example.com",
    startMs: 10 + i * spacingMs, answerDelayMs, durationMs, hangUp: i % 2 ? "callee" : "caller",
  }));
}

/** Wraps every node's handle() to add up wall time per role and per protocol of the event. */
function profiled(nodes, table) {
  for (const node of nodes) {
    const inner = node.handle.bind(node);
    node.handle = (ev) => {
      const key = `${node.name} ${ev.type === "deliver" ? ev.proto : ev.type}`;
      const t = process.hrtime.bigint();
      const out = inner(ev);
      const add = () => table.set(key, (table.get(key) ?? 0n) + (process.hrtime.bigint() - t));
      if (Array.isArray(out)) add();
      else out.then(add, add);
      return out;
    };
  }
}

async function memoryRate(n, topologyOptions, profile) {
  const topology = resolveTopology(topologyOptions);
  const specs = calls(n);
  const topo = buildTopology(topology, specs, [], { seed: 1 });
  if (profile) profiled(topo.nodes, profile);
  const bus = new CallEventBus();
  let ended = 0;
  let established = 0;
  bus.on("terminated", (e) => { if (e.role === "UAC") ended++; });
  bus.on("established", (e) => { if (e.role === "UAC") established++; });
  const net = new MemoryNetwork({ onEmit: (_n, e) => bus.publish(e) });
  for (const node of topo.nodes) net.add(node);
  const t0 = performance.now();
  net.start();
  while (ended < n && net.now < 600_000) await net.run({ untilMs: net.now + 1_000 });
  const ms = performance.now() - t0;
  if (established !== n) throw new Error(`memory: ${established}/${n} calls established`);
  return { callsPerS: n / (ms / 1000), ms };
}

async function networkRate(n, topologyOptions) {
  let first = Infinity;
  let last = 0;
  const result = await runCalls({
    driver: "net", topology: topologyOptions, calls: calls(n, { spacingMs: 2, answerDelayMs: 10, durationMs: 100 }), keepRecords: false,
    onRecord: (r) => {
      if (!r.callId) return;
      first = Math.min(first, r.t);
      last = Math.max(last, r.t);
    },
  });
  // Overload shows as failed calls (timers expire while the clearinghouse signs); only complete calls count.
  const ok = result.calls.filter((c) => c.established && c.endedBy !== undefined).length;
  return { callsPerS: ok / ((last - first) / 1000), ms: last - first, failed: n - ok };
}

async function bytesPerCall(n) {
  const measure = async (count) => {
    const topology = resolveTopology({ signedTokens: false });
    const specs = calls(count, { spacingMs: 1, answerDelayMs: 50, durationMs: 3_600_000 });
    const topo = buildTopology(topology, specs, [], { seed: 1 });
    let established = 0;
    const net = new MemoryNetwork({ onEmit: (_n, e) => { if (e.type === "established" && e.role === "UAC") established++; } });
    for (const node of topo.nodes) net.add(node);
    net.start();
    // Everyone answered, every transaction finished (Timer D 32 s), calls still up for the hour.
    await net.run({ untilMs: 10 + count + 60_000 });
    gc?.();
    gc?.();
    const heap = process.memoryUsage().heapUsed;
    return { heap, established, keep: [topo, net] };
  };
  const base = await measure(0);
  const base2 = base.heap;
  base.keep = null;
  const full = await measure(n);
  if (full.established !== n) throw new Error(`heap: ${full.established}/${n} calls up`);
  return Math.round((full.heap - base2) / n);
}

flowPki(); // the clearinghouse's signing key and CA, made once per process, outside the timings
const defaultTopology = { clearinghouse: "osp-http", signedTokens: true, clearinghouseTimeoutMs: 60_000 };
const n = quick ? 20 : 100;
const profile = new Map();
await memoryRate(10, defaultTopology); // warm-up
const mem = await memoryRate(n, defaultTopology, profile);
const memUnsigned = await memoryRate(quick ? 200 : 2000, { clearinghouse: "osp-http", signedTokens: false, clearinghouseTimeoutMs: 60_000 });
const memNoCh = await memoryRate(quick ? 200 : 2000, { clearinghouse: "none" });
const netDefault = await networkRate(quick ? 20 : 50, defaultTopology);
const netUnsigned = await networkRate(quick ? 50 : 300, { clearinghouse: "osp-http", signedTokens: false, clearinghouseTimeoutMs: 60_000 });
const bytes = await bytesPerCall(quick ? 1000 : 10_000);

const total = [...profile.values()].reduce((a, b) => a + b, 0n);
const rows = [...profile.entries()].sort((a, b) => (b[1] > a[1] ? 1 : -1)).slice(0, 14);
console.log(`profile of ${n} in-memory calls, default configuration (time inside each role's handle(), by the protocol of the event):`);
for (const [key, ns] of rows) console.log(`  ${key.padEnd(16)} ${(Number(ns) / 1e6).toFixed(1).padStart(9)} ms  ${((Number(ns) * 100) / Number(total)).toFixed(1).padStart(5)} %`);
console.log(`in memory: ${mem.callsPerS.toFixed(1)} calls/s signed tokens, ${memUnsigned.callsPerS.toFixed(0)} unsigned, ${memNoCh.callsPerS.toFixed(0)} without clearinghouse`);
console.log(`loopback:  ${netDefault.callsPerS.toFixed(1)} calls/s signed tokens (${netDefault.failed} failed), ${netUnsigned.callsPerS.toFixed(0)} unsigned (${netUnsigned.failed} failed)`);
console.log(`heap per established call (all roles, unsigned tokens): ${bytes} bytes`);
console.log(JSON.stringify({
  inmemory_calls_per_s: Math.round(mem.callsPerS * 10) / 10,
  network_calls_per_s: Math.round(netDefault.callsPerS * 10) / 10,
  bytes_per_call: bytes,
  inmemory_calls_per_s_unsigned_tokens: Math.round(memUnsigned.callsPerS),
  inmemory_calls_per_s_no_clearinghouse: Math.round(memNoCh.callsPerS),
  network_calls_per_s_unsigned_tokens: Math.round(netUnsigned.callsPerS),
}));
