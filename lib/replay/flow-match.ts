// Matches a recorded ladder against a reference flow with the rules of ../shared/reference/wo0135294-flows.yaml
// (the same rules as ../shared/tools/check-ladder.mjs; a test runs both on the same ladders): every step
// exactly once, after all steps of its `after` list, and in the setup flow each role sends its steps in order.
import type { Protocol } from "../drivers/message-record.js";
import { REFERENCE_FLOWS, type FlowName, type FlowStep } from "./reference-flows.js";

export interface LadderEntry {
  proto: Protocol | string;
  from: string;
  to: string;
  msg: string;
  t?: number;
}

export interface FlowProblem {
  kind: "missing" | "out-of-order" | "repeated" | "role-order" | "osp-without-clearinghouse";
  step?: number;
  /** Index in the ladder of the message the problem is about (the first one that diverges), if any. */
  ladderIndex?: number;
  text: string;
}

export interface FlowMatch {
  flow: FlowName;
  ok: boolean;
  problems: FlowProblem[];
  /** Ladder index assigned to each matched step. */
  positions: Map<number, number>;
  /** Messages not counted by the flow (100 Trying, keep-alives, ...). */
  extraMessages: number;
  /** The problem at the earliest point of the ladder: the first diverging message. */
  firstDivergence?: FlowProblem;
}

export interface FlowMatchOptions {
  noClearinghouse?: boolean;
}

export function stepKey(m: { proto: string; from: string; to: string; msg: string }): string {
  return `${m.proto}|${m.from}|${m.to}|${m.msg}`;
}

export function flowSteps(flow: FlowName, options: FlowMatchOptions = {}): FlowStep[] {
  const steps = [...REFERENCE_FLOWS[flow]];
  return options.noClearinghouse ? steps.filter((s) => s.proto !== "OSP") : steps;
}

export function matchFlow(ladder: readonly LadderEntry[], flow: FlowName, options: FlowMatchOptions = {}): FlowMatch {
  const steps = flowSteps(flow, options);
  const problems: FlowProblem[] = [];
  const hitsByStep = new Map<number, number[]>();
  for (const s of steps) {
    const key = stepKey(s);
    const hits: number[] = [];
    ladder.forEach((m, i) => {
      if (stepKey(m) === key) hits.push(i);
    });
    if (hits.length === 0) problems.push({ kind: "missing", step: s.step, text: `step ${s.step} missing: ${key}` });
    else hitsByStep.set(s.step, hits);
  }
  const positions = new Map<number, number>();
  for (const s of steps) {
    const hits = hitsByStep.get(s.step);
    if (!hits) continue;
    const floor = Math.max(-1, ...s.after.filter((a) => positions.has(a)).map((a) => positions.get(a) as number));
    const used = new Set(positions.values());
    const i = hits.find((h) => h > floor && !used.has(h));
    if (i === undefined)
      problems.push({ kind: "out-of-order", step: s.step, ladderIndex: hits[0], text: `step ${s.step} (${stepKey(s)}) does not come after steps ${s.after.join(",")}` });
    else positions.set(s.step, i);
    if (hits.length > 1)
      problems.push({ kind: "repeated", step: s.step, ladderIndex: hits[1], text: `step ${s.step} (${stepKey(s)}) appears ${hits.length} times` });
  }
  if (flow === "setup") {
    const byRole = new Map<string, FlowStep[]>();
    for (const s of steps) {
      if (!positions.has(s.step)) continue;
      const list = byRole.get(s.from) ?? [];
      list.push(s);
      byRole.set(s.from, list);
    }
    for (const [role, list] of byRole)
      for (let k = 1; k < list.length; k++) {
        const step = list[k] as FlowStep;
        const previous = list[k - 1] as FlowStep;
        if ((positions.get(step.step) as number) < (positions.get(previous.step) as number))
          problems.push({ kind: "role-order", step: step.step, ladderIndex: positions.get(step.step), text: `${role} sends step ${step.step} before step ${previous.step}` });
      }
  }
  if (options.noClearinghouse)
    ladder.forEach((m, i) => {
      if (m.proto === "OSP") problems.push({ kind: "osp-without-clearinghouse", ladderIndex: i, text: `OSP message on the wire without a clearinghouse: ${stepKey(m)}` });
    });
  const counted = new Set(steps.map(stepKey));
  const extraMessages = ladder.filter((m) => !counted.has(stepKey(m))).length;
  return { flow, ok: problems.length === 0, problems, positions, extraMessages, firstDivergence: earliest(problems, steps, positions, ladder.length) };
}

/** The problem that shows first in the ladder; a missing step is placed where it was due (after its causes). */
function earliest(problems: FlowProblem[], steps: FlowStep[], positions: Map<number, number>, ladderLength: number): FlowProblem | undefined {
  const place = (p: FlowProblem): number => {
    if (p.ladderIndex !== undefined) return p.ladderIndex;
    const step = steps.find((s) => s.step === p.step);
    if (!step) return ladderLength;
    return Math.max(0, ...step.after.map((a) => (positions.get(a) ?? -1) + 1));
  };
  let best: FlowProblem | undefined;
  for (const p of problems) if (!best || place(p) < place(best)) best = p;
  if (best && best.ladderIndex === undefined) return { ...best, ladderIndex: Math.min(place(best), ladderLength) };
  return best;
}
