// The element tree between the XML reader and the OSP schema, and XML escaping for the encoder.
import type { XmlElement } from "./xml-element.js";
import { MAX_OSP_DOCUMENT_BYTES, readXmlDocument } from "./xml-reader.js";

export { MAX_OSP_DOCUMENT_BYTES };

export type { XmlElement } from "./xml-element.js";

/** Parses one XML document into its root element. Throws only OspDecodeError. */
export function parseXmlDocument(input: Buffer | string): XmlElement {
  return readXmlDocument(input);
}

const TEXT_SPECIAL = /[&<>\r]/;
const TEXT_SPECIAL_ALL = /[&<>\r]/g;
const ATTRIBUTE_SPECIAL = /[&<>"\t\n\r]/;
const ATTRIBUTE_SPECIAL_ALL = /[&<>"\t\n\r]/g;

function escapeChar(c: string): string {
  return c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : `&#${c.charCodeAt(0)};`;
}

/** Character data: `&`, `<`, `>` as entities; CR as a reference, or §2.11 would turn it into LF. */
export function escapeXmlText(value: string): string {
  return TEXT_SPECIAL.test(value) ? value.replace(TEXT_SPECIAL_ALL, escapeChar) : value;
}

/** Attribute value in double quotes; TAB, LF, CR as references, or §3.3.3 would turn them into spaces. */
export function escapeXmlAttribute(value: string): string {
  return ATTRIBUTE_SPECIAL.test(value) ? value.replace(ATTRIBUTE_SPECIAL_ALL, escapeChar) : value;
}

/** Serialises an element tree compactly (no indentation), as the toolkit does. */
export function serializeXml(el: XmlElement): string {
  let out = `<${el.name}`;
  for (const k of Object.keys(el.attributes)) out += ` ${k}="${escapeXmlAttribute(el.attributes[k]!)}"`;
  if (el.children.length === 0 && el.text === "") return `${out}/>`;
  out += ">";
  if (el.text !== "") out += escapeXmlText(el.text);
  for (const c of el.children) out += serializeXml(c);
  return `${out}</${el.name}>`;
}

export function element(name: string, text = "", attributes: Record<string, string> = {}, children: XmlElement[] = []): XmlElement {
  return { name, attributes, text, children };
}
