// OSP benchmark: AuthorisationRequest → AuthorisationResponse round trips per second over loopback HTTP
// keep-alive against the clearinghouse, and codec decode/encode rates. Run after `npm run build`.
// Last line: {"auth_rtt_per_s":…, "decode_per_s":…, "encode_per_s":…}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OspClient, authorisationRequest, decodeOspMessage, encodeOspMessage } from "../dist/protocols/osp/index.js";
import { Clearinghouse } from "../dist/lib/roles/clearinghouse.js";
import { startClearinghouseServer } from "../dist/lib/roles/clearinghouse-server.js";
import { MemoryCdrStore } from "../dist/lib/adapters/cdr-store-memory.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const golden = (name) => readFileSync(join(process.cwd(), "test/protocols/osp/golden", name));
const corpus = ["authorization-request.xml", "authorization-response.xml", "usage-indication.xml", "usage-confirmation.xml"].map(golden);

function rate(label, fn) {
  // warm up, then count calls in the time window
  for (let i = 0; i < 2000; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) fn(n + i);
    n += 200;
  }
  const perS = Math.round(n / ((performance.now() - start) / 1000));
  console.log(`${label}: ${perS}/s`);
  return perS;
}

const decodePerS = rate("decode (mixed AuthReq/AuthRsp/UsageInd/UsageCnf)", (i) => decodeOspMessage(corpus[i % corpus.length]));
const models = corpus.map((b) => decodeOspMessage(b));
const encodePerS = rate("encode (same messages)", (i) => encodeOspMessage(models[i % models.length]));

const clearinghouse = new Clearinghouse({
  routes: [{ prefix: "1404", timeLimitSeconds: 3600, destinations: [{ address: "[192.0.2.20]:5060" }] }],
  store: new MemoryCdrStore(),
});
const server = await startClearinghouseServer(clearinghouse, { url: "http://127.0.0.1:0/osp" });
const client = new OspClient({ url: server.url, maxSockets: 8 });
const concurrency = 16;
let done = 0;
let seq = 0;
const deadline = performance.now() + seconds * 1000;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const id = `b${seq++}`;
      const rsp = await client.authorise(
        authorisationRequest({ messageId: id, nowMs: Date.now(), callId: Buffer.from(id), callingNumber: "14045266060", calledNumber: "14043342535" }),
      );
      if (rsp.status.code !== 200) throw new Error(`status ${rsp.status.code}`);
      done++;
    }
  }),
);
const authPerS = Math.round(done / ((performance.now() - t0) / 1000));
console.log(`AuthorisationRequest→Response over HTTP keep-alive (8 sockets, ${concurrency} in flight, unsigned tokens): ${authPerS}/s`);
await client.close();
await server.close();
console.log(JSON.stringify({ auth_rtt_per_s: authPerS, decode_per_s: decodePerS, encode_per_s: encodePerS }));
