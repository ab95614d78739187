// One role on real sockets with the user's adapters: a start function per role, each returning a RoleHandle.
export { startPolicyServer, type PolicyServerStartOptions } from "./policy-server.js";
export { startEdgeRouter, type EdgeRouterStartOptions } from "./edge-router.js";
export { startSipProxy, type SipProxyStartOptions } from "./sip-proxy.js";
export { startClearinghouse, type ClearinghouseStartOptions } from "./clearinghouse.js";
export { startUserAgent, type UserAgentStartOptions } from "./user-agent.js";
export { startRoleOnSockets, type DeployedRole, type DeployedRoleStartOptions, type HostPort, type RoleGauges, type RoleHandle, type RoleSocketOptions, type SipTransportChoice } from "./role-sockets.js";
