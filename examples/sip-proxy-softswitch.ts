// A SIP proxy with COPS policy in front of a softswitch, each role on its own loopback sockets: a policy server,
// the edge router it provisions, and the proxy whose next hop is the softswitch. SIPp stands in for the softswitch
// (its built-in uas scenario) and for the callers (uac), so it needs SIPp (Debian: sip-tester) on the PATH.
//   npx tsx examples/sip-proxy-softswitch.ts
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { startEdgeRouter, startPolicyServer, startSipProxy, type CallEvent } from "../lib/index.js";

const CALLS = 2;

/** A UDP port on 127.0.0.1 free right now. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Runs SIPp with `args`; resolves with its exit code once it ends. */
function sipp(args: string[]): { done: Promise<number> } {
  const child = spawn("sipp", [...args, "-i", "127.0.0.1", "-m", String(CALLS), "-nostdin", "-timeout", "30"], { stdio: "ignore" });
  const done = new Promise<number>((resolve, reject) => {
    child.on("error", (err) => reject(new Error(`cannot run sipp (install SIPp, Debian package sip-tester): ${err.message}`)));
    child.on("close", (code) => resolve(code ?? -1));
  });
  return { done };
}

/** Resolves once something has bound UDP 127.0.0.1:`port` (our own bind fails). */
async function bound(port: number): Promise<void> {
  for (;;) {
    const taken = await new Promise<boolean>((resolve) => {
      const s = createSocket("udp4");
      s.once("error", () => resolve(true));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
    if (taken) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The softswitch: SIPp answers every INVITE (180, 200) and the BYE that ends it.
const softswitchPort = await freeUdpPort();
const softswitch = sipp(["-sn", "uas", "-p", String(softswitchPort)]);
await bound(softswitchPort);

const decisions: CallEvent[] = [];
const pdp = await startPolicyServer({ name: "POL1", router: "r1" });
pdp.events.on("decision", (e) => decisions.push(e));
const router = await startEdgeRouter({ name: "R1", pdp: pdp.addresses.cops ?? "" });
const proxy = await startSipProxy({ name: "SIP1", host: "sip1.example.com", pdp: pdp.addresses.cops ?? "", nextHop: { host: "127.0.0.1", port: softswitchPort } });

try {
  // The callers: SIPp's uac scenario (INVITE with SDP, ACK, a pause, BYE) to the proxy, one call after the other.
  const callers = sipp(["-sn", "uac", "-s", "15551234567", proxy.addresses.sip ?? "", "-p", String(await freeUdpPort()), "-r", "1", "-l", "1"]);
  const [uac, uas] = await Promise.all([callers.done, softswitch.done]);
  console.log(`SIPp uac: exit ${uac} (${uac === 0 ? `all ${CALLS} calls successful` : "calls failed"}), SIPp uas (softswitch): exit ${uas}`);
  const count = (purpose: string, allow: boolean): number => decisions.filter((d) => d.type === "decision" && d.purpose === purpose && d.allow === allow).length;
  console.log(`POL1 decided AAA yes ${count("AAA", true)}, LDP yes ${count("LDP", true)}, noLDP yes ${count("noLDP", true)}, refused ${count("AAA", false) + count("LDP", false)}`);
  console.log(`R1 installs ${router.node.installs}, removals ${router.node.removals}, classifiers left ${router.node.classifiers.size}`);
  console.log(`SIP1 holds ${proxy.node.activeCalls} calls, POL1 ${pdp.node.copsRequestStates} call request states`);
} finally {
  await proxy.close();
  await router.close();
  await pdp.close();
}
