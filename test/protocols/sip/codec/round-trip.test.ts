// Property: generated messages serialize → parse → the same model (start line, headers in order, body,
// and every typed accessor equal to the structure the message was generated from).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatSipUri,
  isRequest,
  parseSipMessage,
  parseSipUri,
  serializeSipMessage,
  SipStreamParser,
  type NameAddrHeader,
} from "../../../../protocols/sip/index.js";
import { messageArb, sipUriArb, telUriArb } from "./arbitraries.js";

function nameAddrModel(h: NameAddrHeader): unknown {
  return { displayName: h.displayName, uri: h.uri, tag: h.tag, params: h.params };
}

describe("round trip (fast-check)", () => {
  it("URIs: format → parse gives the same URI", () => {
    fc.assert(
      fc.property(fc.oneof(sipUriArb, telUriArb), (uri) => {
        expect(parseSipUri(formatSipUri(uri))).toEqual(uri);
      }),
      { numRuns: 1000 },
    );
  });

  it("messages: serialize → parse gives the same model", () => {
    fc.assert(
      fc.property(messageArb, (g) => {
        const m = g.message;
        const wire = serializeSipMessage(m);
        const back = parseSipMessage(wire);
        expect(isRequest(back)).toBe(isRequest(m));
        if (isRequest(back) && isRequest(m)) {
          expect([back.method, back.uri, back.version]).toEqual([m.method, m.uri, m.version]);
          expect(back.requestUri).toEqual(g.requestUri);
        } else if (!isRequest(back) && !isRequest(m)) {
          expect([back.status, back.reason, back.version]).toEqual([m.status, m.reason, m.version]);
        }
        expect(back.headers).toEqual(m.headers);
        expect(Buffer.compare(back.body, m.body)).toBe(0);
        expect(back.via).toEqual(g.vias);
        expect(nameAddrModel(back.from)).toEqual(nameAddrModel(g.from));
        expect(nameAddrModel(back.to)).toEqual(nameAddrModel(g.to));
        expect(back.callId).toBe(g.callId);
        expect(back.cseq).toEqual(g.cseq);
        expect(back.contentLength).toBe(m.body.length);
        // deterministic: the parsed message serializes to the same bytes
        expect(Buffer.compare(serializeSipMessage(back), wire)).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("messages: the stream parser frames serialized messages back to the same models", () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 97 }), (gs, step) => {
        const stream = Buffer.concat(gs.map((g) => serializeSipMessage(g.message)));
        const p = new SipStreamParser();
        const out = [];
        for (let i = 0; i < stream.length; i += step) out.push(...p.push(stream.subarray(i, i + step)));
        expect(out.map((m) => m.headers)).toEqual(gs.map((g) => g.message.headers));
        expect(out.map((m) => m.body.toString("hex"))).toEqual(gs.map((g) => g.message.body.toString("hex")));
      }),
      { numRuns: 150 },
    );
  });
});
