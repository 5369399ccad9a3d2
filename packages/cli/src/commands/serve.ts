/**
 * `cpgkit serve --group G --data DIR [--durability memory|fsync] [--http 127.0.0.1:PORT]
 * [--log-format text|json]`: the
 * node agent, one per node: the long-lived replica of group G's config store (CPG group `G`)
 * and lock and election service (`G.locks`), persisted in DIR. Runs until SIGTERM/SIGINT, then
 * retires from both replica sets, writes to disk and exits 0. When its corosync daemon dies or
 * restarts it reconnects with backoff and rejoins as the same replica. `kv serve` is an alias.
 * @module
 */
import type { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import { logAgent } from '../agent/agent-logs.js';
import { groupNames } from '../agent/group-names.js';
import { health } from '../agent/health.js';
import { httpUrl, parseHttpAddress, startHttp, type HttpAddress } from '../agent/http.js';
import { createLogger, type LogFormat } from '../agent/logger.js';
import { agentMetrics } from '../agent/metrics.js';
import { cliTransport } from '../clients.js';
import { ENV, groupOption, UsageError, type RegisterCommand } from '../util.js';
import type { Durability } from '@cpgkit/statemachine';
import { Option } from 'commander';
import { interruptSignal } from '../interrupt.js';
import { agentLiveState } from '../live/agent-view.js';
import { liveViewHandler } from '../live/web.js';

/** Options of `cpgkit serve`. */
export interface ServeOptions {
  readonly group: string;
  readonly data?: string;
  readonly http?: HttpAddress;
  readonly logFormat: LogFormat;
  readonly verbose?: boolean;
  readonly forceBootstrap?: boolean;
  readonly bootstrapAlone?: boolean;
  readonly durability: Durability;
}

/** Add `serve`'s options to `cmd` (`serve` and its alias `kv serve`). */
export function serveCommand(cmd: Command): Command {
  return cmd
    .addOption(groupOption('the cpgkit group (store in G, locks in G.locks)'))
    .addOption(
      new Option('--data <dir>', 'persist both replicas here; restored on start (recommended)').env(
        ENV.data,
      ),
    )
    .addOption(
      new Option(
        '--http <[host:]port>',
        'serve the live view (/, /events, /api/state), /healthz and /metrics here (host defaults to 127.0.0.1)',
      )
        .env(ENV.http)
        .argParser((v: string) => {
          const a = parseHttpAddress(v);
          if (a === undefined) throw new UsageError(`--http wants [HOST:]PORT, got '${v}'`);
          return a;
        }),
    )
    .addOption(
      new Option('--log-format <format>', 'text (lines for people) or json (one object a line)')
        .choices(['text', 'json'])
        .env(ENV.logFormat)
        .default('text'),
    )
    .addOption(
      new Option(
        '--durability <mode>',
        'acknowledge a write once a majority has it in memory (disk within 50 ms), or on disk (fsync, needs --data)',
      )
        .choices(['memory', 'fsync'])
        .env(ENV.durability)
        .default('memory'),
    )
    .option('--verbose', 'log sync decisions too (debug level)')
    .option(
      '--bootstrap-alone',
      'a brand-new cluster where not every node runs cpgkit serve: start the store without waiting for a replica on every node (first start only; never on a replaced disk)',
    )
    .option(
      '--force-bootstrap',
      'escape hatch when most replicas are lost for good: go on from the newest state present (once, on one replica)',
    )
    .action(serve);
}

/** Run the agent until SIGTERM/SIGINT. */
export async function serve(opts: ServeOptions): Promise<void> {
  const names = groupNames(opts.group);
  const log = createLogger(opts.logFormat, opts.verbose);
  const { ctl, off } = interruptSignal();
  const agent = new Agent({
    names,
    ...(opts.data === undefined ? {} : { dataDir: opts.data }),
    open: () => cliTransport.open(),
    log,
    ...(opts.verbose ? { verbose: true } : {}),
    ...(opts.forceBootstrap ? { forceBootstrap: true } : {}),
    ...(opts.bootstrapAlone ? { bootstrapAlone: true } : {}),
    durability: opts.durability,
  });
  if (opts.data === undefined && opts.durability === 'fsync')
    throw new UsageError('--durability fsync needs --data (the disk it waits for)');
  if (opts.data === undefined)
    log.warn(
      { event: 'no-data-dir' },
      'no --data: the replicas live in memory only (a restart is a new replica)',
    );
  const offLog = logAgent(agent, log);
  const registry = agentMetrics(agent);
  const view = opts.http === undefined ? undefined : agentLiveState(agent, names);
  const web = view === undefined ? undefined : liveViewHandler(view.live);
  let http: Awaited<ReturnType<typeof startHttp>> | undefined;
  try {
    if (opts.http !== undefined) {
      http = await startHttp(
        opts.http,
        () => health(agent.state),
        registry,
        web === undefined ? undefined : (req, res) => web.handle(req, res),
      );
      log.info(
        {
          event: 'http',
          host: http.address.host,
          port: http.address.port,
          url: httpUrl(http.address),
        },
        `http on ${http.address.host}:${http.address.port}: live view ${httpUrl(http.address)}, /healthz, /metrics`,
      );
    }
    agent.start();
    await new Promise<void>((resolve) => {
      if (ctl.signal.aborted) resolve();
      else ctl.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info(
      { event: 'stopping', reason: (ctl.signal.reason as Error).message },
      `stopping: ${(ctl.signal.reason as Error).message}`,
    );
    const last = agent.state;
    await agent.stop();
    if (last.kind === 'running')
      log.info(
        { event: 'stopped', revision: last.replicas.kv.revision, keys: last.replicas.kv.size },
        `stopped at revision ${last.replicas.kv.revision} (${last.replicas.kv.size} keys)`,
      );
    else log.info({ event: 'stopped' }, 'stopped');
  } finally {
    off();
    offLog();
    await agent.stop();
    view?.close();
    web?.close();
    await http?.close();
    log.flush();
  }
}

/** Registers `cpgkit serve`. */
export const registerServe: RegisterCommand = (program) => {
  serveCommand(
    program
      .command('serve')
      .description(
        "run this node's long-lived replica of group G: the config store, locks and elections (until SIGTERM/SIGINT)",
      ),
  );
};
