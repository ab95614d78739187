// The oracle for the OSP XML reader: fast-xml-parser (validator, then parser) as the codec used it before,
// plus the well-formedness checks fast-xml-parser leaves out, written as plain regular expressions from the
// XML 1.0 productions. Differential tests compare protocols/osp/xml-reader.ts with it.
import { isUtf8 } from "node:buffer";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { XmlElement } from "../../../protocols/osp/xml-tree.js";

const MAX_BYTES = 1 << 20;
const MAX_DEPTH = 32;
const NAME_START = ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
// eslint-disable-next-line no-misleading-character-class -- §2.3 NameChar ranges hold combining marks and U+200C/D on purpose
const NAME = new RegExp(`^[${NAME_START}][${NAME_START}.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040-]*$`);
// §3.1 STag / EmptyElemTag shape (the names are checked against NAME on their own)
const START_TAG = /^<[^ \t\n/>="']+(?:[ \t\n]+[^ \t\n/>="']+[ \t\n]*=[ \t\n]*(?:"[^"]*"|'[^']*'))*[ \t\n]*\/?>$/;
const RESERVED_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

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
});

export class OracleRefusal extends Error {}

const refuse = (why: string): never => {
  throw new OracleRefusal(why);
};

// §2.2 Char
const NOT_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// §2.8 XMLDecl; S is XML white space only (JavaScript's \s also matches U+00A0 and others)
const S = "[ \\t\\n]+";
const EQ = "[ \\t\\n]*=[ \\t\\n]*";
const DECL = new RegExp(
  `^<\\?xml${S}version${EQ}("1\\.[0-9]+"|'1\\.[0-9]+')(${S}encoding${EQ}("[A-Za-z][\\w.-]*"|'[A-Za-z][\\w.-]*'))?(${S}standalone${EQ}("(yes|no)"|'(yes|no)'))?[ \\t\\n]*\\?>`,
);
// Markup tokens: CDATA sections, comments, tags (quoted values may hold '>'), character data.
const TOKEN = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<(?:"[^"]*"|'[^']*'|[^'"<>])*>|[^<]+/y;
const REFERENCE = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;

function decodeReferences(raw: string): string {
  if (!raw.includes("&")) return raw;
  if (raw.replace(REFERENCE, "").includes("&")) refuse("stray '&'");
  return raw.replace(REFERENCE, (_m, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[name]!;
    const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
    if (!(cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff))) {
      refuse("reference to a non-character");
    }
    return String.fromCodePoint(cp);
  });
}

/** The checks fast-xml-parser does not make (§2.2 Char, §2.4 `]]>`, §2.5 comments, §2.6 PIs, §2.8 prolog, §3.1 `<` in values). */
function strictChecks(text: string): void {
  const bad = NOT_CHAR.exec(text);
  if (bad) refuse("not a Char");
  let rest = text;
  if (/^<\?xml[\s?]/.test(rest)) {
    const m = DECL.exec(rest);
    if (!m) refuse("bad declaration");
    const enc = m![3]?.slice(1, -1);
    if (enc !== undefined && enc.toLowerCase() !== "utf-8") refuse("not UTF-8");
    rest = rest.slice(m![0].length);
  }
  TOKEN.lastIndex = 0;
  let depth = 0;
  while (TOKEN.lastIndex < rest.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(rest);
    if (!m) refuse(`unmatched markup at ${at}`);
    const t = m![0];
    if (t.startsWith("<![CDATA[")) {
      if (depth === 0) refuse("CDATA outside the root");
      continue;
    }
    if (t.startsWith("<!--")) {
      const body = t.slice(4, -3);
      if (body.includes("--") || body.endsWith("-")) refuse("'--' in a comment");
      continue;
    }
    if (t.startsWith("<?") || t.startsWith("<!")) refuse("PI or declaration");
    if (t.startsWith("<") && (t.startsWith("</") ? !/^<\/[^ \t\n/>]+[ \t\n]*>$/.test(t) : !START_TAG.test(t))) refuse("bad tag shape"); // §3.1 STag, ETag
    if (t.startsWith("<")) {
      // §2.3 Name right after '<' or '</' (fast-xml-parser trims JavaScript white space such as U+00A0 first);
      // names of Object.prototype properties are refused (fast-xml-parser throws on some and renames others).
      // Names with characters JavaScript counts as white space (U+1680, U+FEFF) are refused: fast-xml-parser splits at them.
      const unquoted = t.replace(/"[^"]*"|'[^']*'/g, '""');
      const names = [/^<\/?([^ \t\n/>]*)/.exec(unquoted)![1]!, ...[...unquoted.matchAll(/[ \t\n]([^ \t\n="']+)[ \t\n]*=/g)].map((a) => a[1]!)];
      if (names.some((n) => !NAME.test(n) || /\s/.test(n) || RESERVED_NAMES.has(n))) refuse("bad name");
      for (const v of t.matchAll(/"([^"]*)"|'([^']*)'/g)) if ((v[1] ?? v[2])!.includes("<")) refuse("'<' in an attribute value");
      if (t.startsWith("</")) depth--;
      else if (!t.endsWith("/>")) depth++;
      continue;
    }
    if (t.includes("]]>")) refuse("']]>' in character data");
    if (depth === 0 && !/^[ \t\n]*$/.test(t)) refuse("character data outside the root");
  }
}

type ParsedNode = Record<string, unknown>;

function toElement(node: ParsedNode, depth: number): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ":@");
  if (name === undefined || name === "#text" || name === "#cdata") return undefined;
  if (depth > MAX_DEPTH) refuse("too deep");
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries((node[":@"] ?? {}) as Record<string, unknown>)) {
    if (typeof v !== "string") refuse("attribute without value");
    // §3.3.3: literal white space in a value becomes a space; references are decoded after.
    attributes[k] = decodeReferences((v as string).replace(/[\t\n]/g, " "));
  }
  const children: XmlElement[] = [];
  let text = "";
  for (const c of (node[name] ?? []) as ParsedNode[]) {
    if ("#text" in c) text += decodeReferences(String(c["#text"]));
    else if ("#cdata" in c) for (const p of c["#cdata"] as ParsedNode[]) text += String(p["#text"]);
    else {
      const child = toElement(c, depth + 1);
      if (child) children.push(child);
    }
  }
  return { name, attributes, text: text.trim(), children };
}

/** The root element as fast-xml-parser plus the strict checks read it; throws OracleRefusal. */
export function oracleRead(input: Buffer | string): XmlElement {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (size > MAX_BYTES) refuse("too large");
  if (typeof input !== "string" && !isUtf8(input)) refuse("not UTF-8");
  let text = typeof input === "string" ? input : input.toString("utf8");
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  text = text.replace(/\r\n?/g, "\n"); // §2.11
  strictChecks(text);
  let parsed: unknown;
  try {
    if (XMLValidator.validate(text) !== true) refuse("validator");
    parsed = parser.parse(text);
  } catch (err) {
    if (err instanceof OracleRefusal) throw err;
    refuse(`parser: ${String(err)}`);
  }
  const roots: XmlElement[] = [];
  for (const n of parsed as ParsedNode[]) {
    if ("#text" in n || "#cdata" in n) refuse("text outside the root");
    const el = toElement(n, 0);
    if (el) roots.push(el);
  }
  if (roots.length !== 1) refuse("not one root");
  return roots[0]!;
}
