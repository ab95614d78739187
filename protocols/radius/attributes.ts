// Typed attribute helpers over the dictionary (RFC 2865 §5).
import type { RadiusAttribute, RadiusPacket } from "./codec.js";
import { attributeDefinition, attributeCode } from "./dictionary.js";
import { RadiusEncodeError } from "./errors.js";

/** Build an attribute by dictionary name; an enumerated integer may be given by its value name. */
export function radiusAttribute(name: string, value: string | number | Buffer): RadiusAttribute {
  const type = attributeCode(name);
  const d = attributeDefinition(type)!;
  const wrong = (): never => {
    throw new RadiusEncodeError(`${name} (${d.type}) cannot take ${typeof value}`, type);
  };
  switch (d.type) {
    case "text":
      return typeof value === "string" ? { type, kind: "text", value } : wrong();
    case "ipaddr":
      return typeof value === "string" ? { type, kind: "ipaddr", value } : wrong();
    case "integer":
    case "date": {
      if (typeof value === "number") return { type, kind: d.type, value };
      const named = typeof value === "string" ? d.values?.[value] : undefined;
      return named !== undefined ? { type, kind: d.type, value: named } : wrong();
    }
    case "string":
    case "octets":
    case "password":
      if (typeof value === "string") return { type, kind: d.type, value: Buffer.from(value, "utf8") };
      return Buffer.isBuffer(value) ? { type, kind: d.type, value } : wrong();
    case "vsa":
      return wrong();
  }
}

/** First attribute of a type (by code or dictionary name). */
export function findAttribute(packet: Pick<RadiusPacket, "attributes">, type: number | string): RadiusAttribute | undefined {
  const code = typeof type === "number" ? type : attributeCode(type);
  return packet.attributes.find((a) => a.type === code);
}

/** Value of the first attribute of a type, as its typed value (Vendor-Specific: its data). */
export function attributeValue(packet: Pick<RadiusPacket, "attributes">, type: number | string): string | number | Buffer | undefined {
  const a = findAttribute(packet, type);
  if (!a) return undefined;
  return a.kind === "vsa" ? a.data : a.value;
}
