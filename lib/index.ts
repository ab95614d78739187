// Public API of callgate: roles, adapters, drivers and the call flow. Protocol layers are exported from
// callgate/sip, callgate/cops, callgate/osp.
/** The package's version. */
export const VERSION = "0.1.0";

// Roles: each a sans-I/O node `{ name, handle(event) → actions }`.
export { UserAgent, type UserAgentOptions, type PlannedCall, type CalleeBehaviour, type PlannedReinvite, type MediaCodecName } from "./roles/user-agent.js";
export { SipProxy, TOKEN_HEADER, type SipProxyOptions } from "./roles/sip-proxy.js";
export { PolicyServer, type PolicyServerOptions } from "./roles/policy-server.js";
export { EdgeRouter, type EdgeRouterOptions, type Classifier } from "./roles/edge-router.js";
export { Clearinghouse, type ClearinghouseOptions, type ClearinghouseReply, type ClearinghouseRoute } from "./roles/clearinghouse.js";
export { ClearinghouseNode } from "./roles/ch-node.js";

// Adapters.
export {
  DefaultPolicyAdapter,
  isPendingDecision,
  isWireDecision,
  type Decision,
  type PolicyWireExchange,
  type PolicyWireAnswer,
  type PolicyAdapter,
  type AaaQuery,
  type AaaVerdict,
  type ClassQuery,
  type ClassChoice,
  type UsageObservation,
  type ProgressObservation,
  type ProgressVerdict,
  type CallSide,
} from "./adapters/policy-adapter.js";
export {
  NoClearinghouse,
  type ClearinghouseAdapter,
  type AuthoriseRequest,
  type AuthoriseResult,
  type UsageReport,
  type UsageResult,
  type Exchange,
  type ClearinghouseAnswer,
} from "./adapters/clearinghouse-adapter.js";
export { OspClearinghouseAdapter, type OspClearinghouseAdapterOptions } from "./adapters/osp-clearinghouse-adapter.js";
export { MemoryCdrStore } from "./adapters/cdr-store-memory.js";
// Needs the optional peer dependency better-sqlite3, loaded when a store opens.
export { SqliteCdrStore, SQLITE_MISSING_MESSAGE, type SqliteCdrStoreOptions } from "./adapters/cdr-store-sqlite.js";
export type { CdrStore, CallDetailRecord, CdrQuery } from "./adapters/cdr-store.js";

// Drivers and the record stream.
export type { FlowNode, NodeEvent, NodeAction, SendAction } from "./drivers/node.js";
export { MemoryNetwork, type MemoryNetworkOptions } from "./drivers/memory-network.js";
export { SocketNetwork, type SocketNetworkOptions, type SocketEndpointsSpec } from "./drivers/socket-network.js";
export { FaultPlan, type MessageFault, type DownWindow } from "./drivers/fault-plan.js";
export { recordToJsonLine, recordFromJsonLine, type MessageRecord, type Protocol } from "./drivers/message-record.js";

// The call flow.
export {
  runCalls,
  type RunOptions,
  type RunResult,
  type CallSpec,
  type CallOutcome,
  type FaultSpec,
  type TopologyOptions,
  type Role,
  type PerSide,
} from "./flow/run-calls.js";
export type { PlannedMediaChange } from "./flow/run-types.js";
export { RunClock } from "./flow/run-clock.js";
export { ROLE_NAMES, ROLE_TABLE, type RoleEntry, type RoleKind, type RoleListener, type RoleOfKind, type DeniableRole } from "./flow/role-table.js";
export { buildTopology, resolveTopology, type FlowTopology, type TopologyAdapters } from "./flow/topology.js";
export { CallEventBus, type CallEvent, type CallEventMap, type CallEventType } from "./flow/call-events.js";
export { mediaFlows, buildSdp, answerSdp, type MediaFlow, type MediaEndpoint } from "./flow/media-flows.js";

// One role on real sockets with the user's adapters (docs/embedding.md).
export {
  startPolicyServer,
  startEdgeRouter,
  startSipProxy,
  startClearinghouse,
  startUserAgent,
  type PolicyServerStartOptions,
  type EdgeRouterStartOptions,
  type SipProxyStartOptions,
  type ClearinghouseStartOptions,
  type UserAgentStartOptions,
  type DeployedRole,
  type DeployedRoleStartOptions,
  type HostPort,
  type RoleGauges,
  type RoleHandle,
  type RoleSocketOptions,
  type SipTransportChoice,
} from "./start/index.js";
// What an operator sees of a role process: JSON logs, drops counted once per cause, Prometheus metrics.
export { startOperations, type Operations, type OperationsOptions, type GaugeSources } from "./flow/operations.js";
export { RoleMetrics } from "./observability/metrics.js";
export { DropLog, type DropLogOptions } from "./observability/drop-log.js";

// PPPoE access: the concentrator and server roles (sans-I/O) and their services on real ports (docs/pppoe.md).
export { AccessConcentrator, type ConcentratorOptions, type ConcentratorInput, type ConcentratorAction, type ConcentratorEvent, type ConcentratorMode, type LineCounters, type SharedSessionOptions } from "./access/concentrator.js";
export { PppoeServerRole, type PppoeServerRoleOptions, type PppoeServerRoleInput, type PppoeServerRoleAction, type PppoeServerRoleEvent } from "./access/pppoe-server-role.js";
export { AddressPool } from "./access/address-pool.js";
export { startConcentrator, type RunningConcentrator } from "./access/concentrator-service.js";
export { startPppoeServer, type RunningPppoeServer } from "./access/pppoe-server-service.js";
export { parseConcentratorConfig, parsePppoeServerConfig, readConcentratorConfig, readPppoeServerConfig, AccessConfigError, type ConcentratorConfig, type PppoeServerConfig, type FramePortConfig, type PoolConfig } from "./access/access-config.js";
export { FramePort, type FramePortOptions, type UdpEndpoint } from "./access/frame-port.js";
export { type JournalSession, type JournalUsage } from "./access/session-journal.js";

// Usage quotas (docs/quotas.md) and RADIUS accounting export (docs/accounting.md).
export { QuotaPolicyAdapter, type QuotaPolicyOptions } from "./quota/quota-policy.js";
export { parseQuotaConfig, callSubjects, subjectKey, QuotaConfigError, type QuotaConfig, type QuotaRule, type QuotaCounters, type SubjectKind } from "./quota/rules.js";
export { periodWindow, type QuotaPeriod, type PeriodWindow } from "./quota/periods.js";
export { MemoryQuotaStore, type QuotaStore, type QuotaCheck, type QuotaCounterKey, type QuotaRow, type AdmitResult } from "./quota/store.js";
export { SqliteQuotaStore } from "./quota/store-sqlite.js";
export { AccountingRecorder, accountingSessionId, terminateCause, toRadiusAttribute, fromRadiusAttribute, type AccountingAttribute, type AccountingRecord, type AccountingRecorderOptions, type AccountingSide, type AccountingStatus } from "./accounting/records.js";
export { AccountingExporter, parseAccountingServer, type AccountingExporterOptions } from "./accounting/exporter.js";

// Concurrent-session limits across policy servers (docs/session-counters.md).
export { SessionLimitPolicy, addressOf, entitiesOf, registerSessionCounterMetrics, type MembershipRules, type SessionLimitPolicyOptions } from "./dsc/session-limit-policy.js";
export { DscSessionCounter } from "./dsc/dsc-counter.js";
export { InProcessDscCluster } from "./dsc/in-process.js";
export type { CounterDecision, SessionCounter } from "./dsc/session-counter.js";
export type { ConnectionLimits } from "../protocols/net/connection-limits.js";
export type { ClearinghouseDestination } from "./roles/clearinghouse-routes.js";
export type { CallerChallenge } from "./roles/sip-proxy.js";
export type { SipIds } from "./roles/sip-ids.js";
export type { RoleCredentials, SocketTlsOptions } from "./drivers/socket-tls.js";
export type { NodeAddresses, TcpPeerRefusal, TcpPeerSource } from "./drivers/socket-network.js";
export type { FaultVerdict } from "./drivers/fault-plan.js";
export type { SipArrival, SipListenAddress, SipTransportName } from "./drivers/node.js";
export type { CallSubjects } from "./quota/rules.js";
export type { CopsPurpose, CallEventOf } from "./flow/call-events.js";
export type { SdpOfferOptions } from "./flow/media-flows.js";
export type { ClockBinding } from "./flow/run-clock.js";
export type { FlowPki } from "./flow/flow-pki.js";
export type { AccountingCallInfo } from "./accounting/records.js";
