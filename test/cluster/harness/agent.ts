/**
 * The agent: one group member in its own process, run inside a node's network namespace,
 * driven over JSON lines on stdin/stdout (protocol.ts).
 *
 *   ip netns exec <ns> node --import tsx --conditions=@cpgkit/source test/cluster/harness/agent.ts
 *
 * `CPGKIT_AGENT_TRANSPORT=loopback` uses the engine-free stand-in (protocol tests).
 * stdout carries protocol lines only: console output of scenario code goes to stderr.
 * @module
 */
import { serveAgent } from './agent-server.js';
import { makeMember, type AgentTransportName } from './member-factory.js';

const writeOut = process.stdout.write.bind(process.stdout);
// keep stdout for the protocol: anything else printed goes to stderr
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const transport: AgentTransportName =
  process.env.CPGKIT_AGENT_TRANSPORT === 'loopback' ? 'loopback' : 'corosync';

try {
  await serveAgent(
    {
      input: process.stdin,
      writeLine: (line) => {
        writeOut(`${line}\n`);
      },
    },
    () => makeMember(transport),
  );
  // let the last lines drain before exiting
  process.stdout.end(() => process.exit(0));
} catch (err) {
  process.stderr.write(
    `agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
