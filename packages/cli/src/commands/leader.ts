/**
 * `cpgkit leader --group G [--timeout S] NAME -- COMMAND...`: a client of the election service
 * that `cpgkit serve --group G` holds on the nodes; campaign for leadership of NAME;
 * while leader, run COMMAND with `CPGKIT_TERM` in its environment. When leadership is lost,
 * stop COMMAND (SIGTERM, SIGKILL after `--grace`) and campaign again. On SIGTERM/SIGINT,
 * stop COMMAND, resign and exit 0. If COMMAND exits on its own, resign and exit with its code.
 * With no replica reachable within `--timeout` (default 10 s), exit 4.
 * @module
 */
import { hostname } from 'node:os';
import type { Leadership, Locks } from '@cpgkit/locks';
import { NoQuorumError } from '@cpgkit/statemachine';
import { commandOf, runChild, stopChild } from '../child.js';
import { DEFAULT_REPLICA_WAIT_S, openLocksClient } from '../clients.js';
import { interruptSignal } from '../interrupt.js';
import { graceOption, groupOption, timeoutOption, type RegisterCommand } from '../util.js';
import { verboseLog, warnDataIgnored } from './lock.js';

interface LeaderCliOptions {
  group: string;
  data?: string;
  command?: string;
  /** ms */
  timeout: number;
  /** ms */
  grace: number;
  verbose?: boolean;
}

/** Registers `cpgkit leader`. */
export const registerLeader: RegisterCommand = (program, setExit) => {
  program
    .command('leader')
    .description(
      'run COMMAND only while this process leads NAME; campaign again when leadership is lost',
    )
    .usage('[options] --group G NAME COMMAND [ARGS...] | NAME -c "COMMAND"')
    .addOption(groupOption('the cpgkit group whose election service holds NAME (G.locks)'))
    .option('--data <dir>', 'ignored (a client holds no state; `cpgkit serve --data` does)')
    .addOption(
      timeoutOption(
        'give up when no replica (`cpgkit serve`) answers within this long (exit 4; bare: seconds)',
        's',
        DEFAULT_REPLICA_WAIT_S * 1000,
      ),
    )
    .addOption(graceOption())
    .option('-c, --command <command>', 'run COMMAND with /bin/sh -c')
    .option('--verbose', 'log sync decisions on stderr')
    .argument('<name>', 'the election name')
    .argument('[command...]', 'the command to run while leader, and its arguments (no -- needed)')
    .passThroughOptions()
    .action(async (name: string, args: string[], opts: LeaderCliOptions) => {
      warnDataIgnored('leader', opts.group, opts.data);
      const command = commandOf(opts.command, args);
      const { ctl, off } = interruptSignal();
      let locks: Locks | undefined;
      const stopped = new Promise<'stop'>((resolve) =>
        ctl.signal.addEventListener('abort', () => resolve('stop'), { once: true }),
      );
      try {
        locks = await openLocksClient({
          group: opts.group,
          replicaWaitMs: opts.timeout,
          signal: ctl.signal,
          ...(opts.verbose ? { log: verboseLog } : {}),
        });
        const value = { host: hostname(), pid: process.pid };
        for (;;) {
          let leadership: Leadership;
          try {
            leadership = await locks.campaign(name, { value, signal: ctl.signal });
          } catch (err) {
            if (ctl.signal.aborted) return;
            if (!(err instanceof NoQuorumError)) throw err;
            // a minority refuses a campaign at once: a service waits for quorum and goes on
            process.stderr.write(
              `cpgkit: leader '${name}': no quorum here; campaigning again once it returns\n`,
            );
            try {
              await locks.machine.ready({ signal: ctl.signal });
            } catch {
              return; // interrupted
            }
            continue;
          }
          process.stderr.write(`cpgkit: leader of '${name}' in term ${leadership.term}\n`);
          const { child, exited } = runChild(command, {
            CPGKIT_TERM: leadership.term.toString(),
            CPGKIT_LEADER_NAME: name,
          });
          const lost = new Promise<'lost'>((resolve) =>
            leadership.signal.addEventListener('abort', () => resolve('lost'), { once: true }),
          );
          const first = await Promise.race([exited, lost, stopped]);
          if (first === 'lost') {
            const reason = leadership.signal.reason as Error;
            process.stderr.write(
              `cpgkit: ${reason.message}; stopping the command and campaigning again\n`,
            );
            await stopChild(child, exited, opts.grace);
            continue;
          }
          if (first === 'stop') {
            await stopChild(child, exited, opts.grace);
            await leadership.resign();
            return;
          }
          await leadership.resign();
          setExit(first);
          return;
        }
      } finally {
        off();
        await locks?.close();
      }
    });
};
