// Which DSC is authoritative for an entity: the configured map first, else rendezvous (highest random weight)
// hashing over the DSC set, so every DSC with the same set picks the same one and a DSC leaving the set moves
// only its own entities.

/** 32-bit FNV-1a of a string's UTF-16 units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche (murmur3 fmix32): FNV alone leaves nearby strings' weights correlated.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The DSC with the highest weight for `entity` among `dscs` (ties: the smaller id). */
export function rendezvousOwner(entity: string, dscs: readonly string[]): string {
  let best = "";
  let bestWeight = -1;
  for (const d of dscs) {
    const w = fnv1a(`${entity}\u0000${d}`);
    if (w > bestWeight || (w === bestWeight && d < best)) {
      best = d;
      bestWeight = w;
    }
  }
  return best;
}

/** Memoised authority lookups: `configured` (entity → DSC id) wins, rendezvous hashing otherwise. */
export class AuthorityMap {
  private readonly cache = new Map<string, string>();
  private readonly dscs: readonly string[];

  constructor(
    dscs: readonly string[],
    private readonly configured: ReadonlyMap<string, string> = new Map(),
    private readonly cacheLimit = 100_000,
  ) {
    this.dscs = [...new Set(dscs)].sort();
    for (const [entity, dsc] of configured) {
      if (!this.dscs.includes(dsc)) throw new Error(`entity ${entity} is assigned to DSC ${dsc}, which is not in the DSC set`);
    }
  }

  /** The DSC authoritative for this entity: the configured owner, else the rendezvous-hash owner. */
  of(entity: string): string {
    const hit = this.cache.get(entity);
    if (hit !== undefined) return hit;
    const owner = this.configured.get(entity) ?? rendezvousOwner(entity, this.dscs);
    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(entity, owner);
    return owner;
  }
}
