// One role node on real sockets: the socket driver with that node alone, its peers in other processes known
// by their addresses, the role's events on a typed bus, and a handle to read and stop it. Every start function
// of lib/start and `callgate serve` run their node through here.
import type { ConnectionLimits } from "../../protocols/net/connection-limits.js";
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import type { FlowNode } from "../drivers/node.js";
import type { NodeAddresses, SocketEndpointsSpec, SocketNetworkOptions } from "../drivers/socket-network.js";
import type { SocketTlsOptions } from "../drivers/socket-tls.js";
import { CallEventBus, type CallEvent } from "../flow/call-events.js";
import type { Operations } from "../flow/operations.js";
import { flowNetwork } from "../flow/run-network.js";
import type { TopologyOptions } from "../flow/run-types.js";
import { PolicyServer } from "../roles/policy-server.js";

/** Where a role listens or a peer is reached: a host and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** What every start function takes besides its role's own settings. */
export interface RoleSocketOptions {
  /** TLS for the role's links (SIP streams, COPS per RFC 4261, OSP over HTTPS); certificates by node name. */
  tls?: SocketTlsOptions;
  /** Caps and timeouts of the role's listeners (DEFAULT_CONNECTION_LIMITS where not given). */
  limits?: Partial<ConnectionLimits>;
  /** The bus the role's events go to (default: a new one, on the handle). */
  events?: CallEventBus;
  /** Every message the role sends or takes from an outside peer. */
  onRecord?: (record: MessageRecord) => void;
  /** Input the listeners refuse or drop, by protocol and cause token. */
  onDrop?: (proto: Protocol, cause: string, detail: string) => void;
  /** The driver's and the node's errors (an unknown connection, an unreadable stream, a node's exception). */
  onError?: (where: string, err: unknown) => void;
  /**
   * What an operator sees (`startOperations`: pino logger, DropLog, Prometheus metrics): the role's events, drops
   * and errors are fed to it and its gauges sampled from the handle's, as `callgate serve` does.
   */
  operations?: Operations;
}

/** Gauges of a running role, in the shape `startOperations(…).watch` samples (lib/flow/operations.ts). */
export interface RoleGauges {
  /** COPS request states the role holds, by role. */
  requestStates: () => Record<string, number>;
  /** Lengths of its queues (e.g. the usage backlog). */
  queues: () => Record<string, number>;
  /** Inbound connections open, per listener. */
  connections: () => Record<string, number>;
}

/** A running role. */
export interface RoleHandle<N extends FlowNode<CallEvent> = FlowNode<CallEvent>> {
  /** The node's name: how its peers and its records name it. */
  readonly name: string;
  /** The role machine itself (sans-I/O), for its counters. */
  readonly node: N;
  /** What it listens on: "host:port" (SIP over a stream with ";transport=tcp|tls"), OSP as a URL. */
  readonly addresses: { sip?: string; ws?: string; cops?: string; osp?: string };
  /** The role's typed call events (eventemitter3): "decision", "established", "terminated", "usage", "error", "*". */
  readonly events: CallEventBus;
  /** The metrics hook: what the role holds now, for a Prometheus gauge or a health check. */
  readonly gauges: RoleGauges;
  /** Stops listening, closes every connection and timer; idempotent. */
  close(): Promise<void>;
}

/** The driver settings a start function chooses for its role (peers, how outside peers are named). */
export interface RoleNetworkSettings {
  /** The role's own listeners and its peers' addresses, by node name. */
  directory: Record<string, NodeAddresses>;
  /** SIP between nodes (default UDP) and how OSP reaches the clearinghouse (default over HTTP). */
  topology?: Partial<Pick<TopologyOptions, "sipTransport" | "clearinghouse" | "userAgentTransports">>;
  externalSipPeer?: SocketNetworkOptions<CallEvent>["externalSipPeer"];
  identifyTcpPeer?: SocketNetworkOptions<CallEvent>["identifyTcpPeer"];
  /** How the role's state reads as gauges. */
  requestStates?: () => Record<string, number>;
  queues?: () => Record<string, number>;
  /** Run after the sockets are closed (a CDR store the start function opened). */
  release?: () => Promise<void>;
}

/**
 * A role node built elsewhere with the driver settings of its deployment: `callgate serve` builds the nine FIG. 5
 * roles alike from its deploy file and starts its own through the role's start function with one of these.
 */
export interface DeployedRole<N extends FlowNode<CallEvent>> {
  /** The node, configured by its deployment (adapters, peers' names, identifiers). */
  node: N;
  /** Its listeners and its peers' addresses, by node name. */
  directory: Record<string, NodeAddresses>;
  /** SIP between nodes (default UDP) and how OSP reaches the clearinghouse (default over HTTP). */
  topology?: RoleNetworkSettings["topology"];
  /** How an inbound connection's peer is named by its first message (COPS admission, a SIP peer's Via). */
  identifyTcpPeer?: SocketNetworkOptions<CallEvent>["identifyTcpPeer"];
  /** Run after the sockets are closed (stores and clients the deployment opened for the role). */
  release?: () => Promise<void>;
}

/** What a start function takes to run a node built by its deployment instead of building its own. */
export interface DeployedRoleStartOptions<N extends FlowNode<CallEvent>> extends RoleSocketOptions {
  /** The node and its deployment's addresses; the role's own listen and peer settings do not apply. */
  deployed: DeployedRole<N>;
}

/** Starts a deployed node with the listeners of `spec` and the role's gauges. */
export function startDeployedRole<N extends FlowNode<CallEvent>>(
  options: DeployedRoleStartOptions<N>,
  spec: SocketEndpointsSpec,
  gauges: Pick<RoleNetworkSettings, "requestStates" | "queues">,
): Promise<RoleHandle<N>> {
  const { node, directory, topology, identifyTcpPeer, release } = options.deployed;
  return startRoleOnSockets(node, spec, {
    directory,
    ...(topology ? { topology } : {}),
    ...(identifyTcpPeer ? { identifyTcpPeer } : {}),
    ...(release ? { release } : {}),
    ...gauges,
  }, options);
}

/** How a role speaks SIP: datagrams over UDP, or one stream per peer over TCP or TLS (RFC 3261 §18). */
export type SipTransportChoice = "udp" | "tcp" | "tls";

/** The transport's name in a Via and a Record-Route (RFC 3261 §18.2.1). */
export function viaTransportOf(transport: SipTransportChoice): "UDP" | "TCP" | "TLS" {
  return transport === "udp" ? "UDP" : transport === "tcp" ? "TCP" : "TLS";
}

/** A SIP listener as the socket driver's directory holds it: under the port of its transport. */
export function sipListenerEntry(at: HostPort, transport: SipTransportChoice): NodeAddresses {
  if (transport === "tcp") return { host: at.host, sipTcp: at.port };
  if (transport === "tls") return { host: at.host, sipTls: at.port };
  return { host: at.host, sipUdp: at.port };
}

/** Parses "host:port" (an IPv6 host in brackets), or takes a HostPort as it is. */
export function hostPortOf(where: string | HostPort, setting: string): HostPort {
  if (typeof where !== "string") return where;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(where);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`${setting} wants HOST:PORT, got '${where}'`);
  return { host: m[1] ?? m[2] ?? "", port };
}

/** Starts `node` with the listeners of `spec` on the socket driver; a bind that fails is an error naming the address. */
export async function startRoleOnSockets<N extends FlowNode<CallEvent>>(
  node: N,
  spec: SocketEndpointsSpec,
  settings: RoleNetworkSettings,
  options: RoleSocketOptions,
): Promise<RoleHandle<N>> {
  const events = options.events ?? new CallEventBus();
  const ops = options.operations;
  if (ops) events.on("*", (e) => ops.onEvent(e));
  const onDrop = ops
    ? (proto: Protocol, cause: string, detail: string): void => {
        options.onDrop?.(proto, cause, detail);
        ops.drops.drop(`${proto}:${cause}`, { detail });
      }
    : options.onDrop;
  const onError = ops
    ? (where: string, err: unknown): void => {
        options.onError?.(where, err);
        ops.onError(where, err);
      }
    : options.onError;
  let net: ReturnType<typeof flowNetwork>;
  try {
    const userAgents = settings.topology?.userAgentTransports;
    net = flowNetwork({ sipTransport: settings.topology?.sipTransport ?? "udp", clearinghouse: settings.topology?.clearinghouse ?? "osp-http", ...(userAgents ? { userAgentTransports: userAgents } : {}) }, [], {
      directory: settings.directory,
      // Wall-clock time: processes of one deployment agree on token validity and CDR times.
      wallClock: true,
      ...(settings.externalSipPeer ? { externalSipPeer: settings.externalSipPeer } : {}),
      ...(settings.identifyTcpPeer ? { identifyTcpPeer: settings.identifyTcpPeer } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.onRecord ? { onRecord: options.onRecord } : {}),
      ...(onDrop ? { onDrop } : {}),
      ...(onError ? { onError } : {}),
      onEmit: (_node, e) => events.publish(e),
    });
  } catch (err) {
    await settings.release?.(); // contradictory settings (SIP over TLS without TLS): nothing bound
    throw err;
  }
  net.add(node, spec);
  // A policy decision that settles after its event comes back through the driver as an event.
  if (node instanceof PolicyServer) node.deliverDecisionsWith((actions) => net.perform(node.name, actions));
  try {
    await net.start();
  } catch (err) {
    await net.stop(); // what did bind is let go, so the process can exit
    await settings.release?.();
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    throw new Error(`${node.name} cannot listen on ${e.address ?? "?"}:${e.port ?? "?"}: ${e.code ?? e.message}`);
  }
  let closed: Promise<void> | undefined;
  const gauges: RoleGauges = {
    requestStates: settings.requestStates ?? (() => ({})),
    queues: settings.queues ?? (() => ({})),
    connections: () => net.openConnections(),
  };
  ops?.watch(gauges);
  return {
    name: node.name,
    node,
    addresses: net.addresses()[node.name] ?? {},
    events,
    gauges,
    close: () =>
      (closed ??= (async () => {
        await net.stop();
        await settings.release?.();
      })()),
  };
}
