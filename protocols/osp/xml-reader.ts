// Strict reader for the XML 1.0 (Fifth Edition) subset OSP uses: the XML declaration, elements, attributes,
// character data, CDATA sections, comments, the five predefined entities and character references.
// Refused: DOCTYPE and other markup declarations (so no ENTITY), processing instructions, encodings other than
// UTF-8, and every well-formedness error. Errors are OspDecodeError("not-xml") with the byte offset.
import { isUtf8 } from "node:buffer";
import { OspDecodeError } from "./errors.js";
import type { XmlElement } from "./xml-element.js";

/** Largest document accepted (bytes); OSP messages are a few kilobytes. */
export const MAX_OSP_DOCUMENT_BYTES = 1 << 20;
/** Deepest element nesting accepted below the root. */
export const MAX_XML_DEPTH = 32;

// §2.2 Char: anything outside it (controls, lone surrogates, U+FFFE/U+FFFF) is an error. Text decoded from
// bytes that are valid UTF-8 holds no lone surrogate, so only strings given as such need the second test.
const NOT_CHAR_BMP = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
const SURROGATE = /[\ud800-\udfff]/;
const NOT_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// §2.3 Name, limited to the Basic Multilingual Plane (as fast-xml-parser's isName), without U+1680 and U+FEFF
// (name characters to XML, white space to JavaScript).
const NAME_START = ":A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u167F\\u1681-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFEFE\\uFF00-\\uFFFD";
// eslint-disable-next-line no-misleading-character-class -- §2.3 NameChar ranges hold combining marks on purpose
const NAME = new RegExp(`^[${NAME_START}][${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040]*$`);
// §2.8 XMLDecl (VersionInfo, EncodingDecl, SDDecl), after §2.11 line-end normalisation.
const XML_DECL =
  /<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\n]*\?>/y;

// Names of Object.prototype's properties are refused for elements and attributes, as fast-xml-parser does,
// so an attribute record can never shadow or replace them.
const RESERVED_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** The attribute names OSP uses, as the (internalised) constants, so storing them costs no string-table lookup. */
function knownAttribute(a: string): string {
  switch (a.length) {
    case 4: return a === "type" ? "type" : a;
    case 6: return a === "random" ? "random" : a;
    case 8: return a === "encoding" ? "encoding" : a === "critical" ? "critical" : a;
    case 9: return a === "messageId" ? "messageId" : a;
    case 11: return a === "componentId" ? "componentId" : a;
    default: return a;
  }
}

function isReserved(name: string): boolean {
  switch (name.charCodeAt(0)) {
    case 0x5f: return RESERVED_NAMES.has(name); // __proto__, __defineGetter__, …
    case 0x63: return name === "constructor";
    case 0x68: return name === "hasOwnProperty";
    case 0x69: return name === "isPrototypeOf";
    case 0x70: return name === "propertyIsEnumerable";
    case 0x74: return name === "toString" || name === "toLocaleString";
    case 0x76: return name === "valueOf";
    default: return false;
  }
}

const LT = 0x3c, GT = 0x3e, AMP = 0x26, SLASH = 0x2f, EQ = 0x3d, QUOT = 0x22, APOS = 0x27, BANG = 0x21, QUESTION = 0x3f;
const SP = 0x20, TAB = 0x09, LF = 0x0a;

/** A syntax error at character index `at` of the (normalised) text; the reader maps it to a byte offset. */
class SyntaxFault {
  constructor(readonly at: number, readonly reason: string) {}
}

function isSpace(c: number): boolean {
  return c === SP || c === LF || c === TAB;
}

/** §2.3 in the ASCII range: 1 = NameStartChar (letters, '_', ':'), 2 = NameChar only (digits, '-', '.'). */
const ASCII_NAME = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_NAME[c] = /[A-Za-z_:]/.test(ch) ? 1 : /[0-9.-]/.test(ch) ? 2 : 0;
}

/** §4.6 predefined entities and §4.1 character references, from `&` at `at`; sets `refEnd`. */
let refEnd = 0;
function readReference(s: string, at: number): string {
  const semi = s.indexOf(";", at + 1);
  if (semi < 0 || semi - at > 40) throw new SyntaxFault(at, "'&' that starts no reference");
  refEnd = semi + 1;
  const body = s.slice(at + 1, semi);
  switch (body) {
    case "amp": return "&";
    case "lt": return "<";
    case "gt": return ">";
    case "quot": return '"';
    case "apos": return "'";
  }
  if (body.charCodeAt(0) !== 0x23) throw new SyntaxFault(at, `reference &${body}; names no predefined entity (no DTD is read)`);
  const hex = body.charCodeAt(1) === 0x78;
  const digits = body.slice(hex ? 2 : 1);
  if (digits.length === 0 || !(hex ? /^[0-9A-Fa-f]+$/ : /^[0-9]+$/).test(digits)) throw new SyntaxFault(at, `malformed character reference &${body};`);
  const cp = parseInt(digits, hex ? 16 : 10);
  const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
  if (!ok) throw new SyntaxFault(at, `character reference &${body}; is not an XML character (§4.1)`);
  return String.fromCodePoint(cp);
}

/**
 * Character data from `from` to `to` with references decoded; `]]>` is not allowed in it (§2.4). `check` is
 * false when the document holds neither '&' nor ']]>' anywhere, so there is nothing to look for.
 */
function charData(s: string, from: number, to: number, check: boolean): string {
  const raw = s.slice(from, to);
  if (!check) return raw;
  const gt = raw.indexOf("]]>");
  if (gt >= 0) throw new SyntaxFault(from + gt, "']]>' in character data");
  const amp = raw.indexOf("&");
  if (amp < 0) return raw;
  let out = "";
  let last = from;
  for (let i = from + amp; i >= 0 && i < to; i = s.indexOf("&", last)) {
    out += s.slice(last, i) + readReference(s, i);
    last = refEnd;
  }
  return out + s.slice(last, to);
}

/** Attribute value between quotes, references decoded and literal whitespace normalised to spaces (§3.3.3). */
function attributeValue(s: string, from: number, to: number): string {
  let plain = true;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === LT) throw new SyntaxFault(i, "'<' in an attribute value");
    if (c === AMP || c === TAB || c === LF) plain = false;
  }
  if (plain) return s.slice(from, to);
  let out = "";
  for (let i = from; i < to; ) {
    const c = s.charCodeAt(i);
    if (c === AMP) {
      out += readReference(s, i);
      i = refEnd;
    } else {
      out += c === TAB || c === LF ? " " : s[i];
      i++;
    }
  }
  return out;
}

class Reader {
  private pos = 0;
  private readonly names: string[] = [];
  private readonly check: boolean;

  constructor(private readonly s: string) {
    this.check = s.includes("&") || s.includes("]]>");
  }

  document(): XmlElement {
    const s = this.s;
    if (s.charCodeAt(0) === 0xfeff) this.pos = 1; // byte order mark (§4.3.3)
    if (s.startsWith('<?xml version="1.0"?>', this.pos)) {
      this.pos += 21; // the declaration the toolkit and this codec write
    } else if (s.startsWith("<?xml", this.pos) && (isSpace(s.charCodeAt(this.pos + 5)) || s.charCodeAt(this.pos + 5) === QUESTION)) {
      XML_DECL.lastIndex = this.pos;
      const m = XML_DECL.exec(s);
      if (!m) throw new SyntaxFault(this.pos, "malformed XML declaration");
      const encoding = m[1] ?? m[2];
      if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") throw new SyntaxFault(this.pos, `encoding '${encoding}' is not UTF-8`);
      this.pos = XML_DECL.lastIndex;
    }
    this.misc();
    if (this.pos >= s.length) throw new SyntaxFault(this.pos, "no root element");
    const root = this.element(0);
    this.misc();
    if (this.pos < s.length) throw new SyntaxFault(this.pos, "markup after the root element");
    return root;
  }

  /** Misc* (§2.8): white space and comments around the root element. */
  private misc(): void {
    const s = this.s;
    let i = this.pos;
    for (;;) {
      while (isSpace(s.charCodeAt(i))) i++;
      if (i >= s.length) break;
      if (s.charCodeAt(i) !== LT) throw new SyntaxFault(i, "character data outside the root element");
      const next = s.charCodeAt(i + 1);
      if (next === BANG) {
        if (s.startsWith("<!--", i)) i = this.comment(i);
        else throw new SyntaxFault(i, s.startsWith("<!DOCTYPE", i) ? "DOCTYPE declarations are refused" : "markup declarations are refused");
      } else if (next === QUESTION) {
        throw new SyntaxFault(i, "processing instructions are refused");
      } else {
        break;
      }
    }
    this.pos = i;
  }

  /** Comment (§2.5) at `at`; returns the index after it. `--` may not occur inside. */
  private comment(at: number): number {
    const dd = this.s.indexOf("--", at + 4);
    if (dd < 0) throw new SyntaxFault(at, "unclosed comment");
    if (this.s.charCodeAt(dd + 2) !== GT) throw new SyntaxFault(dd, "'--' inside a comment");
    return dd + 3;
  }

  /** Name (§2.3) at `at`; returns its end (the index of the first character after it). */
  private nameEnd(at: number): number {
    const s = this.s;
    let i = at;
    let ascii = true;
    const n = s.length;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (ASCII_NAME[c] === 0) break;
      } else {
        ascii = false;
      }
      i++;
    }
    if (i === at) throw new SyntaxFault(at, "name expected");
    if (ascii ? ASCII_NAME[s.charCodeAt(at)] !== 1 : !NAME.test(s.slice(at, i))) {
      throw new SyntaxFault(at, `'${s.slice(at, Math.min(i, at + 40))}' is not an XML name`);
    }
    return i;
  }

  /** element (§3.1) at `this.pos` (a '<' followed by a name). */
  private element(depth: number): XmlElement {
    const s = this.s;
    const start = this.pos;
    let i = start + 1;
    const nameEnd = this.nameEnd(i);
    const name = s.slice(i, nameEnd);
    if (isReserved(name)) throw new SyntaxFault(i, `element name ${name} is refused (a JavaScript object property)`);
    this.names.push(name);
    if (depth > MAX_XML_DEPTH) throw new OspDecodeError("not-xml", this.names.join("/"), `nesting deeper than ${MAX_XML_DEPTH}`);
    i = nameEnd;
    const attributes: Record<string, string> = {};
    let count = 0;
    let empty = false;
    for (;;) {
      const before = i;
      while (isSpace(s.charCodeAt(i))) i++;
      const c = s.charCodeAt(i);
      if (c === GT) {
        i++;
        break;
      }
      if (c === SLASH) {
        if (s.charCodeAt(i + 1) !== GT) throw new SyntaxFault(i, "'/' not followed by '>' in a tag");
        i += 2;
        empty = true;
        break;
      }
      if (i >= s.length) throw new SyntaxFault(start, `unclosed start tag <${name}>`);
      if (i === before) throw new SyntaxFault(i, "white space expected before an attribute");
      const attrEnd = this.nameEnd(i);
      const attr = knownAttribute(s.slice(i, attrEnd));
      if (isReserved(attr)) throw new SyntaxFault(i, `attribute name ${attr} is refused (a JavaScript object property)`);
      i = attrEnd;
      while (isSpace(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) !== EQ) throw new SyntaxFault(i, `'=' expected after attribute ${attr}`);
      i++;
      while (isSpace(s.charCodeAt(i))) i++;
      const q = s.charCodeAt(i);
      if (q !== QUOT && q !== APOS) throw new SyntaxFault(i, `quoted value expected for attribute ${attr}`);
      const close = s.indexOf(q === QUOT ? '"' : "'", i + 1);
      if (close < 0) throw new SyntaxFault(i, `unclosed value of attribute ${attr}`);
      const value = attributeValue(s, i + 1, close);
      // WFC Unique Att Spec (§3.1); no Object.prototype name gets here, so a defined value is an own one
      if (count++ > 0 && attributes[attr] !== undefined) throw new SyntaxFault(before, `attribute ${attr} appears twice`);
      attributes[attr] = value;
      i = close + 1;
    }
    const el: XmlElement = { name, attributes, text: "", children: [] };
    if (empty) {
      this.names.pop();
      this.pos = i;
      return el;
    }
    let text = "";
    for (;;) {
      const lt = s.indexOf("<", i);
      if (lt < 0) throw new SyntaxFault(start, `element <${name}> is not closed`);
      if (lt > i) text += charData(s, i, lt, this.check);
      const next = s.charCodeAt(lt + 1);
      if (next === SLASH) {
        // ETag (§3.1); WFC Element Type Match
        const end = lt + 2 + name.length;
        const after = s.charCodeAt(end);
        if (!(after === GT || isSpace(after)) || s.indexOf(name, lt + 2) !== lt + 2) {
          const other = /^[^ \t\n>]{0,40}/.exec(s.slice(lt + 2, lt + 42))![0];
          throw new SyntaxFault(lt, `end tag </${other}> does not match <${name}>`);
        }
        i = end;
        while (isSpace(s.charCodeAt(i))) i++;
        if (s.charCodeAt(i) !== GT) throw new SyntaxFault(i, `'>' expected to close </${name}>`);
        i++;
        break;
      } else if (next === BANG) {
        if (s.startsWith("<!--", lt)) {
          i = this.comment(lt);
        } else if (s.startsWith("<![CDATA[", lt)) {
          const endCdata = s.indexOf("]]>", lt + 9);
          if (endCdata < 0) throw new SyntaxFault(lt, "unclosed CDATA section");
          text += s.slice(lt + 9, endCdata);
          i = endCdata + 3;
        } else {
          throw new SyntaxFault(lt, "markup declarations are refused");
        }
      } else if (next === QUESTION) {
        throw new SyntaxFault(lt, "processing instructions are refused");
      } else {
        this.pos = lt;
        el.children.push(this.element(depth + 1));
        i = this.pos;
      }
    }
    // String.prototype.trim only when an end could be white space (it also trims Unicode spaces)
    const first = text.charCodeAt(0), last = text.charCodeAt(text.length - 1);
    el.text = first > SP && first < 0x80 && last > SP && last < 0x80 ? text : text.trim();
    this.names.pop();
    this.pos = i;
    return el;
  }
}

/** Index of the first byte that is not part of well-formed UTF-8 (RFC 3629 §4), or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    const c1 = b[i + 1]!;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return i;
    i += n + 1;
  }
  return -1;
}

/** Character index in the normalised text → byte offset in the UTF-8 document as received. */
function byteOffset(original: string, normalised: boolean, at: number): number {
  let index = at;
  if (normalised) {
    // §2.11 turned "\r\n" and "\r" into "\n": walk the original to the same character.
    let j = 0;
    index = 0;
    while (j < at && index < original.length) {
      if (original.charCodeAt(index) === 0x0d && original.charCodeAt(index + 1) === LF) index++;
      index++;
      j++;
    }
  }
  return Buffer.byteLength(original.slice(0, index), "utf8");
}

/** Reads one XML document into its root element. Throws only OspDecodeError. */
export function readXmlDocument(input: Buffer | string): XmlElement {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (size > MAX_OSP_DOCUMENT_BYTES) throw new OspDecodeError("too-large", "", `document of ${size} bytes exceeds ${MAX_OSP_DOCUMENT_BYTES}`);
  const original = typeof input === "string" ? input : input.toString("utf8");
  // A literal U+FFFD is valid text; only byte sequences that are not UTF-8 are refused.
  if (typeof input !== "string" && original.includes("\uFFFD") && !isUtf8(input)) {
    const at = firstInvalidUtf8(input);
    throw new OspDecodeError("not-xml", "", `body is not valid UTF-8 (byte ${at})`, 400, at);
  }
  const normalised = original.includes("\r");
  const text = normalised ? original.replace(/\r\n?/g, "\n") : original; // §2.11 end-of-line handling
  try {
    const bad = NOT_CHAR_BMP.test(text) || (typeof input === "string" && SURROGATE.test(text)) ? NOT_CHAR.exec(text) : null;
    if (bad) {
      const cp = bad[0].codePointAt(0)!;
      throw new SyntaxFault(bad.index, `U+${cp.toString(16).toUpperCase().padStart(4, "0")} is not an XML character (§2.2)`);
    }
    return new Reader(text).document();
  } catch (err) {
    if (err instanceof SyntaxFault) {
      const offset = byteOffset(original, normalised, err.at);
      throw new OspDecodeError("not-xml", "", `${err.reason} (byte ${offset})`, 400, offset);
    }
    throw err;
  }
}
