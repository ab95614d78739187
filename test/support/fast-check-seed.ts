// Property tests: random seeds on developers' machines find new counterexamples; CI runs one fixed seed
// (FC_SEED overrides either) so a run can be repeated exactly from its log.
import fc from "fast-check";

const fromEnv = process.env.FC_SEED;
const seed = fromEnv !== undefined ? Number(fromEnv) : process.env.CI ? 20261122 : undefined;
if (seed !== undefined && Number.isFinite(seed)) fc.configureGlobal({ seed });
