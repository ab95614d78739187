// The clock of a run, for adapters that wait: virtual time on the in-memory driver (a one-second wait takes no
// real second and keeps the run deterministic), real time on the socket driver.
import type { FlowNode, NodeAction, NodeEvent } from "../drivers/node.js";

/** The time source a driver binds to a {@link RunClock} for the length of a run. */
export interface ClockBinding {
  /** Milliseconds on the driver's clock. */
  now(): number;
  /** Resolves once `ms` milliseconds have passed on the driver's clock. */
  sleep(ms: number): Promise<void>;
}

/** Give one to `runCalls` (`RunOptions.clock`) and to the adapters that wait on it. Unbound, it is real time. */
export class RunClock {
  private binding: ClockBinding | undefined;

  /** Milliseconds: the virtual clock of an in-memory run, else `performance.now()`. */
  now(): number {
    return this.binding ? this.binding.now() : performance.now();
  }

  /** Resolves once `ms` have passed on this clock. */
  sleep(ms: number): Promise<void> {
    if (this.binding) return this.binding.sleep(ms);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Used by the driver's runner for the length of a run. */
  bind(binding: ClockBinding | undefined): void {
    this.binding = binding;
  }
}

/**
 * A node of the in-memory network that only keeps timers: `sleep` sets one, and its firing resolves the sleeper
 * while the virtual clock stands still for one turn of the event loop (the sleeper's continuation runs at that
 * virtual instant).
 */
export class VirtualClockNode<E> implements FlowNode<E> {
  readonly name = "CLOCK";
  private readonly sleepers = new Map<string, () => void>();
  private nextSleeper = 1;

  constructor(
    private readonly network: { readonly now: number; perform(node: string, actions: NodeAction<E>[]): void },
  ) {}

  binding(): ClockBinding {
    return { now: () => this.network.now, sleep: (ms) => this.sleep(ms) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const key = `sleep:${this.nextSleeper++}`;
      this.sleepers.set(key, resolve);
      this.network.perform(this.name, [{ type: "set-timer", key, delayMs: Math.max(0, ms) }]);
    });
  }

  handle(event: NodeEvent): NodeAction<E>[] | Promise<NodeAction<E>[]> {
    if (event.type !== "timer") return [];
    const wake = this.sleepers.get(event.key);
    if (wake === undefined) return [];
    this.sleepers.delete(event.key);
    wake();
    return new Promise((resolve) => setImmediate(() => resolve([])));
  }
}
