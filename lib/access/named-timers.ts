// Timers a sans-I/O role asks for by name: one armed setTimeout per name, re-arming replaces it.
export class NamedTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly fire: (name: string) => void) {}

  set(name: string, delayMs: number): void {
    clearTimeout(this.timers.get(name));
    const t = setTimeout(() => {
      this.timers.delete(name);
      this.fire(name);
    }, delayMs);
    t.unref();
    this.timers.set(name, t);
  }

  cancel(name: string): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  get size(): number {
    return this.timers.size;
  }

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
