// sip.js 0.21 (the user's dependency) as a caller over WebSocket (RFC 7118) in Node: a media-less session
// description handler that offers sendrecv, or sendonly when sip.js asks for hold (RFC 3264 §8.4), a call that can
// be re-INVITEd and hung up, and what the records of the proxies show of its media changes.
import { WebSocket } from "ws";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
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

/** A call sip.js placed and had answered. */
export interface SipjsCall {
  callId: string;
  /** The directions of the offers sip.js made, in order. */
  offers: string[];
  /** A re-INVITE that holds (sendonly) or resumes (sendrecv); the status of its final response and its headers. */
  reinvite(hold: boolean): Promise<{ status: number; retryAfter?: string; reason?: string }>;
  /** Resolves once the session is terminated (by either end). */
  ended: Promise<void>;
  /** BYE; the status of its final response, once the session is terminated. */
  hangUp(): Promise<number>;
  stop(): Promise<void>;
}

/** sip.js connects to `wsUrl`, calls `target` and waits until the call is answered. */
export async function sipjsCall(wsUrl: string, target: string): Promise<SipjsCall> {
  const { UserAgent, Inviter, SessionState } = await import("sip.js");
  const offers: string[] = [];
  const ua = new UserAgent({
    uri: UserAgent.makeURI("sip:alice@example.com"),
    transportOptions: { server: wsUrl },
    sessionDescriptionHandlerFactory: holdingSdhFactory(offers) as never,
    logBuiltinEnabled: false,
  });
  await ua.start();
  const inviter = new Inviter(ua, UserAgent.makeURI(target)!);
  const established = new Promise<void>((resolve, reject) => {
    inviter.stateChange.addListener((s) => {
      if (s === SessionState.Established) resolve();
      if (s === SessionState.Terminated) reject(new Error("call ended before it was answered"));
    });
  });
  const ended = new Promise<void>((resolve) => inviter.stateChange.addListener((s) => s === SessionState.Terminated && resolve()));
  await inviter.invite();
  await established;
  return {
    callId: inviter.request.callId,
    ended,
    offers,
    reinvite: (hold) =>
      new Promise((resolve, reject) => {
        inviter.sessionDescriptionHandlerOptionsReInvite = { hold } as never;
        const done = (r: { message: { statusCode?: number; getHeader(name: string): string | undefined } }) => {
          const retryAfter = r.message.getHeader("Retry-After");
          const reason = r.message.getHeader("Reason");
          resolve({ status: r.message.statusCode ?? 0, ...(retryAfter !== undefined ? { retryAfter } : {}), ...(reason !== undefined ? { reason } : {}) });
        };
        inviter.invite({ requestDelegate: { onAccept: done, onReject: done } }).catch(reject);
      }),
    hangUp: async () => {
      const status = await new Promise<number>((resolve, reject) => {
        inviter.bye({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode ?? 0), onReject: (r) => resolve(r.message.statusCode ?? 0) } }).catch(reject);
      });
      await ended;
      return status;
    },
    stop: () => ua.stop(),
  };
}

/** The media change numbers (TLV 9) a proxy sent its policy server in one call, and what the PDP then told its router. */
export function mediaChanges(records: readonly MessageRecord[], callId: string, proxy: string, pol: string, router: string): Array<{ change: number; toRouter: string[] }> {
  const cops = records.filter((r) => r.proto === "COPS" && (r.callId === callId || r.callId === ""));
  return cops.flatMap((r, i) => {
    if (r.from !== proxy || r.msg !== "REQ LDP" || r.callId !== callId) return [];
    const m = decodeCopsMessage(r.bytes);
    const change = m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    if (change === undefined) return [];
    const dec = cops.findIndex((x, k) => k > i && x.from === pol && x.to === proxy && x.msg === "DEC LDP");
    return [{ change, toRouter: cops.slice(i, dec < 0 ? undefined : dec).filter((x) => x.from === pol && x.to === router).map((x) => x.msg) }];
  });
}

/** The SDP direction attribute of each INVITE the UAS received in a call, in order (a UDP retransmission counted once). */
export function directionsAtUas(records: readonly MessageRecord[], callId: string): Array<string | undefined> {
  const seen = new Set<string>();
  return records
    .filter((r) => r.callId === callId && r.proto === "SIP" && r.msg === "INVITE" && r.to === "UAS")
    .filter((r) => {
      const cseq = /^CSeq:\s*(\d+)/im.exec(r.bytes.toString("latin1"))?.[1] ?? "";
      if (seen.has(cseq)) return false;
      seen.add(cseq);
      return true;
    })
    .map((r) => /^a=(sendonly|sendrecv|recvonly|inactive)\r?$/m.exec(r.bytes.toString("latin1"))?.[1]);
}
