import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OspDecodeError, formatOspTime, parseOspTime } from "../../../protocols/osp/index.js";
import { readXmlDocument } from "../../../protocols/osp/xml-reader.js";
import { thrownBy } from "../../support/thrown.js";

function refusal(input: Buffer | string): OspDecodeError {
  return thrownBy(OspDecodeError, () => readXmlDocument(input));
}

describe("OSP XML reader: what it reads (XML 1.0 subset)", () => {
  it("reads elements, attributes, text, CDATA, comments and the declaration", () => {
    const el = readXmlDocument(
      "\uFEFF<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<!-- c --><a x=\"1\" y = '2'><b>t<!-- d -->u</b><c><![CDATA[<&>]]></c><d/></a><!-- e -->\n",
    );
    expect(el).toEqual({
      name: "a",
      attributes: { x: "1", y: "2" },
      text: "",
      children: [
        { name: "b", attributes: {}, text: "tu", children: [] },
        { name: "c", attributes: {}, text: "<&>", children: [] },
        { name: "d", attributes: {}, text: "", children: [] },
      ],
    });
  });

  it("decodes the five predefined entities and character references (§4.1, §4.6)", () => {
    const el = readXmlDocument('<a v="&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;&#0000066;">&lt;&#x42;&#67;&#x10FFFF;</a>');
    expect(el.attributes.v).toBe("<>&\"'A\u{1F600}B");
    expect(el.text).toBe("<BC\u{10FFFF}");
  });

  it("normalises line ends (§2.11) and attribute white space (§3.3.3)", () => {
    const el = readXmlDocument('<a v="x\ty\r\nz&#10;&#9;">p\r\nq\rr</a>');
    expect(el.attributes.v).toBe("x y z\n\t");
    expect(el.text).toBe("p\nq\nr");
  });

  it("accepts names with colons, dots, hyphens, digits and non-ASCII name characters", () => {
    expect(readXmlDocument("<ns:a-b.c_1 x:y=\"1\"><\u00e9t\u00e9/></ns:a-b.c_1>").children[0]!.name).toBe("\u00e9t\u00e9");
  });
});

describe("OSP XML reader: what it refuses, with the byte offset", () => {
  const cases: [string, string, number, RegExp][] = [
    ["DOCTYPE", '<?xml version="1.0"?><!DOCTYPE a><a/>', 21, /DOCTYPE/],
    ["ENTITY inside a DOCTYPE", '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 0, /DOCTYPE/],
    ["markup declaration in content", "<a><!ENTITY x \"y\"></a>", 3, /declarations/],
    ["processing instruction", "<a><?pi x?></a>", 3, /processing instructions/],
    ["declaration not first", ' <?xml version="1.0"?><a/>', 1, /processing instructions/],
    ["encoding other than UTF-8", '<?xml version="1.0" encoding="ISO-8859-1"?><a/>', 0, /not UTF-8/],
    ["malformed declaration", "<?xml version=1.0?><a/>", 0, /declaration/],
    ["mismatched end tag", "<a><b></c></a>", 6, /does not match/],
    ["end tag with space after </", "<a></ a>", 3, /does not match/],
    ["unclosed element", "<a><b></b>", 0, /not closed/],
    ["bad element name", "<1a/>", 1, /not an XML name/],
    ["bad attribute name", '<a -x="1"/>', 3, /not an XML name/],
    ["duplicate attribute", '<a x="1" x="2"/>', 8, /twice/],
    ["attribute without quotes", "<a x=1/>", 5, /quoted value/],
    ["attributes without white space between", '<a x="1"y="2"/>', 8, /white space/],
    ["'<' in an attribute value", '<a x="<"/>', 6, /'<'/],
    ["undeclared entity", "<a>&nbsp;</a>", 3, /no predefined entity/],
    ["stray '&'", "<a>a & b</a>", 5, /'&'/],
    ["reference to a non-character", "<a>&#0;</a>", 3, /not an XML character/],
    ["reference to a surrogate", "<a>&#xD800;</a>", 3, /not an XML character/],
    ["control character", "<a>\u0001</a>", 3, /U\+0001/],
    ["U+FFFE", "<a>\uFFFE</a>", 3, /U\+FFFE/],
    ["']]>' in text", "<a>]]></a>", 3, /]]>/],
    ["'--' in a comment", "<a><!-- a -- b --></a>", 10, /--/],
    ["unclosed comment", "<a/><!-- x", 4, /unclosed comment/],
    ["unclosed CDATA", "<a><![CDATA[x</a>", 3, /CDATA/],
    ["text outside the root", "<a/>x", 4, /outside the root/],
    ["two roots", "<a/><b/>", 4, /after the root/],
    ["no root", "  ", 2, /no root/],
    ["reserved name", '<a __proto__="1"/>', 3, /refused/],
    ["reserved element name", "<a><constructor/></a>", 4, /refused/],
    ["byte offset counts UTF-8 bytes", "<a>\u00e9\u00e9</b>", 7, /does not match/],
    ["byte offset counts CR LF as two bytes", "<a>\r\n</b>", 5, /does not match/],
  ];
  for (const [title, input, offset, reason] of cases) {
    it(title, () => {
      const err = refusal(input);
      expect(err.code).toBe("not-xml");
      expect(err.reason).toMatch(reason);
      expect(err.offset).toBe(offset);
      expect(err.reason).toContain(`(byte ${offset})`);
    });
  }

  it("refuses bytes that are not UTF-8 at the first bad byte", () => {
    const err = refusal(Buffer.concat([Buffer.from("<a>\u00e9"), Buffer.from([0xc3, 0x28]), Buffer.from("</a>")]));
    expect(err.offset).toBe(5);
    expect(refusal(Buffer.from([0x3c, 0x61, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x61, 0x3e])).offset).toBe(3); // encoded surrogate
    expect(refusal(Buffer.from([0x3c, 0x61, 0x3e, 0xe0, 0x80, 0x80, 0x3c, 0x2f, 0x61, 0x3e])).offset).toBe(3); // overlong
    expect(refusal(Buffer.from([0x3c, 0x61, 0x3e, 0xf0, 0x9f])).offset).toBe(3); // truncated
  });

  it("refuses every Object.prototype property name as element and attribute name", () => {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      expect(refusal(`<${name}/>`).reason, name).toMatch(/refused/);
      expect(refusal(`<a ${name}="1"/>`).reason, name).toMatch(/refused/);
    }
  });

  it("refuses a lone surrogate in a string", () => {
    expect(refusal("<a>\uD800</a>").offset).toBe(3);
  });

  it("limits nesting to 32 levels below the root, naming the element path", () => {
    const ok = `${"<e>".repeat(33)}${"</e>".repeat(33)}`;
    expect(() => readXmlDocument(ok)).not.toThrow();
    const err = refusal(`${"<e>".repeat(34)}${"</e>".repeat(34)}`);
    expect(err.path).toBe(Array(34).fill("e").join("/"));
    expect(err.reason).toMatch(/nesting/);
  });

  it("refuses documents over 1 MiB", () => {
    expect(refusal(`<a>${"x".repeat(1 << 20)}</a>`).code).toBe("too-large");
  });
});

describe("OSP times", () => {
  it("formatOspTime writes what Date.toISOString writes (seconds without fraction)", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.parse("0001-01-01T00:00:00Z"), max: Date.parse("9999-12-31T23:59:59.999Z") }), (ms) => {
        const iso = new Date(ms).toISOString();
        expect(formatOspTime(ms)).toBe(ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso);
        expect(parseOspTime(formatOspTime(ms), "t")).toBe(ms);
      }),
      { numRuns: 5000 },
    );
  });

  it("parseOspTime refuses impossible dates on the fast path too", () => {
    for (const s of ["2001-02-29T00:00:00Z", "2000-13-01T00:00:00Z", "2000-01-00T00:00:00Z", "2000-01-01T24:00:00Z", "2000-01-01T00:60:00Z", "2000-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "2000-01-01T00:00:0xZ"]) {
      expect(() => parseOspTime(s, "t"), s).toThrow(OspDecodeError);
    }
    expect(parseOspTime("2000-02-29T00:00:00Z", "t")).toBe(Date.UTC(2000, 1, 29));
    expect(parseOspTime("0050-06-01T00:00:00Z", "t")).toBe(Date.parse("0050-06-01T00:00:00Z"));
  });
});
