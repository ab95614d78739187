import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  OfferAnswerSession, answerOffer, checkAnswer, mediaDirection, mediaFormats, parseSdp, serializeSdp,
  type OfferAnswerOptions, type SessionDescription,
} from "../../../protocols/sdp/index.js";
import { offerArb } from "./arbitraries.js";

const local = (): OfferAnswerOptions => {
  let next = 40_000;
  return { address: "127.0.0.1", sessionId: "77", port: () => (next += 2) };
};

describe("offer/answer (RFC 3264 §6) as fast-check properties", () => {
  it("every answer has one m= line per offered one, in order, same media, formats drawn from the offer, or port 0 with the offered formats", () => {
    fc.assert(
      fc.property(offerArb, (offer) => {
        const { answer, accepted } = answerOffer(offer, local(), "1");
        // The answer is valid SDP and writes back to itself.
        expect(parseSdp(serializeSdp(answer))).toEqual(answer);
        expect(answer.media).toHaveLength(offer.media.length);
        let counted = 0;
        answer.media.forEach((a, i) => {
          const o = offer.media[i]!;
          expect(a.media).toBe(o.media);
          expect(a.formats.length).toBeGreaterThan(0);
          if (a.port === 0) {
            expect(a.formats).toEqual(o.formats);
            return;
          }
          counted++;
          expect(o.port).not.toBe(0);
          for (const f of a.formats) expect(o.formats).toContain(f);
          // the same encoding as offered under that payload type (static ones named by RFC 3551)
          const offered = new Map(mediaFormats(o).map((f) => [f.format, f.encoding?.name.toUpperCase()]));
          for (const f of mediaFormats(a)) expect(f.encoding?.name.toUpperCase()).toBe(offered.get(f.format));
          // §6.1: sendonly ↔ recvonly, inactive stays inactive
          const od = mediaDirection(offer, o);
          const ad = mediaDirection(answer, a);
          expect(ad).toBe(od === "sendonly" ? "recvonly" : od === "recvonly" ? "sendonly" : od);
        });
        expect(accepted).toBe(counted);
        expect(checkAnswer(offer, answer)).toEqual({ kind: "ok" });
      }),
      { numRuns: 2000 },
    );
  });

  it("an offer with no acceptable media is refused 488 and leaves the session as it was; glare is 491", () => {
    fc.assert(
      fc.property(offerArb, offerArb, (first, second) => {
        const s = new OfferAnswerSession(local());
        const r1 = s.receiveOffer(first);
        const before = { local: s.local, remote: s.remote };
        const r2 = s.receiveOffer(second);
        if (r2.kind === "refused") {
          expect(r2.status).toBe(488);
          expect({ local: s.local, remote: s.remote }).toEqual(before);
        } else expect(s.remote).toBe(second);
        if (r1.kind === "answer") expect(Number(r1.answer.origin.sessionVersion)).toBeLessThan(Number(s.local?.origin.sessionVersion ?? Infinity) + 1);
        const offer = s.createOffer();
        expect(offer).toBeDefined();
        expect(s.receiveOffer(first)).toMatchObject({ kind: "refused", status: 491 });
        s.rollback();
        expect(s.state).toBe("stable");
      }),
      { numRuns: 500 },
    );
  });

  it("checkAnswer catches answers that break §6: missing m= line, foreign payload type, empty formats", () => {
    const offer: SessionDescription = parseSdp("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\nm=video 4002 RTP/AVP 31\r\n");
    const good = answerOffer(offer, local(), "1").answer;
    expect(good.media.map((m) => [m.media, m.port === 0, m.formats])).toEqual([["audio", false, ["0", "8"]], ["video", true, ["31"]]]);
    expect(checkAnswer(offer, { ...good, media: good.media.slice(0, 1) }).kind).toBe("invalid");
    expect(checkAnswer(offer, { ...good, media: [{ ...good.media[0]!, formats: ["18"] }, good.media[1]!] }).kind).toBe("invalid");
    expect(checkAnswer(offer, { ...good, media: [{ ...good.media[0]!, formats: [] }, good.media[1]!] }).kind).toBe("invalid");
  });

  it("late offer: an offer made first, the answer taken from the ACK; hold offers sendonly and the answer says recvonly", () => {
    const uas = new OfferAnswerSession(local());
    const uac = new OfferAnswerSession({ ...local(), address: "127.0.0.2", sessionId: "9" });
    const offer = uas.createOffer()!;
    const r = uac.receiveOffer(offer);
    expect(r.kind).toBe("answer");
    if (r.kind !== "answer") return;
    expect(uas.receiveAnswer(r.answer)).toEqual({ kind: "ok" });
    expect(uas.state).toBe("stable");
    uac.hold = true;
    const hold = uac.createOffer()!;
    expect(mediaDirection(hold, hold.media[0]!)).toBe("sendonly");
    const held = uas.receiveOffer(hold);
    expect(held.kind === "answer" && mediaDirection(held.answer, held.answer.media[0]!)).toBe("recvonly");
    expect(Number(hold.origin.sessionVersion)).toBeGreaterThan(Number(r.answer.origin.sessionVersion));
  });
});

describe("writeOffer", () => {
  it("writes the same bytes as serializeSdp(makeOffer(...)) for any codecs, address, port, bandwidth and direction", async () => {
    const { makeOffer, writeOffer } = await import("../../../protocols/sdp/index.js");
    const codec = fc.record(
      { name: fc.constantFrom("PCMU", "PCMA", "G729", "opus", "telephone-event"), clockRate: fc.constantFrom(8000, 16000, 48000), channels: fc.constantFrom(1, 2), payload: fc.integer({ min: 0, max: 127 }), fmtp: fc.constantFrom("0-16", "useinbandfec=1") },
      { requiredKeys: ["name", "clockRate", "payload"] },
    );
    fc.assert(
      fc.property(
        fc.array(codec, { minLength: 1, maxLength: 5 }), fc.constantFrom("127.0.0.1", "192.0.2.20", "2001:db8::1"), fc.integer({ min: 0, max: 65535 }),
        fc.option(fc.nat({ max: 100_000 }), { nil: undefined }), fc.constantFrom("sendrecv", "sendonly", "recvonly", "inactive") as fc.Arbitrary<"sendrecv" | "sendonly" | "recvonly" | "inactive">,
        fc.bigInt({ min: 0n, max: 2n ** 63n }),
        (codecs, address, port, bw, direction, id) => {
          const o: OfferAnswerOptions = { address, sessionId: String(id), port: () => port, codecs, ...(bw !== undefined ? { bandwidthKbps: bw } : {}) };
          expect(writeOffer(o, "1", direction)).toBe(serializeSdp(makeOffer(o, "1", direction)));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
