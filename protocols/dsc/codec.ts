// The DSC wire codec: protobuf Envelopes (schema in dsc.proto, compiled by protobufjs at first use) in frames of a
// 4-byte big-endian length and the Envelope. Decoding checks what the schema cannot: one message kind per
// Envelope, the fields each kind needs, and bounded identifiers and lists.
import { readFileSync } from "node:fs";
import protobuf from "protobufjs";
import { DscDecodeError, DscEncodeError } from "./errors.js";

/** One session: the entities it counts against, the DSC that authorised it, and who established it. */
export interface DscSession {
  id: string;
  entities: string[];
  owner: string;
  server: string;
  port: number;
}

/** An entity's count at its authoritative DSC. */
export interface EntityCount {
  entity: string;
  active: number;
  overSubscribed: number;
}

/** The messages DSCs exchange: Request/Response for an authorisation, Update, Broadcast of counts, Resync after a (re)connection. */
export type DscMessage =
  | { kind: "request"; seq: number; session: DscSession }
  | { kind: "response"; seq: number; granted: boolean; refusedEntity: string; counts: EntityCount[] }
  | { kind: "update"; session: DscSession }
  | { kind: "broadcast"; counts: EntityCount[] }
  | { kind: "termination"; sessionId: string; entities: string[]; owner: string }
  | { kind: "resync"; fresh: boolean; owned: DscSession[]; viewed: EntityCount[]; recovered: DscSession[] };

/** The `kind` of a DscMessage. */
export type DscMessageKind = DscMessage["kind"];

/** One DSC message with its sender's identity: the payload of a frame (protobuf, dsc.proto). */
export interface DscEnvelope {
  /** The sending DSC's identity. */
  from: string;
  message: DscMessage;
}

/** Identifiers (DSC ids, session ids, entities, servers) are at most this many UTF-16 units. */
export const DSC_MAX_ID_LENGTH = 256;
/** Entities one session counts against, at most. */
export const DSC_MAX_ENTITIES = 16;
/** Frame payloads a receiver accepts by default (a resync of many sessions is the largest message). */
export const DSC_DEFAULT_MAX_FRAME = 4 * 1024 * 1024;
/** Octets of a frame's length prefix (big-endian payload length). */
export const DSC_FRAME_HEADER = 4;

let envelopeType: protobuf.Type | undefined;
function envelope(): protobuf.Type {
  // dsc.proto sits next to this module in the source tree and in dist/ (scripts/copy-assets.mjs).
  envelopeType ??= protobuf.parse(readFileSync(new URL("./dsc.proto", import.meta.url), "utf8")).root.lookupType("callgate.dsc.v1.Envelope");
  return envelopeType;
}

function checkId(value: string, what: string, optional = false): void {
  if (typeof value !== "string" || (!optional && value.length === 0)) throw new DscEncodeError(`${what} must be a non-empty string`);
  if (value.length > DSC_MAX_ID_LENGTH) throw new DscEncodeError(`${what} is longer than ${DSC_MAX_ID_LENGTH}`);
}

function checkSession(s: DscSession, what: string): void {
  checkId(s.id, `${what}.id`);
  checkId(s.owner, `${what}.owner`);
  checkId(s.server, `${what}.server`, true);
  if (s.entities.length === 0 || s.entities.length > DSC_MAX_ENTITIES) throw new DscEncodeError(`${what} must name 1..${DSC_MAX_ENTITIES} entities`);
  s.entities.forEach((e, i) => checkId(e, `${what}.entities[${i}]`));
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) throw new DscEncodeError(`${what}.port ${s.port} is not a port`);
}

function checkCount(c: EntityCount, what: string): void {
  checkId(c.entity, `${what}.entity`);
  for (const [k, v] of [["active", c.active], ["overSubscribed", c.overSubscribed]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new DscEncodeError(`${what}.${k} ${v} is not a uint32`);
  }
}

function checkMessage(m: DscMessage): void {
  switch (m.kind) {
    case "request":
    case "update":
      if (m.kind === "request" && (!Number.isInteger(m.seq) || m.seq < 0 || m.seq > 0xffffffff)) throw new DscEncodeError(`seq ${m.seq} is not a uint32`);
      checkSession(m.session, `${m.kind}.session`);
      return;
    case "response":
      if (!Number.isInteger(m.seq) || m.seq < 0 || m.seq > 0xffffffff) throw new DscEncodeError(`seq ${m.seq} is not a uint32`);
      checkId(m.refusedEntity, "response.refusedEntity", true);
      m.counts.forEach((c, i) => checkCount(c, `response.counts[${i}]`));
      return;
    case "broadcast":
      m.counts.forEach((c, i) => checkCount(c, `broadcast.counts[${i}]`));
      return;
    case "termination":
      checkId(m.sessionId, "termination.sessionId");
      checkId(m.owner, "termination.owner");
      if (m.entities.length === 0 || m.entities.length > DSC_MAX_ENTITIES) throw new DscEncodeError(`termination must name 1..${DSC_MAX_ENTITIES} entities`);
      m.entities.forEach((e, i) => checkId(e, `termination.entities[${i}]`));
      return;
    case "resync":
      m.owned.forEach((s, i) => checkSession(s, `resync.owned[${i}]`));
      m.recovered.forEach((s, i) => checkSession(s, `resync.recovered[${i}]`));
      m.viewed.forEach((c, i) => checkCount(c, `resync.viewed[${i}]`));
      return;
  }
}

function wireBody(m: DscMessage): Record<string, unknown> {
  switch (m.kind) {
    case "request":
      return { request: { seq: m.seq, session: m.session } };
    case "response":
      return { response: { seq: m.seq, granted: m.granted, refusedEntity: m.refusedEntity, counts: m.counts } };
    case "update":
      return { update: { session: m.session } };
    case "broadcast":
      return { broadcast: { counts: m.counts } };
    case "termination":
      return { termination: { sessionId: m.sessionId, entities: m.entities, owner: m.owner } };
    case "resync":
      return { resync: { fresh: m.fresh, owned: m.owned, viewed: m.viewed, recovered: m.recovered } };
  }
}

/** The Envelope's protobuf bytes (no frame header). Throws DscEncodeError for a message outside the limits. */
export function encodeDscEnvelope(env: DscEnvelope): Uint8Array {
  checkId(env.from, "from");
  checkMessage(env.message);
  return envelope().encode({ from: env.from, ...wireBody(env.message) }).finish();
}

/** One frame: the 4-byte big-endian length, then the Envelope. */
export function encodeDscFrame(env: DscEnvelope): Buffer {
  const body = encodeDscEnvelope(env);
  const frame = Buffer.allocUnsafe(DSC_FRAME_HEADER + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, DSC_FRAME_HEADER);
  return frame;
}

// ---- decoding ----

type Wire = Record<string, unknown> & { body?: string };

function readId(v: unknown, field: string, optional = false): string {
  if (typeof v !== "string" || (!optional && v.length === 0)) throw new DscDecodeError("missing-field", 0, "absent or empty", field);
  if (v.length > DSC_MAX_ID_LENGTH) throw new DscDecodeError("bad-value", 0, `longer than ${DSC_MAX_ID_LENGTH}`, field);
  return v;
}

function readUint(v: unknown, field: string): number {
  // uint32 fields decode as numbers; an absent one is 0.
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new DscDecodeError("bad-value", 0, `not a uint32: ${String(v)}`, field);
  return v;
}

function readEntities(v: unknown, field: string): string[] {
  const list = Array.isArray(v) ? v : [];
  if (list.length === 0) throw new DscDecodeError("missing-field", 0, "no entities", field);
  if (list.length > DSC_MAX_ENTITIES) throw new DscDecodeError("bad-value", 0, `${list.length} entities, at most ${DSC_MAX_ENTITIES}`, field);
  return list.map((e, i) => readId(e, `${field}[${i}]`));
}

function readSession(v: unknown, field: string): DscSession {
  if (v === null || typeof v !== "object") throw new DscDecodeError("missing-field", 0, "absent", field);
  const s = v as Record<string, unknown>;
  const port = readUint(s.port, `${field}.port`);
  if (port > 65535) throw new DscDecodeError("bad-value", 0, `port ${port} above 65535`, `${field}.port`);
  return {
    id: readId(s.id, `${field}.id`),
    entities: readEntities(s.entities, `${field}.entities`),
    owner: readId(s.owner, `${field}.owner`),
    server: readId(s.server ?? "", `${field}.server`, true),
    port,
  };
}

function readSessions(v: unknown, field: string): DscSession[] {
  return (Array.isArray(v) ? v : []).map((s, i) => readSession(s, `${field}[${i}]`));
}

function readCounts(v: unknown, field: string): EntityCount[] {
  return (Array.isArray(v) ? v : []).map((c: Record<string, unknown>, i) => ({
    entity: readId(c.entity, `${field}[${i}].entity`),
    active: readUint(c.active, `${field}[${i}].active`),
    overSubscribed: readUint(c.overSubscribed, `${field}[${i}].overSubscribed`),
  }));
}

/** An Envelope from its protobuf bytes; throws DscDecodeError (only) for anything but a whole, valid Envelope. */
export function decodeDscEnvelope(bytes: Uint8Array): DscEnvelope {
  let w: Wire;
  try {
    w = envelope().decode(bytes) as unknown as Wire;
  } catch (err) {
    // protobufjs names the read position in its RangeError ("index out of range: 12 + 4 > 14").
    const at = /: (\d+) \+/.exec(err instanceof Error ? err.message : "");
    throw new DscDecodeError("bad-protobuf", at ? Number(at[1]) : 0, err instanceof Error ? err.message : String(err));
  }
  const from = readId(w.from, "from");
  const kind = w.body;
  const b = kind !== undefined ? (w[kind] as Record<string, unknown> | null) : null;
  if (kind === undefined || b === null || b === undefined) throw new DscDecodeError("no-body", 0, "the Envelope carries no message");
  switch (kind) {
    case "request":
      return { from, message: { kind, seq: readUint(b.seq, "request.seq"), session: readSession(b.session, "request.session") } };
    case "response":
      return {
        from,
        message: { kind, seq: readUint(b.seq, "response.seq"), granted: b.granted === true, refusedEntity: readId(b.refusedEntity ?? "", "response.refusedEntity", true), counts: readCounts(b.counts, "response.counts") },
      };
    case "update":
      return { from, message: { kind, session: readSession(b.session, "update.session") } };
    case "broadcast":
      return { from, message: { kind, counts: readCounts(b.counts, "broadcast.counts") } };
    case "termination":
      return { from, message: { kind, sessionId: readId(b.sessionId, "termination.sessionId"), entities: readEntities(b.entities, "termination.entities"), owner: readId(b.owner, "termination.owner") } };
    case "resync":
      return {
        from,
        message: {
          kind,
          fresh: b.fresh === true,
          owned: readSessions(b.owned, "resync.owned"),
          viewed: readCounts(b.viewed, "resync.viewed"),
          recovered: readSessions(b.recovered, "resync.recovered"),
        },
      };
    default:
      throw new DscDecodeError("no-body", 0, `unknown message ${String(kind)}`);
  }
}

/**
 * Splits a byte stream into frame payloads. `push` returns the whole payloads so far; a frame whose length
 * prefix is 0 or above `maxFrame` throws DscDecodeError (the stream cannot be resynchronised: close it).
 * `pending` says whether a frame is partly read (its header or body), for the listener's deadlines.
 */
export class DscFrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  /** Stream offset of `buf[0]`, for error offsets. */
  private consumed = 0;

  constructor(private readonly maxFrame = DSC_DEFAULT_MAX_FRAME) {}

  /** "head" while the length prefix is incomplete, "body" while the payload is, "idle" between frames. */
  get phase(): "idle" | "head" | "body" {
    if (this.buf.length === 0) return "idle";
    return this.buf.length < DSC_FRAME_HEADER ? "head" : "body";
  }

  /** Appends a chunk and returns the payloads of every whole frame now available; throws DscDecodeError on a bad length. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let at = 0;
    while (this.buf.length - at >= DSC_FRAME_HEADER) {
      const len = this.buf.readUInt32BE(at);
      if (len === 0) throw new DscDecodeError("empty-frame", this.consumed + at, "length prefix 0");
      if (len > this.maxFrame) throw new DscDecodeError("frame-too-large", this.consumed + at, `length prefix ${len} above ${this.maxFrame}`);
      if (this.buf.length - at - DSC_FRAME_HEADER < len) break;
      out.push(this.buf.subarray(at + DSC_FRAME_HEADER, at + DSC_FRAME_HEADER + len));
      at += DSC_FRAME_HEADER + len;
    }
    this.consumed += at;
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
    return out;
  }
}
