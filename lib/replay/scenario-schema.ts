// JSON Schema (draft-07) of scenarios/*.yaml; docs/scenarios.md describes each field.
import { CALL_REALMS_PROPERTIES, CALL_REALMS_SCHEMA } from "../auth/realm-config.js";
import { sessionLimitsSchema } from "../dsc/session-limits-schema.js";
import { DENIABLE_ROLES, ROLE_NAMES } from "../flow/role-table.js";

const role = { enum: [...ROLE_NAMES] };
const nonNegative = { type: "number", minimum: 0 };
const ladderStep = { type: "string", pattern: "^(SIP|COPS|OSP|RADIUS) [A-Za-z0-9]+>[A-Za-z0-9]+ .+$" };

const callExpectation = {
  type: "object",
  additionalProperties: false,
  properties: {
    finalStatus: { type: "integer", minimum: 100, maximum: 699 },
    established: { type: "boolean" },
    flow: { enum: ["fig5-fig6", "fig5", "fig6", "none"] },
    endedBy: { type: "string" },
    cdrs: {
      oneOf: [
        { type: "integer", minimum: 0 },
        {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            properties: { role: { type: "string" }, durationS: nonNegative, toleranceS: nonNegative },
          },
        },
      ],
    },
    contains: { type: "array", items: ladderStep },
    absent: { type: "array", items: ladderStep },
    maxSetupLatencyMs: nonNegative,
    reason: { type: "string", minLength: 1 },
  },
};

const messageFault = {
  type: "object",
  additionalProperties: false,
  required: ["kind", "proto", "msg", "nth"],
  properties: {
    kind: { enum: ["drop", "delay", "duplicate"] },
    proto: { enum: ["SIP", "COPS", "OSP"] },
    msg: { type: "string", minLength: 1 },
    from: { type: "string" },
    to: { type: "string" },
    nth: { type: "integer", minimum: 1 },
    delayMs: nonNegative,
  },
};

const digestAlgorithms = { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["SHA-256", "MD5"] } };

/** Caller authentication (docs/auth.md): SIP1's realm, HA1 lines or a credentials file, the algorithms offered. */
const authSection = {
  type: "object",
  additionalProperties: false,
  required: ["realm"],
  properties: {
    realm: { type: "string", pattern: '^[^"\\\\\r\n]+$' },
    credentials: { type: "string", minLength: 1 },
    users: { type: "array", minItems: 1, items: { type: "string", pattern: "^[^:#]+:[^:]+:(MD5|SHA-256):[0-9a-fA-F]+$" } },
    algorithms: digestAlgorithms,
    nonceLifetimeMs: { type: "number", exclusiveMinimum: 0 },
  },
};

/** Realm capacity sharing for calls (docs/auth.md): master realms, client providers, the accounting expected. */
const realmsSection = {
  ...CALL_REALMS_SCHEMA,
  properties: {
    ...CALL_REALMS_PROPERTIES,
    expectAccounting: { type: "object", additionalProperties: { type: "array", items: { type: "string", pattern: "^(Start|Interim-Update|Stop) \\S+$" } } },
  },
};

/**
 * A call's new offers within its dialog, in order (calls[].reinvites of a scenario, calls.reinvites of a deploy
 * file): by which side, when, hold or not, and optionally by UPDATE, with one encoding alone or at a new address.
 */
export const REINVITES_SCHEMA = {
  type: "array",
  minItems: 1,
  items: {
    type: "object",
    additionalProperties: false,
    required: ["by", "afterMs", "hold"],
    properties: {
      by: { enum: ["caller", "callee"] },
      afterMs: { type: "number", exclusiveMinimum: 0 },
      hold: { type: "boolean" },
      method: { enum: ["INVITE", "UPDATE"] },
      codec: { enum: ["PCMU", "PCMA", "G729"] },
      mediaAddress: { type: "string", pattern: "^(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}$" },
    },
  },
} as const;

export const SCENARIO_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://callgate.example.com/scenario.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["name", "calls"],
  properties: {
    name: { type: "string", pattern: "^[a-z0-9][a-z0-9-]*$" },
    description: { type: "string" },
    seed: { type: "integer", minimum: 0 },
    driver: { enum: ["memory", "net"] },
    topology: {
      type: "object",
      additionalProperties: false,
      properties: {
        clearinghouse: { enum: ["osp-http", "in-process", "none"] },
        clearinghouseUnreachable: { enum: ["fail-closed", "fail-open"] },
        signedTokens: { type: "boolean" },
        sipTransport: { enum: ["udp", "tcp"] },
        // a user agent's hop to its proxy over another transport (RFC 5658: that proxy record-routes twice)
        userAgentTransports: {
          type: "object",
          additionalProperties: false,
          minProperties: 1,
          properties: { UAC: { enum: ["udp", "tcp"] }, UAS: { enum: ["udp", "tcp"] } },
        },
      },
    },
    calls: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["caller", "callee"],
        properties: {
          id: { type: "string", minLength: 1 },
          caller: { type: "string", pattern: "^sips?:" },
          callee: { type: "string", pattern: "^sips?:" },
          count: { type: "integer", minimum: 1, maximum: 100000 },
          intervalMs: nonNegative,
          startMs: nonNegative,
          answerDelayMs: nonNegative,
          durationMs: nonNegative,
          hangUp: { enum: ["caller", "callee"] },
          outcome: { enum: ["answer", "busy", "decline", "no-answer", "cancel"] },
          cancelAfterMs: nonNegative,
          noAnswerTimeoutMs: nonNegative,
          reinvites: REINVITES_SCHEMA,
          lateOffer: { type: "boolean" },
          require100rel: { type: "boolean" },
          credentials: {
            type: "object",
            additionalProperties: false,
            required: ["username", "password"],
            properties: { username: { type: "string", minLength: 1 }, password: { type: "string" }, algorithms: digestAlgorithms },
          },
          expect: callExpectation,
        },
      },
    },
    auth: authSection,
    realms: realmsSection,
    quota: {
      type: "object",
      additionalProperties: false,
      required: ["rules"],
      properties: { rules: { type: "string", minLength: 1 }, start: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}" } },
    },
    sessionLimits: sessionLimitsSchema({
      dscs: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1 } },
      policyServers: {
        type: "object",
        additionalProperties: false,
        minProperties: 1,
        properties: { POL1: { type: "string", minLength: 1 }, POL2: { type: "string", minLength: 1 } },
      },
      authority: { type: "object", additionalProperties: { type: "string", minLength: 1 } },
      unreachable: { type: "array", uniqueItems: true, items: { type: "string", minLength: 1 } },
    }),
    faults: {
      type: "array",
      items: {
        type: "object",
        required: ["kind"],
        properties: { kind: { enum: ["drop", "delay", "duplicate", "down", "deny"] } },
        if: { properties: { kind: { enum: ["drop", "delay", "duplicate"] } } },
        then: messageFault,
        else: {
          if: { properties: { kind: { const: "down" } } },
          then: {
            additionalProperties: false,
            required: ["kind", "role", "fromMs", "toMs"],
            properties: { kind: { const: "down" }, role, fromMs: nonNegative, toMs: nonNegative },
          },
          else: {
            additionalProperties: false,
            required: ["kind", "role"],
            properties: { kind: { const: "deny" }, role: { enum: [...DENIABLE_ROLES] }, nth: { type: "integer", minimum: 1 } },
            // a router may refuse one installation of the run (its nth); the others refuse everything
            if: { required: ["nth"] },
            then: { properties: { role: { enum: ["R1", "R2"] } } },
          },
        },
      },
    },
    expect: {
      type: "object",
      additionalProperties: false,
      properties: {
        noStateLeft: { type: "boolean" },
        established: { type: "integer", minimum: 0 },
        failed: { type: "integer", minimum: 0 },
        finalStatuses: { type: "object", patternProperties: { "^[1-6][0-9][0-9]$": { type: "integer", minimum: 0 } }, additionalProperties: false },
        cdrs: { type: "integer", minimum: 0 },
      },
    },
  },
} as const;
