// One self-contained HTML page with an SVG sequence diagram of a record stream, like Wireshark's flow graph:
// a lifeline per role, an arrow per message coloured by protocol, the full message on hover.
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import { formatSeconds } from "./ladder-text.js";
import { messageText } from "./message-text.js";
import { ladderRoles } from "./roles.js";

export interface HtmlLadderOptions {
  title?: string;
  /** Lines shown above the diagram (scenario, verdicts). */
  summary?: string[];
  roles?: string[];
}

export const HTML_GEOMETRY = { timeColumn: 90, column: 150, header: 56, row: 30 } as const;
export const PROTOCOL_COLORS: Readonly<Record<Protocol, string>> = { SIP: "#2e7d32", COPS: "#1565c0", OSP: "#8e24aa", RADIUS: "#ef6c00" };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** x of a role's lifeline. */
export function lifelineX(columnIndex: number): number {
  return HTML_GEOMETRY.timeColumn + columnIndex * HTML_GEOMETRY.column + HTML_GEOMETRY.column / 2;
}

export function renderLadderHtml(records: readonly MessageRecord[], options: HtmlLadderOptions = {}): string {
  const roles = options.roles ?? ladderRoles(records);
  const column = new Map(roles.map((role, i) => [role, i]));
  const { header, row } = HTML_GEOMETRY;
  const width = lifelineX(roles.length - 1) + HTML_GEOMETRY.column / 2 + 10;
  const height = header + (records.length + 1) * row;
  const protocols = (Object.keys(PROTOCOL_COLORS) as Protocol[]).filter((p) => records.some((r) => r.proto === p));
  const svg: string[] = [];
  svg.push(`<svg xmlns="http://www.w3.org/2000/svg" id="ladder" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  svg.push("<defs>");
  for (const p of protocols)
    svg.push(`<marker id="head-${p}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${PROTOCOL_COLORS[p]}"/></marker>`);
  svg.push("</defs>");
  svg.push(`<text class="time-head" x="${HTML_GEOMETRY.timeColumn - 12}" y="${header - 20}" text-anchor="end">t (s)</text>`);
  roles.forEach((role, i) => {
    const x = lifelineX(i);
    svg.push(
      `<g class="role" data-role="${escapeXml(role)}"><rect x="${x - 45}" y="8" width="90" height="26" rx="4"/>` +
        `<text x="${x}" y="26" text-anchor="middle">${escapeXml(role)}</text>` +
        `<line class="lifeline" x1="${x}" y1="34" x2="${x}" y2="${height - 4}"/></g>`,
    );
  });
  records.forEach((r, k) => {
    const y = header + k * row + row / 2;
    const x1 = lifelineX(column.get(r.from) ?? 0);
    const x2 = lifelineX(column.get(r.to) ?? 0);
    const color = PROTOCOL_COLORS[r.proto] ?? "#444";
    const text = escapeXml(messageText(r));
    const mid = (x1 + x2) / 2;
    const arrow =
      x1 === x2
        ? `<path class="arrow" d="M${x1},${y - 6} h30 v12 h-30" fill="none" stroke="${color}" marker-end="url(#head-${r.proto})"/>`
        : `<line class="arrow" x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="${color}" stroke-width="1.6" marker-end="url(#head-${r.proto})"/>`;
    svg.push(
      `<g class="msg proto-${r.proto}" data-index="${k}" data-proto="${r.proto}" data-from="${escapeXml(r.from)}" data-to="${escapeXml(r.to)}" data-call="${escapeXml(r.callId)}">` +
        `<title>${text}</title>` +
        `<text class="time" x="${HTML_GEOMETRY.timeColumn - 12}" y="${y + 4}" text-anchor="end">${formatSeconds(r.t)}</text>` +
        arrow +
        `<text class="label" x="${x1 === x2 ? x1 + 36 : mid}" y="${y - 5}" text-anchor="${x1 === x2 ? "start" : "middle"}" fill="${color}">${escapeXml(r.msg)}</text>` +
        // on top, so the whole row answers the pointer
        `<rect class="hit" x="${Math.min(x1, x2)}" y="${y - row / 2}" width="${Math.max(Math.abs(x2 - x1), 40)}" height="${row}" fill="transparent"/></g>`,
    );
  });
  svg.push("</svg>");
  const legend = protocols.map((p) => `<span class="key" style="color:${PROTOCOL_COLORS[p]}">&#9632; ${p}</span>`).join(" ");
  const title = escapeXml(options.title ?? "callgate message ladder");
  const summary = (options.summary ?? []).map((line) => `<div>${escapeXml(line)}</div>`).join("");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px}
#summary{font-size:13px;margin-bottom:8px}
.key{margin-right:12px;font-size:13px}
svg{font-family:ui-monospace,monospace;font-size:12px}
.role rect{fill:#f3f3f3;stroke:#888}
.lifeline{stroke:#bbb;stroke-dasharray:4 3}
.time,.time-head{fill:#666}
.msg:hover .label{font-weight:bold}
.msg:hover .arrow{stroke-width:3}
#tip{position:fixed;display:none;max-width:760px;max-height:70vh;overflow:auto;background:#fffff4;border:1px solid #999;
box-shadow:2px 2px 6px rgba(0,0,0,.25);padding:8px;margin:0;font:12px ui-monospace,monospace;white-space:pre-wrap;pointer-events:none}
</style></head>
<body><h1>${title}</h1><div id="summary">${summary}</div><div id="legend">${legend}</div>
${svg.join("\n")}
<pre id="tip"></pre>
<script>
(function(){var tip=document.getElementById("tip");
document.querySelectorAll("g.msg").forEach(function(g){
g.addEventListener("mouseenter",function(){tip.textContent=g.querySelector("title").textContent;tip.style.display="block";});
g.addEventListener("mousemove",function(e){tip.style.left=Math.min(e.clientX+14,window.innerWidth-780)+"px";tip.style.top=(e.clientY+14)+"px";});
g.addEventListener("mouseleave",function(){tip.style.display="none";});});})();
</script></body></html>
`;
}
