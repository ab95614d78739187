// The lab: SIP1, POL1, R1, CH, SIP2, POL2, R2 and an answering UAS on loopback sockets, with no UAC of our own.
// An outside caller (SIPp, a softphone) sends its INVITE to SIP1; the driver names it "UAC" in the records, so
// the ladder reads like FIG. 5 / FIG. 6. The UAS answers every INVITE and never hangs up.
import type { MessageRecord } from "../drivers/message-record.js";
import { SipIds } from "../roles/sip-ids.js";
import { UserAgent } from "../roles/user-agent.js";
import type { CallEvent } from "./call-events.js";
import { flowNetwork } from "./run-network.js";
import type { TopologyOptions } from "./run-calls.js";
import { ROLE_HOSTS, buildTopology, resolveTopology } from "./topology.js";
import { seededRandom } from "../drivers/seeded-random.js";

export interface LabOptions {
  /** UDP port of SIP1 on 127.0.0.1 (ephemeral when absent). */
  sipPort?: number;
  /** The UAS sends 180 at once and 200 this many ms later (default 500). */
  answerDelayMs?: number;
  topology?: Partial<Omit<TopologyOptions, "sipTransport">>;
  /** Keep every record in `records` (default true). */
  keepRecords?: boolean;
  onRecord?: (record: MessageRecord) => void;
  onEvent?: (event: CallEvent) => void;
  onError?: (where: string, err: unknown) => void;
  seed?: number;
}

export interface LabEndpoint {
  sip?: string;
  cops?: string;
  osp?: string;
}

export interface Lab {
  /** Addresses each role listens on ("127.0.0.1:port"; OSP as an http URL). */
  endpoints: Record<string, LabEndpoint>;
  /** Every message moved so far, the outside caller's included (as role "UAC"). */
  records: MessageRecord[];
  close(): Promise<void>;
}

/** The name the outside caller gets in events and records. */
export const LAB_CALLER = "UAC";

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const topology = resolveTopology({ ...options.topology, sipTransport: "udp" });
  const seed = options.seed ?? 1;
  const topo = buildTopology(topology, [], [], { seed });
  const answerDelayMs = options.answerDelayMs ?? 500;
  const uas = new UserAgent({
    name: "UAS", proxy: "SIP2", host: ROLE_HOSTS.UAS ?? "192.0.2.20", mediaAddress: ROLE_HOSTS.UAS ?? "192.0.2.20", transport: "UDP",
    behaviour: () => ({ outcome: "answer", answerDelayMs, durationMs: 0, hangsUp: false }),
    ids: new SipIds(seededRandom(seed + 1)),
  });
  const records: MessageRecord[] = [];
  const keep = options.keepRecords ?? true;
  // The same wiring as every socket run (flowNetwork), with our UAS instead of the flow's and no UAC.
  const nodes = [...topo.nodes.filter((n) => n.name !== "UAC" && n.name !== "UAS"), uas];
  const net = flowNetwork(topology, nodes, {
    ...(options.sipPort !== undefined ? { sipPorts: { SIP1: options.sipPort } } : {}),
    externalSipPeer: { acceptor: "SIP1", as: LAB_CALLER },
    onRecord: (r) => {
      if (keep) records.push(r);
      options.onRecord?.(r);
    },
    onEmit: (_node, e) => options.onEvent?.(e),
    onError: (where, err) => options.onError?.(where, err),
  });
  await net.start();
  let closed = false;
  return {
    endpoints: net.addresses(),
    records,
    close: async () => {
      if (closed) return;
      closed = true;
      await net.stop();
    },
  };
}
