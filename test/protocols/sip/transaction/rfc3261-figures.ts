// RFC 3261 Figures 5–8, transcribed as data from the figures' text (independent of the implementation).
// Any (state, input) pair absent from a table leaves the state unchanged and produces nothing.

export type Output = "send-request" | "send-ack" | "send-response" | "pass-tu" | "inform-tu-timeout" | "inform-tu-transport-error";

export type Input =
  | "1xx"
  | "2xx"
  | "300-699"
  | "timer A"
  | "timer B"
  | "timer D"
  | "timer E"
  | "timer F"
  | "timer K"
  | "timer G"
  | "timer H"
  | "timer I"
  | "timer J"
  | "transport error"
  | "request"
  | "ACK"
  | "TU 1xx"
  | "TU 2xx"
  | "TU 300-699";

export interface Transition {
  from: string;
  input: Input | "TU 200-699" | "200-699";
  to: string;
  outputs: Output[];
}

export interface Figure {
  initial: string;
  /** Outputs produced when the transaction starts (request sent / request passed up). */
  startOutputs: Output[];
  transitions: Transition[];
  /** Timers running while in a state; `unreliableOnly` ones are not used over reliable transports. */
  timers: Record<string, { name: string; unreliableOnly: boolean }[]>;
  /** States left at once over reliable transports (their wait timer is zero): state → timer that fires. */
  zeroOnReliable: Record<string, string>;
}

// Figure 5: INVITE client transaction.
export const FIGURE_5: Figure = {
  initial: "calling",
  startOutputs: ["send-request"],
  transitions: [
    { from: "calling", input: "timer A", to: "calling", outputs: ["send-request"] },
    { from: "calling", input: "timer B", to: "terminated", outputs: ["inform-tu-timeout"] },
    { from: "calling", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "calling", input: "2xx", to: "terminated", outputs: ["pass-tu"] },
    { from: "calling", input: "1xx", to: "proceeding", outputs: ["pass-tu"] },
    { from: "calling", input: "300-699", to: "completed", outputs: ["send-ack", "pass-tu"] },
    { from: "proceeding", input: "1xx", to: "proceeding", outputs: ["pass-tu"] },
    { from: "proceeding", input: "2xx", to: "terminated", outputs: ["pass-tu"] },
    { from: "proceeding", input: "300-699", to: "completed", outputs: ["send-ack", "pass-tu"] },
    { from: "completed", input: "300-699", to: "completed", outputs: ["send-ack"] },
    { from: "completed", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "completed", input: "timer D", to: "terminated", outputs: [] },
  ],
  timers: {
    calling: [
      { name: "A", unreliableOnly: true },
      { name: "B", unreliableOnly: false },
    ],
    proceeding: [],
    completed: [{ name: "D", unreliableOnly: false }],
    terminated: [],
  },
  zeroOnReliable: { completed: "timer D" },
};

// Figure 6: non-INVITE client transaction.
export const FIGURE_6: Figure = {
  initial: "trying",
  startOutputs: ["send-request"],
  transitions: [
    { from: "trying", input: "timer E", to: "trying", outputs: ["send-request"] },
    { from: "trying", input: "timer F", to: "terminated", outputs: ["inform-tu-timeout"] },
    { from: "trying", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "trying", input: "1xx", to: "proceeding", outputs: ["pass-tu"] },
    { from: "trying", input: "200-699", to: "completed", outputs: ["pass-tu"] },
    { from: "proceeding", input: "timer E", to: "proceeding", outputs: ["send-request"] },
    { from: "proceeding", input: "1xx", to: "proceeding", outputs: ["pass-tu"] },
    { from: "proceeding", input: "timer F", to: "terminated", outputs: ["inform-tu-timeout"] },
    { from: "proceeding", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "proceeding", input: "200-699", to: "completed", outputs: ["pass-tu"] },
    { from: "completed", input: "timer K", to: "terminated", outputs: [] },
  ],
  timers: {
    trying: [
      { name: "E", unreliableOnly: true },
      { name: "F", unreliableOnly: false },
    ],
    proceeding: [
      { name: "E", unreliableOnly: true },
      { name: "F", unreliableOnly: false },
    ],
    completed: [{ name: "K", unreliableOnly: false }],
    terminated: [],
  },
  zeroOnReliable: { completed: "timer K" },
};

// Figure 7: INVITE server transaction (100 Trying sent by the transaction itself).
export const FIGURE_7: Figure = {
  initial: "proceeding",
  startOutputs: ["send-response", "pass-tu"],
  transitions: [
    { from: "proceeding", input: "request", to: "proceeding", outputs: ["send-response"] },
    { from: "proceeding", input: "TU 1xx", to: "proceeding", outputs: ["send-response"] },
    { from: "proceeding", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "proceeding", input: "TU 2xx", to: "terminated", outputs: ["send-response"] },
    { from: "proceeding", input: "TU 300-699", to: "completed", outputs: ["send-response"] },
    { from: "completed", input: "request", to: "completed", outputs: ["send-response"] },
    { from: "completed", input: "timer G", to: "completed", outputs: ["send-response"] },
    { from: "completed", input: "timer H", to: "terminated", outputs: ["inform-tu-timeout"] },
    { from: "completed", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "completed", input: "ACK", to: "confirmed", outputs: [] },
    { from: "confirmed", input: "ACK", to: "confirmed", outputs: [] },
    { from: "confirmed", input: "timer I", to: "terminated", outputs: [] },
  ],
  timers: {
    proceeding: [],
    completed: [
      { name: "G", unreliableOnly: true },
      { name: "H", unreliableOnly: false },
    ],
    confirmed: [{ name: "I", unreliableOnly: false }],
    terminated: [],
  },
  zeroOnReliable: { confirmed: "timer I" },
};

// Figure 8: non-INVITE server transaction.
export const FIGURE_8: Figure = {
  initial: "trying",
  startOutputs: ["pass-tu"],
  transitions: [
    { from: "trying", input: "TU 1xx", to: "proceeding", outputs: ["send-response"] },
    { from: "trying", input: "TU 200-699", to: "completed", outputs: ["send-response"] },
    { from: "proceeding", input: "TU 1xx", to: "proceeding", outputs: ["send-response"] },
    { from: "proceeding", input: "request", to: "proceeding", outputs: ["send-response"] },
    { from: "proceeding", input: "TU 200-699", to: "completed", outputs: ["send-response"] },
    { from: "proceeding", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "completed", input: "request", to: "completed", outputs: ["send-response"] },
    { from: "completed", input: "transport error", to: "terminated", outputs: ["inform-tu-transport-error"] },
    { from: "completed", input: "timer J", to: "terminated", outputs: [] },
  ],
  timers: {
    trying: [],
    proceeding: [],
    completed: [{ name: "J", unreliableOnly: false }],
    terminated: [],
  },
  zeroOnReliable: { completed: "timer J" },
};

/** Finds the transition of `figure` for `input`; the "200-699" rows cover both 2xx and 300-699. */
export function lookup(figure: Figure, state: string, input: Input): Transition | undefined {
  const widened = input === "2xx" || input === "300-699" ? "200-699" : input === "TU 2xx" || input === "TU 300-699" ? "TU 200-699" : undefined;
  return figure.transitions.find((t) => t.from === state && (t.input === input || (widened !== undefined && t.input === widened)));
}

export function armedTimers(figure: Figure, state: string, reliable: boolean): string[] {
  return (figure.timers[state] ?? [])
    .filter((t) => !(reliable && t.unreliableOnly))
    .map((t) => t.name)
    .sort();
}
