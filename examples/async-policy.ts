// A policy adapter that asks a remote authoriser over HTTP before each call (a promise the policy server
// waits for without blocking), on the loopback socket driver. The authoriser is a local HTTP server this
// example starts on 127.0.0.1 (an ephemeral port) and stops at the end.
//   npx tsx examples/async-policy.ts
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DefaultPolicyAdapter, runCalls, type AaaQuery, type AaaVerdict, type CallSpec } from "../lib/index.js";

// The remote service: POST {caller, callee} → {allow, reason?}; it knows one blocked caller.
const authoriser = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => {
    const { caller } = JSON.parse(body) as { caller: string };
    const verdict = caller.includes("mallory") ? { allow: false, reason: "caller suspended by the authoriser" } : { allow: true };
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(verdict));
  });
});
await new Promise<void>((resolve) => authoriser.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(authoriser.address() as AddressInfo).port}/authorise`;

/**
 * Asks the authoriser: an async override of DefaultPolicyAdapter's decideAaa, the other decisions (the class of
 * the media) are the defaults. No answer within the policy server's policyTimeoutMs refuses the call (503).
 */
class RemoteAuthoriser extends DefaultPolicyAdapter {
  asked = 0;

  override async decideAaa(q: AaaQuery): Promise<AaaVerdict> {
    this.asked++;
    const response = await fetch(url, { method: "POST", body: JSON.stringify({ caller: q.caller, callee: q.callee, side: q.side }) });
    const verdict = (await response.json()) as { allow: boolean; reason?: string };
    return verdict.allow ? { allow: true } : { allow: false, sipStatus: 403, reason: verdict.reason ?? "refused" };
  }
}

const callFrom = (caller: string, startMs: number): CallSpec => ({
  caller, callee: "sip:bob@example.net", startMs, answerDelayMs: 200, durationMs: 500, hangUp: "caller",
});

const policy = new RemoteAuthoriser();
try {
  const result = await runCalls({
    driver: "net",
    policy: { originating: policy },
    calls: [callFrom("sip:alice@example.com", 0), callFrom("sip:mallory@example.com", 100)],
  });
  for (const call of result.calls) {
    console.log(`${call.spec.caller}: ${call.established ? "connected" : `refused ${call.finalStatusAtCaller}`}`);
  }
  console.log(`authoriser asked ${policy.asked} times, CDRs: ${result.cdrs.length}`);
} finally {
  authoriser.close();
}
