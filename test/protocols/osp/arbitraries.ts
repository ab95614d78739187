// fast-check generators of valid OSP models (strings trimmed, XML characters only, times in whole ms).
import fc from "fast-check";
import type { OspComponent, OspExtensionElement, OspMessage, OspTokenInfo } from "../../../protocols/osp/index.js";

const XML_UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/;
export const safeText = fc
  .oneof(fc.string({ maxLength: 24 }), fc.string({ unit: "grapheme", maxLength: 8 }))
  .map((s) => s.trim())
  .filter((s) => !XML_UNSAFE.test(s) && s === s.trim());
const attrText = fc.string({ maxLength: 16 }).filter((s) => !XML_UNSAFE.test(s));
const digits = fc.stringMatching(/^[0-9]{1,15}$/);
const time = fc.oneof(
  fc.integer({ min: Date.UTC(1900, 0, 1) / 1000, max: Date.UTC(2199, 0, 1) / 1000 }).map((s) => s * 1000),
  fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2199, 0, 1) }),
);
const bytes = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a));
const count = fc.integer({ min: 0, max: 999_999_999 });
const amount = fc.oneof(count, fc.integer({ min: 0, max: 99_999_999 }).map((n) => n / 100));
const typed = fc.record({ type: fc.constantFrom("e164", "url", "transport", "subscriber", "h323"), value: safeText });
const typedList = fc.array(typed, { maxLength: 3 });
const status = fc.record({ code: fc.integer({ min: 100, max: 999 }), description: safeText }, { requiredKeys: ["code"] });
const service = fc.record({ serviceType: safeText }, { requiredKeys: [] });
// PostDialDelay seconds as the toolkit writes them ("%.4f"), with and without the side that measured them
const postDialDelay = fc.record(
  { type: fc.constantFrom("source", "destination"), seconds: fc.integer({ min: 0, max: 99_999_999 }).map((n) => n / 10_000) },
  { requiredKeys: ["seconds"] },
);
const usageDetail = fc.record(
  {
    service, amount, increment: count, unit: fc.constantFrom("s", "ms", "packet", "octet"),
    startTime: time, endTime: time, alertTime: time, connectTime: time, postDialDelays: fc.array(postDialDelay, { minLength: 1, maxLength: 2 }), releaseSource: safeText,
  },
  { requiredKeys: ["amount", "increment", "unit"] },
);
const extensionName = fc.stringMatching(/^Ext[A-Za-z0-9]{0,8}$/);
const extension: fc.Arbitrary<OspExtensionElement> = fc.record({
  name: extensionName,
  attributes: fc.record({ critical: fc.constant("false"), note: attrText }, { requiredKeys: ["critical"] }),
  text: safeText,
  children: fc.array(fc.record({ name: extensionName, attributes: fc.constant({}), text: safeText, children: fc.constant([]) }), { maxLength: 2 }),
});
const extensions = fc.array(extension, { minLength: 1, maxLength: 2 });

const destination = fc.record(
  {
    validAfter: time,
    validUntil: time,
    usageDetail,
    transactionId: digits,
    callId: bytes,
    destinationInfo: typedList,
    destinationSignalAddress: safeText,
    tokens: fc.array(bytes, { maxLength: 2 }),
    destinationAlternates: typedList,
    extensions,
  },
  { requiredKeys: ["destinationInfo", "tokens", "destinationAlternates"] },
);

const common = { componentId: attrText, timestamp: time, extensions };
const req = (k: string[]) => ({ requiredKeys: ["kind", ...k] as never[] });

export const componentArb: fc.Arbitrary<OspComponent> = fc.oneof(
  fc.record({ kind: fc.constant("AuthorisationRequest" as const), ...common, callIds: fc.array(bytes, { maxLength: 2 }), sourceInfo: typedList, deviceInfo: typedList, sourceAlternates: typedList, destinationInfo: typedList, destinationAlternates: typedList, service, maximumDestinations: count, customerId: safeText, deviceId: safeText }, req(["callIds", "sourceInfo", "deviceInfo", "sourceAlternates", "destinationInfo", "destinationAlternates"])),
  fc.record({ kind: fc.constant("AuthorisationResponse" as const), ...common, status, transactionId: digits, destinations: fc.array(destination, { maxLength: 3 }) }, req(["status", "destinations"])),
  fc.record({ kind: fc.constant("AuthorisationIndication" as const), ...common, role: safeText, transactionId: digits, callId: bytes, sourceInfo: typedList, deviceInfo: typedList, sourceAlternates: typedList, destinationInfo: typedList, destinationAlternates: typedList, tokens: fc.array(bytes, { maxLength: 2 }), validAfter: time, validUntil: time, customerId: safeText, deviceId: safeText }, req(["sourceInfo", "deviceInfo", "sourceAlternates", "destinationInfo", "destinationAlternates", "tokens"])),
  fc.record({ kind: fc.constant("AuthorisationConfirmation" as const), ...common, status, validAfter: time, validUntil: time }, req(["status"])),
  fc.record({ kind: fc.constant("ReauthorisationRequest" as const), ...common, role: safeText, transactionId: digits, callId: bytes, sourceInfo: typedList, sourceAlternates: typedList, destinationInfo: typedList, destinationAlternates: typedList, tokens: fc.array(bytes, { maxLength: 2 }), usageDetail, customerId: safeText, deviceId: safeText }, req(["sourceInfo", "sourceAlternates", "destinationInfo", "destinationAlternates", "tokens"])),
  fc.record({ kind: fc.constant("ReauthorisationResponse" as const), ...common, status, transactionId: digits, destinations: fc.array(destination, { maxLength: 2 }) }, req(["status", "destinations"])),
  fc.record({ kind: fc.constant("UsageIndication" as const), ...common, role: fc.constantFrom("source", "destination", "other"), transactionId: digits, callId: bytes, sourceInfo: typedList, deviceInfo: typedList, sourceAlternates: typedList, destinationInfo: typedList, destinationAlternates: typedList, destinationSignalAddress: safeText, usageDetails: fc.array(usageDetail, { maxLength: 2 }), terminationCause: fc.record({ type: attrText, code: count, description: safeText }, { requiredKeys: ["code"] }), startTime: time, endTime: time, customerId: safeText, deviceId: safeText }, req(["sourceInfo", "deviceInfo", "sourceAlternates", "destinationInfo", "destinationAlternates", "usageDetails"])),
  fc.record({ kind: fc.constant("UsageConfirmation" as const), ...common, status }, req(["status"])),
  fc.record({ kind: fc.constant("CapabilitiesIndication" as const), ...common, deviceInfo: typedList, sourceInfo: typedList, sourceAlternates: typedList, almostOutOfResources: fc.boolean() }, req(["deviceInfo", "sourceInfo", "sourceAlternates"])),
  fc.record({ kind: fc.constant("CapabilitiesConfirmation" as const), ...common, status }, req(["status"])),
  fc.record({ kind: fc.constant("PricingIndication" as const), ...common, sourceInfo: typedList, destinationInfo: typedList, currency: safeText, amount, increment: count, unit: safeText, service, validAfter: time, validUntil: time }, req(["sourceInfo", "destinationInfo"])),
  fc.record({ kind: fc.constant("PricingConfirmation" as const), ...common, status }, req(["status"])),
) as fc.Arbitrary<OspComponent>;

export const messageArb: fc.Arbitrary<OspMessage> = fc.record(
  { messageId: attrText, random: attrText, components: fc.array(componentArb, { minLength: 1, maxLength: 3 }) },
  { requiredKeys: ["messageId", "components"] },
);

export const tokenInfoArb: fc.Arbitrary<OspTokenInfo> = fc.record(
  { sourceInfo: typedList, destinationInfo: typedList, destinationAlternates: fc.array(typed, { minLength: 1, maxLength: 2 }), callId: bytes, validAfter: time, validUntil: time, transactionId: safeText, usageDetail, extensions },
  { requiredKeys: ["sourceInfo", "destinationInfo", "callId", "validAfter", "validUntil", "transactionId"] },
);
