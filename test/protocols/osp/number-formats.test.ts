// Numbers as TS 101 321 and the TransNexus toolkit write them (its writers: "%lu", "%03ld", "%.4f"; see
// test/interop/osp/toolkit.test.ts for the toolkit itself), and decode errors that name their component.
import { describe, expect, it } from "vitest";
import { OspDecodeError, decodeOspMessage, encodeOspMessage, type OspUsageIndication } from "../../../protocols/osp/index.js";
import { readOspMessageComponents } from "../../../protocols/osp/codec.js";

const usage = (detail: string, attrs = ' componentId="c1"') =>
  `<Message messageId="m1"><UsageIndication${attrs}><UsageDetail>${detail}</UsageDetail></UsageIndication></Message>`;

function detailOf(xml: string) {
  const c = decodeOspMessage(xml).components[0] as OspUsageIndication;
  return c.usageDetails[0]!;
}

function decodeError(xml: string): OspDecodeError {
  try {
    decodeOspMessage(xml);
  } catch (err) {
    if (err instanceof OspDecodeError) return err;
    throw err;
  }
  throw new Error("decoded");
}

describe("decimal values (Amount, PostDialDelay)", () => {
  const cases: [string, number][] = [
    ["61", 61],
    ["61.5", 61.5],
    ["1.0100", 1.01],
    ["0.0000", 0],
    ["-0.0000", 0],
    ["-2.5000", -2.5],
    [".5", 0.5],
    ["5.", 5],
    ["+3.25", 3.25],
    ["007", 7],
    ["100000002004087734272.0000", 100000002004087734272],
  ];
  for (const [text, value] of cases) {
    it(`reads '${text}'`, () => {
      const d = detailOf(usage(`<Amount>${text}</Amount><Increment>1</Increment><Unit>s</Unit><PostDialDelay>${text}</PostDialDelay>`));
      expect(d.amount).toBe(value);
      expect(d.postDialDelays).toEqual([{ seconds: value }]);
      expect(Object.is(d.amount, -0)).toBe(false);
    });
  }

  for (const text of ["", ".", "1e3", "1,5", "0x10", "1.2.3", "- 1", "Infinity", "NaN", `1.${"0".repeat(21)}`]) {
    it(`refuses '${text}' naming the element and the component`, () => {
      const err = decodeError(usage(`<Amount>${text}</Amount><Increment>1</Increment><Unit>s</Unit>`));
      expect(err).toMatchObject({ code: "bad-value", path: "Message/UsageIndication/UsageDetail/Amount", messageId: "m1", component: "UsageIndication", componentId: "c1" });
    });
  }

  it("keeps each PostDialDelay with the side that measured it, and writes them back", () => {
    const xml = usage('<Amount>61</Amount><Increment>1</Increment><Unit>s</Unit><PostDialDelay type="destination">1.2340</PostDialDelay><PostDialDelay type="source">1.0100</PostDialDelay>');
    const m = decodeOspMessage(xml);
    const d = (m.components[0] as OspUsageIndication).usageDetails[0]!;
    expect(d.postDialDelays).toEqual([
      { type: "destination", seconds: 1.234 },
      { type: "source", seconds: 1.01 },
    ]);
    const again = encodeOspMessage(m).toString();
    expect(again).toContain('<PostDialDelay type="destination">1.234</PostDialDelay><PostDialDelay type="source">1.01</PostDialDelay>');
    expect(decodeOspMessage(again)).toEqual(m);
  });

  it("leaves postDialDelays out when none was sent", () => {
    expect("postDialDelays" in detailOf(usage("<Amount>1</Amount><Increment>1</Increment><Unit>s</Unit>"))).toBe(false);
  });
});

describe("integer values (Increment, Code, TCCode, MaximumDestinations)", () => {
  it("reads zero-padded codes and unsigned longs up to 2^53 - 1", () => {
    expect(detailOf(usage("<Amount>1</Amount><Increment>007</Increment><Unit>s</Unit>")).increment).toBe(7);
    expect(detailOf(usage(`<Amount>1</Amount><Increment>${Number.MAX_SAFE_INTEGER}</Increment><Unit>s</Unit>`)).increment).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses a larger one with the element, the component and the reason", () => {
    const err = decodeError(usage("<Amount>1</Amount><Increment>18446744073709551615</Increment><Unit>s</Unit>"));
    expect(err).toMatchObject({ code: "bad-value", path: "Message/UsageIndication/UsageDetail/Increment", componentId: "c1" });
    expect(err.reason).toBe(`18446744073709551615 exceeds ${Number.MAX_SAFE_INTEGER}`);
  });

  it("refuses 21 digits and decimals", () => {
    expect(decodeError(usage(`<Amount>1</Amount><Increment>${"1".repeat(21)}</Increment><Unit>s</Unit>`)).code).toBe("bad-value");
    expect(decodeError(usage("<Amount>1</Amount><Increment>1.5</Increment><Unit>s</Unit>")).reason).toContain("not a non-negative integer");
  });
});

describe("decode errors carry their component", () => {
  it("names the component of the second of two components, not the first", () => {
    const xml =
      '<Message messageId="m2"><UsageConfirmation componentId="a"><Status><Code>200</Code></Status></UsageConfirmation>' +
      '<UsageConfirmation componentId="b"><Status><Code>2x</Code></Status></UsageConfirmation></Message>';
    expect(decodeError(xml)).toMatchObject({ messageId: "m2", component: "UsageConfirmation", componentId: "b", path: "Message/UsageConfirmation/Status/Code" });
  });

  it("reads the other components of a Message when one does not decode (readOspMessageComponents)", () => {
    const xml =
      '<Message messageId="m4" random="5"><UsageConfirmation componentId="a"><Status><Code>2x</Code></Status></UsageConfirmation>' +
      '<UsageConfirmation componentId="b"><Status><Code>200</Code></Status></UsageConfirmation></Message>';
    const reading = readOspMessageComponents(xml);
    expect(reading.messageId).toBe("m4");
    expect(reading.random).toBe("5");
    const [first, second] = reading.components;
    expect(first).toMatchObject({ ok: false, kind: "UsageConfirmation", error: { componentId: "a", path: "Message/UsageConfirmation/Status/Code" } });
    expect(second).toEqual({ ok: true, component: { kind: "UsageConfirmation", componentId: "b", status: { code: 200 } } });
    // A document-level error still throws.
    expect(() => readOspMessageComponents('<Message messageId="m5"></Message>')).toThrow(OspDecodeError);
  });

  it("leaves them unset for an error outside any component", () => {
    const err = decodeError('<Message messageId="m3"></Message>');
    expect([err.code, err.component, err.componentId]).toEqual(["no-component", undefined, undefined]);
  });
});
