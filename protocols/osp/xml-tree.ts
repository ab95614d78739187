// A small element tree between fast-xml-parser and the OSP schema, plus its serialiser.
import { isUtf8 } from "node:buffer";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { OspDecodeError } from "./errors.js";

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  /** Concatenated character data directly inside the element (entities decoded, trimmed). */
  text: string;
  children: XmlElement[];
}

/** Largest document accepted (bytes); OSP messages are a few kilobytes. */
export const MAX_OSP_DOCUMENT_BYTES = 1 << 20;
const MAX_DEPTH = 32;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: "#cdata",
  commentPropName: false,
  jPath: false, // no path strings per tag: we do not use callbacks, and building them costs time
});

const ENTITY = /&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g;

function decodeEntities(raw: string, path: string): string {
  if (!raw.includes("&")) return raw;
  if (raw.replace(ENTITY, "").includes("&")) throw new OspDecodeError("not-xml", path, "stray '&' in character data");
  const out = raw.replace(ENTITY, (_m, body: string) => {
    switch (body) {
      case "amp": return "&";
      case "lt": return "<";
      case "gt": return ">";
      case "quot": return '"';
      case "apos": return "'";
    }
    const cp = body.startsWith("#x") ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    if (!isXmlChar(cp)) throw new OspDecodeError("not-xml", path, `character reference &${body}; is not an XML character`);
    return String.fromCodePoint(cp);
  });
  return out;
}

function isXmlChar(cp: number): boolean {
  // XML 1.0 §2.2 Char production
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

type ParsedNode = Record<string, unknown>;

function toElement(node: ParsedNode, parentPath: string, depth: number): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ":@");
  if (name === undefined || name === "#text" || name === "#cdata") return undefined;
  const path = parentPath ? `${parentPath}/${name}` : name;
  if (depth > MAX_DEPTH) throw new OspDecodeError("not-xml", path, `nesting deeper than ${MAX_DEPTH}`);
  const rawAttrs = (node[":@"] ?? {}) as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (typeof v !== "string") throw new OspDecodeError("not-xml", path, `attribute ${k} has no value`);
    attributes[k] = decodeEntities(v, `${path}@${k}`);
  }
  const rawChildren = node[name];
  const children: XmlElement[] = [];
  let text = "";
  if (Array.isArray(rawChildren)) {
    for (const c of rawChildren as ParsedNode[]) {
      if (typeof c !== "object" || c === null) continue;
      if ("#text" in c) {
        text += decodeEntities(String(c["#text"]), path);
      } else if ("#cdata" in c) {
        const parts = c["#cdata"];
        if (Array.isArray(parts)) for (const p of parts as ParsedNode[]) if (p && "#text" in p) text += String(p["#text"]);
      } else {
        const child = toElement(c, path, depth + 1);
        if (child) children.push(child);
      }
    }
  }
  return { name, attributes, text: text.trim(), children };
}

/** Parses one XML document into its root element. Throws only OspDecodeError. */
export function parseXmlDocument(input: Buffer | string): XmlElement {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (size > MAX_OSP_DOCUMENT_BYTES) throw new OspDecodeError("too-large", "", `document of ${size} bytes exceeds ${MAX_OSP_DOCUMENT_BYTES}`);
  const text = typeof input === "string" ? input : input.toString("utf8");
  // A literal U+FFFD is valid text; only byte sequences that are not UTF-8 are refused.
  if (typeof input !== "string" && text.includes("\uFFFD") && !isUtf8(input)) throw new OspDecodeError("not-xml", "", "body is not valid UTF-8");
  let verdict: true | { err: { msg: string; line: number; col: number } };
  let parsed: unknown;
  try {
    verdict = XMLValidator.validate(text) as typeof verdict;
    if (verdict !== true) throw new OspDecodeError("not-xml", "", `${verdict.err.msg} (line ${verdict.err.line}, column ${verdict.err.col})`);
    parsed = parser.parse(text);
  } catch (err) {
    if (err instanceof OspDecodeError) throw err;
    throw new OspDecodeError("not-xml", "", `XML parser: ${err instanceof Error ? err.message : String(err)}`);
  }
  const roots: XmlElement[] = [];
  if (Array.isArray(parsed)) {
    for (const n of parsed as ParsedNode[]) {
      if (typeof n !== "object" || n === null) continue;
      if ("#text" in n || "#cdata" in n) throw new OspDecodeError("not-xml", "", "character data outside the root element");
      const el = toElement(n, "", 0);
      if (el) roots.push(el);
    }
  }
  if (roots.length !== 1) throw new OspDecodeError("not-xml", "", `expected one root element, found ${roots.length}`);
  return roots[0] as XmlElement;
}

export function escapeXmlText(value: string): string {
  return value.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

export function escapeXmlAttribute(value: string): string {
  return value.replace(/[&<>"\t\n\r]/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : `&#${c.charCodeAt(0)};`,
  );
}

/** Serialises an element tree compactly (no indentation), as the toolkit does. */
export function serializeXml(el: XmlElement, out: string[] = []): string[] {
  out.push("<", el.name);
  for (const [k, v] of Object.entries(el.attributes)) out.push(" ", k, '="', escapeXmlAttribute(v), '"');
  if (el.children.length === 0 && el.text === "") {
    out.push("/>");
    return out;
  }
  out.push(">");
  if (el.text !== "") out.push(escapeXmlText(el.text));
  for (const c of el.children) serializeXml(c, out);
  out.push("</", el.name, ">");
  return out;
}

export function element(name: string, text = "", attributes: Record<string, string> = {}, children: XmlElement[] = []): XmlElement {
  return { name, attributes, text, children };
}
