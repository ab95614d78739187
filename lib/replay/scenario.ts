// Scenario files (scenarios/*.yaml): parsed with `yaml`, validated against SCENARIO_SCHEMA with ajv, every
// problem reported at its line, column and field; then expanded into the flow runner's RunOptions.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { ScenarioAuth, ScenarioRealms } from "../auth/replay-auth.js";
import type { ReplaySessionLimitsSection } from "../dsc/replay-session-limits.js";
import { sessionLimitsProblems } from "../dsc/session-limits-schema.js";
import type { CallSpec, FaultSpec, RunOptions, TopologyOptions } from "../flow/run-types.js";
import { readInputFile } from "./input-file.js";
import { SCENARIO_SCHEMA } from "./scenario-schema.js";

export interface CallExpectation {
  finalStatus?: number;
  established?: boolean;
  /**
   * "fig5-fig6": setup and teardown match the reference (the teardown mirrored when the callee hangs up); "fig5": setup
   * only; "fig6": teardown only, for a setup FIG. 5 does not draw (a late offer's policy follows the ACK's or PRACK's answer).
   */
  flow?: "fig5-fig6" | "fig5" | "fig6" | "none";
  endedBy?: string;
  cdrs?: number | Array<{ role?: string; durationS?: number; toleranceS?: number }>;
  /** "PROTO FROM>TO MSG" steps that must appear in this order (MSG may be a status code alone). */
  contains?: string[];
  absent?: string[];
  maxSetupLatencyMs?: number;
  /** The Reason header (RFC 3326) of the final response the caller got, e.g. `SIP;cause=403;text="…"`. */
  reason?: string;
}

export interface ScenarioCall extends Partial<Omit<CallSpec, "caller" | "callee">> {
  caller: string;
  callee: string;
  /** Repeat this entry: `{n}` in id, caller and callee becomes 1..count; starts are intervalMs apart. */
  count?: number;
  intervalMs?: number;
  expect?: CallExpectation;
}

export interface ScenarioExpectation {
  noStateLeft?: boolean;
  established?: number;
  failed?: number;
  finalStatuses?: Record<string, number>;
  cdrs?: number;
}

export interface Scenario {
  name: string;
  description?: string;
  seed?: number;
  driver?: "memory" | "net";
  topology?: Partial<TopologyOptions>;
  calls: ScenarioCall[];
  faults?: FaultSpec[];
  expect?: ScenarioExpectation;
  /** Usage quotas of the run: a rules file (relative to the scenario) and the wall-clock instant of time 0. */
  quota?: { rules: string; start?: string };
  /** SIP1 challenges callers, POL1 checks their credentials (docs/auth.md). */
  auth?: ScenarioAuth;
  /** POL1 holds client providers' callers to their rented capacity, accounting twice (docs/auth.md). */
  realms?: ScenarioRealms;
  /** Concurrent-session limits counted by distributed session counters (docs/session-counters.md). */
  sessionLimits?: ReplaySessionLimitsSection;
}

export interface ScenarioProblem {
  line: number;
  column: number;
  /** Field path, e.g. `calls[0].outcome`. */
  field: string;
  message: string;
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ScenarioProblem[],
  ) {
    // Line 0: a problem of the whole file (it cannot be read, it is not this kind of file).
    super(problems.map((p) => `${file}${p.line > 0 ? `:${p.line}:${p.column}` : ""}: ${p.field ? `${p.field}: ` : ""}${p.message}`).join("\n"));
    this.name = "ScenarioError";
  }
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

/** Reads and validates a scenario file; throws InputFileError (unreadable) or ScenarioError (with file:line:column). */
export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readInputFile(path, "utf8"), path);
}

/** Top-level fields that mark the other YAML files of the project, for a clear refusal. */
const OTHER_FILE_KINDS: Array<[field: string, kind: string]> = [
  ["roles", "a deployment file (callgate serve --config reads it)"],
  ["routes", "a clearinghouse routes file (callgate clearinghouse --routes reads it)"],
];

/** Parses and validates scenario text; a YAML file of another kind is refused as not a scenario. */
export function parseScenario(text: string, file = "scenario.yaml"): Scenario {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length === 0) {
    const top: unknown = doc.toJS();
    const mapping = typeof top === "object" && top !== null && !Array.isArray(top);
    const other = mapping ? OTHER_FILE_KINDS.find(([field]) => field in top) : undefined;
    if (other || !mapping || !("calls" in top)) {
      const what = other ? `it is ${other[1]}` : "a scenario is a YAML mapping with name and calls (docs/scenarios.md)";
      throw new ScenarioError(file, [{ line: 0, column: 0, field: "", message: `not a scenario: ${what}` }]);
    }
  }
  const parsed = parseValidatedYaml(text, file, validate);
  const scenario = parsed.data as Scenario;
  const problems = [
    ...(scenario.sessionLimits ? sessionLimitsProblems(scenario.sessionLimits).map(({ path, message }) => ({ ...parsed.at(["sessionLimits", ...path]), field: fieldName(["sessionLimits", ...path]), message })) : []),
    ...scenario.calls.flatMap((call, index) => reinviteProblems(call).map(({ at, message }) => ({ ...parsed.at(["calls", index, ...at]), field: fieldName(["calls", index, ...at]), message }))),
  ];
  if (problems.length > 0) throw new ScenarioError(file, problems);
  return scenario;
}

/** Re-INVITEs need an answered call, and each side's must all fall within the talk time (RFC 3261 §14). */
function reinviteProblems(call: ScenarioCall): Array<{ at: Array<string | number>; message: string }> {
  if (call.reinvites === undefined) return [];
  const outcome = call.outcome ?? CALL_DEFAULTS.outcome;
  if (outcome !== "answer") return [{ at: ["reinvites"], message: `re-INVITEs need an answered call, but outcome is '${outcome}'` }];
  const durationMs = call.durationMs ?? CALL_DEFAULTS.durationMs;
  const out: Array<{ at: Array<string | number>; message: string }> = [];
  for (const side of ["caller", "callee"] as const) {
    let atMs = 0;
    call.reinvites.forEach((r, i) => {
      if (r.by !== side) return;
      atMs += r.afterMs;
      if (atMs >= durationMs) out.push({ at: ["reinvites", i, "afterMs"], message: `the ${side}'s re-INVITE would come ${atMs} ms after the answer, when the call (durationMs ${durationMs}) has ended` });
    });
  }
  return out;
}

/** A YAML document that passed its schema, and where a field of it is (for problems found after the schema). */
export interface ValidatedYaml {
  data: unknown;
  at(path: Array<string | number>): { line: number; column: number };
}

/** Parses YAML and validates it with an ajv schema; throws ScenarioError with every problem at its line, column and field. */
export function parseValidatedYaml(text: string, file: string, validate: ValidateFunction): ValidatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0)
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({ ...position(e.pos[0]), field: "", message: `YAML: ${e.message.split("\n")[0]}` })),
    );
  const data: unknown = doc.toJS();
  if (validate(data)) return { data, at: (path) => position((doc.getIn(path, true) as Node | undefined)?.range?.[0] ?? 0) };
  const problems = (validate.errors ?? [])
    .filter((e) => e.keyword !== "if" && e.keyword !== "oneOf")
    .map((e) => problemAt(doc, e, position));
  const unique = new Map(problems.map((p) => [`${p.line}:${p.column}:${p.field}:${p.message}`, p]));
  throw new ScenarioError(file, [...unique.values()].sort((a, b) => a.line - b.line || a.column - b.column));
}

function problemAt(doc: Document, error: ErrorObject, position: (offset: number) => { line: number; column: number }): ScenarioProblem {
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  let node = (path.length ? doc.getIn(path, true) : doc.contents) as Node | undefined;
  let field = fieldName(path);
  const extra = (error.params as { additionalProperty?: string; missingProperty?: string }).additionalProperty;
  if (extra !== undefined && isMap(node)) {
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === extra);
    if (pair && isScalar(pair.key)) node = pair.key;
    field = fieldName([...path, extra]);
  }
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  if (missing !== undefined) field = fieldName([...path, missing]);
  const offset = node?.range?.[0] ?? 0;
  return { ...position(offset), field, message: describe(error) };
}

function fieldName(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `unknown field '${String(params.additionalProperty)}'`;
    case "required":
      return `missing required field '${String(params.missingProperty)}'`;
    case "enum":
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `must be ${JSON.stringify(params.allowedValue)}`;
    default:
      return error.message ?? error.keyword;
  }
}

/** Substitutes `{n}` (1-based repetition number) in a template. */
function nth(template: string, n: number): string {
  return template.replace(/\{n\}/g, String(n));
}

export interface ExpandedCall {
  spec: CallSpec;
  expect: CallExpectation;
  /** Index of the scenario's `calls` entry this call came from. */
  entry: number;
}

export const CALL_DEFAULTS = { startMs: 0, answerDelayMs: 2000, durationMs: 30000, hangUp: "caller", outcome: "answer" } as const;

/** Every call of the scenario, repetitions expanded, with its expectations. */
export function expandCalls(scenario: Scenario): ExpandedCall[] {
  const out: ExpandedCall[] = [];
  scenario.calls.forEach((entry, index) => {
    const count = entry.count ?? 1;
    for (let n = 1; n <= count; n++) {
      const { count: _count, intervalMs: _interval, expect, id, ...rest } = entry;
      const spec: CallSpec = {
        ...CALL_DEFAULTS,
        ...rest,
        id: id !== undefined ? nth(id, n) : `${scenario.name}-${index + 1}${count > 1 ? `-${n}` : ""}`,
        caller: nth(entry.caller, n),
        callee: nth(entry.callee, n),
        startMs: (entry.startMs ?? 0) + (n - 1) * (entry.intervalMs ?? 0),
      };
      out.push({ spec, expect: expect ?? {}, entry: index });
    }
  });
  return out;
}

export function toRunOptions(scenario: Scenario, overrides: Partial<RunOptions> = {}): RunOptions {
  return {
    driver: scenario.driver ?? "memory",
    topology: scenario.topology ?? {},
    calls: expandCalls(scenario).map((c) => c.spec),
    faults: scenario.faults ?? [],
    seed: scenario.seed ?? 1,
    ...overrides,
  };
}
