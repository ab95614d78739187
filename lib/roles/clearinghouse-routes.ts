// The clearinghouse's routing table: called-number prefix → ordered destinations, per-source rules, time limit.
import { parse as parseYaml } from "yaml";

/** One destination of a route, tried in the route's order. */
export interface ClearinghouseDestination {
  /** Signalling address of the terminating device, e.g. "[192.0.2.20]:5060". */
  address: string;
  /** Number to send there instead of the called number (optional). */
  number?: string;
}

/** A route of the clearinghouse: called-number prefix, destinations, optional time limit and allowed sources. */
export interface ClearinghouseRoute {
  /** Called-number prefix this route serves ("" matches every number). */
  prefix: string;
  /** Ordered destinations; the AuthorisationResponse offers them in this order, one token each. */
  destinations: ClearinghouseDestination[];
  /** Longest call allowed on this route in seconds, sent as each destination's UsageDetail Amount. */
  timeLimitSeconds?: number;
  /**
   * Sources allowed to use this route: calling-number prefixes, source transport addresses or peer
   * addresses. Absent = everyone.
   */
  allowedSources?: string[];
}

export interface RoutesFile {
  routes: ClearinghouseRoute[];
  tokenLifetimeSeconds?: number;
}

export interface RouteQuery {
  calledNumber: string;
  callingNumber?: string;
  sourceAddress?: string;
  peer?: string;
}

export type RouteDecision =
  | { ok: true; route: ClearinghouseRoute }
  | { ok: false; reason: "no-route" | "source-not-allowed" };

function sourceAllowed(route: ClearinghouseRoute, q: RouteQuery): boolean {
  if (!route.allowedSources) return true;
  return route.allowedSources.some(
    (rule) =>
      (q.callingNumber !== undefined && /^[0-9+*#]+$/.test(rule) && q.callingNumber.startsWith(rule)) ||
      rule === q.sourceAddress ||
      rule === q.peer,
  );
}

/** Longest matching prefix among the routes this source may use. */
export function selectRoute(routes: readonly ClearinghouseRoute[], q: RouteQuery): RouteDecision {
  const matching = routes.filter((r) => q.calledNumber.startsWith(r.prefix));
  if (matching.length === 0) return { ok: false, reason: "no-route" };
  const allowed = matching.filter((r) => sourceAllowed(r, q));
  if (allowed.length === 0) return { ok: false, reason: "source-not-allowed" };
  const best = allowed.reduce((a, b) => (b.prefix.length > a.prefix.length ? b : a));
  return { ok: true, route: best };
}

/** Reads the routes YAML (see examples/deploy/osp-routes.yaml); throws with a clear message on a bad file. */
export function parseRoutesYaml(text: string): RoutesFile {
  const doc = parseYaml(text) as unknown;
  if (!doc || typeof doc !== "object" || !Array.isArray((doc as { routes?: unknown }).routes)) {
    throw new Error("routes file: expected a mapping with a 'routes' list");
  }
  const raw = doc as { routes: unknown[]; tokenLifetimeSeconds?: unknown };
  const routes = raw.routes.map((r, i): ClearinghouseRoute => {
    const where = `routes[${i}]`;
    if (!r || typeof r !== "object") throw new Error(`${where}: expected a mapping`);
    const o = r as Record<string, unknown>;
    const prefix = o.prefix === undefined ? "" : String(o.prefix);
    if (!Array.isArray(o.destinations) || o.destinations.length === 0) throw new Error(`${where}: 'destinations' must be a non-empty list`);
    const destinations = o.destinations.map((d, j) => {
      if (typeof d === "string") return { address: d };
      if (!d || typeof d !== "object" || typeof (d as { address?: unknown }).address !== "string") {
        throw new Error(`${where}.destinations[${j}]: expected an address string or {address, number}`);
      }
      const dd = d as { address: string; number?: unknown };
      return dd.number === undefined ? { address: dd.address } : { address: dd.address, number: String(dd.number) };
    });
    const route: ClearinghouseRoute = { prefix, destinations };
    if (o.timeLimitSeconds !== undefined) {
      const n = Number(o.timeLimitSeconds);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${where}: timeLimitSeconds must be a positive integer`);
      route.timeLimitSeconds = n;
    }
    if (o.allowedSources !== undefined) {
      if (!Array.isArray(o.allowedSources)) throw new Error(`${where}: allowedSources must be a list`);
      route.allowedSources = o.allowedSources.map(String);
    }
    return route;
  });
  const file: RoutesFile = { routes };
  if (raw.tokenLifetimeSeconds !== undefined) file.tokenLifetimeSeconds = Number(raw.tokenLifetimeSeconds);
  return file;
}
