// A real browser as the softphone: headless Chromium loads sip.js 0.21 (its ES modules, served over HTTP) and, with
// the browser's own WebSocket, calls through callgate lab's WebSocket listener (RFC 7118), holds the call
// (a=sendonly), resumes it (a=sendrecv) and hangs up. The UAS sees sendrecv, sendonly, sendrecv; both proxies ask
// their policy servers again for each change (TLV 9 1, 2); the call gets one usage record per side.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, normalize } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { directionsAtUas, mediaChanges } from "./sipjs-helpers.js";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SIPJS_LIB = join(process.cwd(), "node_modules", "sip.js", "lib");

/**
 * The page's softphone (browser JavaScript): sip.js with a media-less session description handler that offers
 * sendrecv, or sendonly when sip.js asks for hold; calls, holds, resumes, hangs up.
 */
const SOFTPHONE = `
import { UserAgent, Inviter, SessionState } from "/sipjs/index.js";
window.softphone = async (wsUrl, target) => {
  const offers = [];
  let version = 0;
  const sdh = () => ({
    close: () => undefined,
    getDescription: (options) => {
      version++;
      const direction = options && options.hold ? "sendonly" : "sendrecv";
      offers.push(direction);
      const body = ["v=0", "o=- 4711 " + version + " IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=" + direction, ""].join("\\r\\n");
      return Promise.resolve({ body, contentType: "application/sdp" });
    },
    hasDescription: (ct) => ct === "application/sdp",
    setDescription: () => Promise.resolve(),
    sendDtmf: () => false,
  });
  const ua = new UserAgent({ uri: UserAgent.makeURI("sip:alice@example.com"), transportOptions: { server: wsUrl }, sessionDescriptionHandlerFactory: sdh, logBuiltinEnabled: false });
  await ua.start();
  const inviter = new Inviter(ua, UserAgent.makeURI(target));
  const established = new Promise((resolve, reject) =>
    inviter.stateChange.addListener((s) => (s === SessionState.Established ? resolve() : s === SessionState.Terminated ? reject(new Error("not answered")) : undefined)));
  await inviter.invite();
  await established;
  const statusOf = (send) => new Promise((resolve, reject) => {
    const done = (r) => resolve(r.message.statusCode);
    send({ requestDelegate: { onAccept: done, onReject: done } }).catch(reject);
  });
  const statuses = [];
  for (const hold of [true, false]) {
    inviter.sessionDescriptionHandlerOptionsReInvite = { hold };
    statuses.push(await statusOf((d) => inviter.invite(d)));
  }
  statuses.push(await statusOf((d) => inviter.bye(d)));
  await ua.stop();
  return { callId: inviter.request.callId, offers, statuses, userAgent: navigator.userAgent };
};
`;

let lab: Lab | undefined;
let browser: Browser | undefined;
let http: Server | undefined;
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  await lab?.close();
});

/** Serves an empty page at / and sip.js's ES modules under /sipjs/. */
async function serveSipjs(): Promise<string> {
  http = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><title>softphone</title><script type="module">${SOFTPHONE}</script>`);
      return;
    }
    const file = normalize(join(SIPJS_LIB, path.replace(/^\/sipjs\//, "")));
    if (!path.startsWith("/sipjs/") || !file.startsWith(SIPJS_LIB)) {
      res.writeHead(404).end();
      return;
    }
    try {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => http!.listen(0, "127.0.0.1", () => r()));
  const a = http.address();
  return `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/`;
}

describe("Chromium with sip.js calls through callgate lab's WebSocket listener", () => {
  it("calls, holds, resumes and hangs up from the browser; the UAS sees sendrecv, sendonly, sendrecv; TLV 9 1 and 2 at both proxies; one usage record per side", async () => {
    lab = await startLab({ answerDelayMs: 100, keepRecords: true, wsPort: 0 });
    const sip1Port = Number(lab.endpoints.SIP1?.sip?.split(":")[1]);
    const page = await (browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS })).newPage();
    await page.goto(await serveSipjs());

    await page.waitForFunction(() => typeof (window as { softphone?: unknown }).softphone === "function");
    const result = await page.evaluate(
      ({ wsUrl, target }) => (window as unknown as { softphone(w: string, t: string): Promise<{ callId: string; offers: string[]; statuses: number[]; userAgent: string }> }).softphone(wsUrl, target),
      { wsUrl: lab.endpoints.SIP1!.ws!, target: `sip:bob@127.0.0.1:${sip1Port}` },
    );
    expect(result.userAgent).toMatch(/Chrom/);
    expect(result.statuses).toEqual([200, 200, 200]);
    expect(result.offers).toEqual(["sendrecv", "sendonly", "sendrecv"]);

    const { callId } = result;
    const confirmed = () => lab!.records.filter((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageConfirmation").length;
    for (let i = 0; i < 300 && confirmed() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const records = lab.records;
    expect(directionsAtUas(records, callId)).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const)
      expect(mediaChanges(records, callId, proxy, pol, router).map((c) => c.change), proxy).toEqual([1, 2]);
    expect(records.filter((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    expect(lab.stats().callsNotEnded).toEqual([]);
  }, 90_000);
});
