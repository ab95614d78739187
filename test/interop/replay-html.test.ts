/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The HTML ladder rendered by headless Chromium: arrows between the right lifelines, labels, hover text.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { renderLadderHtml } from "../../lib/replay/html-ladder.js";
import { syntheticCall } from "../lib/replay/synthetic-call.js";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

describe("HTML ladder in headless Chromium", () => {
  let browser: Browser;
  let page: Page;
  const records = syntheticCall({ withExtras: true });
  records.push({ t: 999, proto: "OSP", from: "POL1", to: "CH", msg: "UsageIndication", callId: "x", bytes: Buffer.from("<Message><UsageIndication componentId=\"2\">a < b & c</UsageIndication></Message>") });

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const file = join(mkdtempSync(join(tmpdir(), "callgate-html-")), "ladder.html");
    writeFileSync(file, renderLadderHtml(records, { title: "FIG. 5/6", summary: ["scenario fig5-fig6"] }));
    await page.goto(pathToFileURL(file).href);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("draws a lifeline per role and an arrow per message from the sender's lifeline to the receiver's", async () => {
    const drawn = await page.evaluate(() => {
      const lifeline = new Map<string, number>();
      document.querySelectorAll("g.role").forEach((g) => {
        const box = (g.querySelector("line.lifeline") as SVGLineElement).getBoundingClientRect();
        lifeline.set(g.getAttribute("data-role")!, box.x + box.width / 2);
      });
      const roles = [...lifeline.entries()].sort((a, b) => a[1] - b[1]).map(([r]) => r);
      const arrows = [...document.querySelectorAll("g.msg")].map((g) => {
        const line = g.querySelector("line.arrow") as SVGLineElement;
        const box = line.getBoundingClientRect();
        return {
          from: g.getAttribute("data-from")!,
          to: g.getAttribute("data-to")!,
          x1: line.x1.baseVal.value,
          x2: line.x2.baseVal.value,
          left: box.left,
          right: box.right,
          label: g.querySelector("text.label")!.textContent,
          visible: box.width > 0,
          color: getComputedStyle(line).stroke,
          marker: line.getAttribute("marker-end"),
        };
      });
      const ctm = (document.querySelector("svg") as SVGSVGElement).getScreenCTM()!;
      return { roles, lifeline: Object.fromEntries([...lifeline.entries()].map(([k, v]) => [k, v - ctm.e])), arrows };
    });
    expect(drawn.roles).toEqual(["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"]);
    expect(drawn.arrows).toHaveLength(records.length);
    drawn.arrows.forEach((a, k) => {
      const r = records[k]!;
      expect([a.from, a.to, a.label]).toEqual([r.from, r.to, r.msg]);
      expect(a.visible).toBe(true);
      // the arrow starts on the sender's lifeline and its head ends on the receiver's
      expect(a.x1).toBeCloseTo(drawn.lifeline[r.from]!, 0);
      expect(a.x2).toBeCloseTo(drawn.lifeline[r.to]!, 0);
      expect(a.marker).toBe(`url(#head-${r.proto})`);
    });
    // protocols differ by colour
    const colorOf = (proto: string) => new Set(drawn.arrows.filter((_, k) => records[k]!.proto === proto).map((a) => a.color));
    expect(colorOf("SIP").size).toBe(1);
    expect(colorOf("COPS").size).toBe(1);
    expect([...colorOf("SIP")][0]).not.toBe([...colorOf("COPS")][0]);
    expect([...colorOf("OSP")][0]).not.toBe([...colorOf("COPS")][0]);
  });

  it("shows the full SIP text on hover", async () => {
    const invite = page.locator("g.msg").nth(0);
    await invite.locator("rect.hit").hover({ timeout: 5000 });
    const tip = page.locator("#tip");
    await expect.poll(() => tip.isVisible()).toBe(true);
    const text = await tip.textContent();
    expect(text).toContain("INVITE sip:bob@example.net SIP/2.0");
    expect(text).toContain("Call-ID: call-1@192.0.2.1");
    expect(text).toContain("CSeq: 1 INVITE");
  });

  it("shows COPS as label and hex dump, and OSP XML unescaped, on hover", async () => {
    const copsIndex = records.findIndex((r) => r.proto === "COPS");
    await page.locator("g.msg").nth(copsIndex).locator("rect.hit").hover({ timeout: 5000 });
    const cops = await page.locator("#tip").textContent();
    expect(cops).toContain("COPS SIP1 → POL1: REQ AAA");
    expect(cops).toContain(`0000  ${[...records[copsIndex]!.bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`);
    await page.locator("g.msg").last().locator("rect.hit").hover({ timeout: 5000 });
    const osp = await page.locator("#tip").textContent();
    expect(osp).toContain('<UsageIndication componentId="2">a < b & c</UsageIndication>');
    // the native tooltip carries the same text
    const title = await page.locator("g.msg").last().locator("title").textContent();
    expect(title).toBe(osp);
    await page.mouse.move(2, 2);
    await expect.poll(() => page.locator("#tip").isVisible()).toBe(false);
  });
});
