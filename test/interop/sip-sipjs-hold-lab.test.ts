// sip.js 0.21 (Node, WebSocket from `ws`) holds and resumes a call through callgate lab: sip.js → the lab's own
// WebSocket listener of SIP1 (RFC 7118) → SIP2 → UAS. The re-INVITEs offer a=sendonly, then a=sendrecv (RFC 3264 §8.4); each makes both proxies of the lab ask
// their policy servers again (REQ LDP with TLV 9: 1, then 2), which install the new classifiers at their router
// and remove the old ones; sip.js hangs up, and the call gets one usage record per side.
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLab, type Lab } from "../../lib/flow/lab.js";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../protocols/cops/index.js";

// sip.js's Web transport opens `new WebSocket(url, "sip")` from the global scope.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

/** Media-less session description handler: offers sendrecv, or sendonly when sip.js asks for hold; a new o= version each offer. */
function holdingSdhFactory(offers: string[]) {
  let version = 0;
  return () => ({
    close: () => undefined,
    getDescription: (options?: { hold?: boolean }) => {
      version++;
      const direction = options?.hold ? "sendonly" : "sendrecv";
      const body = ["v=0", `o=- 4711 ${version} IN IP4 127.0.0.1`, "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", `a=${direction}`, ""].join("\r\n");
      offers.push(direction);
      return Promise.resolve({ body, contentType: "application/sdp" });
    },
    hasDescription: (ct: string) => ct === "application/sdp",
    setDescription: () => Promise.resolve(),
    sendDtmf: () => false,
  });
}

let lab: Lab | undefined;
afterAll(async () => {
  await lab?.close();
});

describe("sip.js over WebSocket holds and resumes a call through callgate lab", () => {
  it("re-INVITE a=sendonly then a=sendrecv, each answered 200; TLV 9 updates 1 and 2 at both proxies, DEC Install then DEC Remove at both routers; BYE; one usage record per side", async () => {
    const errors: string[] = [];
    lab = await startLab({ answerDelayMs: 100, keepRecords: true, wsPort: 0, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
    const sip1Port = Number(lab.endpoints.SIP1?.sip?.split(":")[1]);
    const wsUrl = lab.endpoints.SIP1?.ws ?? "";
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    const { UserAgent, Inviter, SessionState } = await import("sip.js");
    const offers: string[] = [];
    const ua = new UserAgent({
      uri: UserAgent.makeURI("sip:alice@example.com"),
      transportOptions: { server: wsUrl },
      sessionDescriptionHandlerFactory: holdingSdhFactory(offers) as never,
      logBuiltinEnabled: false,
    });
    await ua.start();
    const inviter = new Inviter(ua, UserAgent.makeURI(`sip:bob@127.0.0.1:${sip1Port}`)!);
    const established = new Promise<void>((resolve, reject) => {
      inviter.stateChange.addListener((s) => {
        if (s === SessionState.Established) resolve();
        if (s === SessionState.Terminated) reject(new Error("call ended before it was answered"));
      });
    });
    await inviter.invite();
    await established;
    const callId = inviter.request.callId;

    /** A re-INVITE (hold or resume) and the status of its final response. */
    const reinvite = (hold: boolean) =>
      new Promise<number>((resolve, reject) => {
        inviter.sessionDescriptionHandlerOptionsReInvite = { hold } as never;
        inviter
          .invite({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0), onReject: (r) => resolve(r.message.statusCode ?? 0) } })
          .catch(reject);
      });
    expect(await reinvite(true)).toBe(200);
    expect(await reinvite(false)).toBe(200);
    expect(offers).toEqual(["sendrecv", "sendonly", "sendrecv"]);

    const terminated = new Promise<void>((resolve) => inviter.stateChange.addListener((s) => s === SessionState.Terminated && resolve()));
    const byeStatus = await new Promise<number>((resolve, reject) => {
      inviter.bye({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0), onReject: (r) => resolve(r.message.statusCode ?? 0) } }).catch(reject);
    });
    expect(byeStatus).toBe(200);
    await terminated;
    await ua.stop();

    // the usage records come after the BYE: wait for both policy servers' UsageIndications to be confirmed
    const usageConfirmed = () => lab!.records.filter((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageConfirmation").length;
    for (let i = 0; i < 200 && usageConfirmed() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const records = lab.records.filter((r) => r.callId === callId || r.callId === "");
    const mine = records.filter((r) => r.callId === callId);
    // both re-INVITEs crossed the lab to the UAS and their 200s came back
    const toUas = mine.filter((r) => r.proto === "SIP" && r.msg === "INVITE" && r.to === "UAS");
    expect(toUas.map((r) => /^a=(sendonly|sendrecv|recvonly|inactive)\r?$/m.exec(r.bytes.toString("latin1"))?.[1])).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    expect(mine.filter((r) => r.proto === "SIP" && r.to === "SIP1" && r.from === "SIP2" && r.msg.startsWith("200 ") && /^CSeq:\s*\d+\s+INVITE/im.test(r.bytes.toString("latin1"))).length).toBe(3);
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      const cops = records.filter((r) => r.proto === "COPS");
      const changes = cops.flatMap((r, i) => {
        if (r.callId !== callId || r.from !== proxy || r.msg !== "REQ LDP") return [];
        const m = decodeCopsMessage(r.bytes);
        const change = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
        if (change === undefined) return [];
        const dec = cops.findIndex((x, k) => k > i && x.from === pol && x.to === proxy && x.msg === "DEC LDP");
        return [{ change, toRouter: cops.slice(i, dec).filter((x) => x.from === pol && x.to === router).map((x) => x.msg) }];
      });
      expect(changes, proxy).toEqual([
        { change: 1, toRouter: ["DEC Install", "DEC Remove"] },
        { change: 2, toRouter: ["DEC Install", "DEC Remove"] },
      ]);
      const decs = mine.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
      expect(decs.filter((r) => r.msg === "DEC Remove").length, router).toBe(decs.filter((r) => r.msg === "DEC Install").length);
    }
    // one usage record per side for the whole call
    expect(mine.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    // the clearinghouse's CDRs name the call by its Call-ID bytes in base64
    const cdrs = (await lab.cdrStore.query()).filter((c) => c.callId === Buffer.from(callId).toString("base64"));
    expect(cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
    expect(lab.stats().callsNotEnded).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
