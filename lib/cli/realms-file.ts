// A realms file (`callgate lab --realms FILE`): the master's realms and the client providers renting its capacity,
// as the deploy file's `realms` section (lib/auth/realm-config.ts), and where POL1 journals the capacity in use
// (`journal`, relative to the file); each problem at its line.
import { dirname, resolve } from "node:path";
import { Ajv } from "ajv";
import { SERVED_REALMS_SCHEMA, callRealmsProblems, type ServedRealms } from "../auth/realm-config.js";
import { readInputFile } from "../replay/input-file.js";
import { parseValidatedYaml, ScenarioError } from "../replay/scenario.js";

const validate = new Ajv({ allErrors: true, strict: true }).compile(SERVED_REALMS_SCHEMA);

/** Reads and checks a realms file (its journal path made absolute); throws an Error whose message names the file, line, column and field. */
export function loadCallRealmsFile(path: string): ServedRealms {
  const parsed = parseValidatedYaml(readInputFile(path, "utf8"), path, validate);
  const realms = parsed.data as ServedRealms;
  const problems = callRealmsProblems(realms);
  if (problems.length > 0)
    throw new ScenarioError(path, problems.map((p) => ({ ...parsed.at(p.path), field: p.path.map((x, i) => (typeof x === "number" ? `[${x}]` : i === 0 ? x : `.${x}`)).join(""), message: p.message })));
  return realms.journal === undefined ? realms : { ...realms, journal: resolve(dirname(path), realms.journal) };
}
