// Terminal message ladder: one column per role, one row per message, protocols told apart by ANSI colour
// or, with colour off, by a letter in front of the arrow.
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import { ladderRoles } from "./roles.js";

export interface LadderTextOptions {
  /** ANSI colours (true) or a protocol letter per row (false). */
  color: boolean;
  /** Minimum characters per role column; widened so every label fits on its arrow. */
  minColumnWidth?: number;
  /** Column order; defaults to the reference order of the roles that appear. */
  roles?: string[];
}

export const PROTOCOL_LETTER: Readonly<Record<Protocol, string>> = { SIP: "S", COPS: "C", OSP: "O", RADIUS: "R" };
const PROTOCOL_COLOR: Readonly<Record<Protocol, string>> = {
  SIP: "\u001b[32m", // green
  COPS: "\u001b[36m", // cyan
  OSP: "\u001b[35m", // magenta
  RADIUS: "\u001b[33m", // yellow
};
const RESET = "\u001b[0m";
const DIM = "\u001b[2m";
const TIME_WIDTH = 10;

/** Whether a stream should get colour: off for NO_COLOR, a non-TTY or an explicit --no-color. */
export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

export function formatSeconds(tMs: number): string {
  return (tMs / 1000).toFixed(3);
}

export function renderLadderText(records: readonly MessageRecord[], options: LadderTextOptions): string {
  const roles = options.roles ?? ladderRoles(records);
  const index = new Map(roles.map((role, i) => [role, i]));
  let width = Math.max(options.minColumnWidth ?? 12, ...roles.map((r) => r.length + 2));
  for (const r of records) {
    const span = Math.abs((index.get(r.from) ?? 0) - (index.get(r.to) ?? 0)) || 1;
    width = Math.max(width, Math.ceil((r.msg.length + 6) / span));
  }
  const center = (i: number): number => i * width + Math.floor(width / 2);
  const lineLength = roles.length * width;
  const gutter = options.color ? "" : "  ";

  const header = blank(lineLength);
  roles.forEach((role, i) => writeAt(header, center(i) - Math.floor(role.length / 2), role));
  const lifelines = blank(lineLength);
  roles.forEach((_, i) => (lifelines[center(i)] = "|"));

  const out: string[] = [];
  out.push(`${"t (s)".padStart(TIME_WIDTH)} ${gutter}${header.join("").trimEnd()}`);
  for (const r of records) {
    const from = index.get(r.from);
    const to = index.get(r.to);
    const time = formatSeconds(r.t).padStart(TIME_WIDTH);
    const letter = options.color ? "" : `${PROTOCOL_LETTER[r.proto] ?? "?"} `;
    if (from === undefined || to === undefined) continue;
    const row = [...lifelines];
    let lo: number;
    let hi: number;
    let arrow: string;
    if (from === to) {
      lo = center(from);
      hi = Math.min(lineLength, lo + width);
      arrow = `@ ${r.msg}`.slice(0, hi - lo);
    } else {
      lo = Math.min(center(from), center(to)) + 1;
      hi = Math.max(center(from), center(to));
      arrow = drawArrow(hi - lo, r.msg, to > from);
    }
    const before = row.slice(0, lo).join("");
    const after = row.slice(lo + arrow.length).join("");
    const body = options.color ? `${before}${PROTOCOL_COLOR[r.proto] ?? ""}${arrow}${RESET}${after}` : `${before}${arrow}${after}`;
    out.push(`${time} ${letter}${body.trimEnd()}`);
  }
  const legend = (Object.keys(PROTOCOL_LETTER) as Protocol[])
    .filter((p) => records.some((r) => r.proto === p))
    .map((p) => (options.color ? `${PROTOCOL_COLOR[p]}${p}${RESET}` : `${PROTOCOL_LETTER[p]} ${p}`))
    .join("  ");
  if (legend) out.push(options.color ? `${DIM}protocols:${RESET} ${legend}` : `protocols: ${legend}`);
  return out.join("\n") + "\n";
}

/** A shaft of `length` characters with the label in the middle and the head at the receiving end. */
function drawArrow(length: number, label: string, rightwards: boolean): string {
  const shaft = Array.from({ length }, () => "-");
  if (rightwards) shaft[length - 1] = ">";
  else shaft[0] = "<";
  const text = ` ${label} `;
  if (text.length <= length - 2) writeAt(shaft, 1 + Math.floor((length - 2 - text.length) / 2), text);
  return shaft.join("");
}

function blank(length: number): string[] {
  return Array.from({ length }, () => " ");
}

function writeAt(line: string[], at: number, text: string): void {
  for (let k = 0; k < text.length; k++) if (at + k >= 0 && at + k < line.length) line[at + k] = text[k] as string;
}
