/**
 * `cpgkit listen GROUP [--count N] [--json]`: join a group and print every event (messages,
 * membership, totem, quorum) as it arrives; exit 0 after N messages, or on Ctrl-C.
 * @module
 */
import { corosync, Group, type GroupEvent } from '@cpgkit/core';
import { positiveInt, type RegisterCommand } from '../util.js';
import { eventJson, eventText } from './event-format.js';

interface ListenOptions {
  count?: number;
  json?: boolean;
}

/** Registers `cpgkit listen`. */
export const registerListen: RegisterCommand = (program) => {
  program
    .command('listen')
    .description('join GROUP and print each event; with --count, exit after that many messages')
    .argument('<group>', 'the group to join (1-128 bytes of UTF-8)')
    .option('--count <n>', 'exit 0 after this many messages', positiveInt('--count'))
    .option(
      '--json',
      'one JSON object a line, e.g. {"type":"message","sender":{"nodeid":1,"pid":123},"data":"hi"}',
    )
    .action(async (name: string, opts: ListenOptions) => {
      const group = new Group(corosync());
      let stopped = false;
      const print = (event: GroupEvent): void => {
        if (stopped) return; // e.g. our own leave while closing
        process.stdout.write(
          `${opts.json ? JSON.stringify(eventJson(event)) : eventText(event)}\n`,
        );
      };
      let messages = 0;
      let done!: () => void;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      for (const type of ['membership', 'totem', 'quorum'] as const) group.on(type, print);
      group.on('message', (m) => {
        if (opts.count !== undefined && messages >= opts.count) return;
        print(m);
        messages += 1;
        if (opts.count !== undefined && messages >= opts.count) done();
      });
      const stop = (): void => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await group.join(name);
        const ended = await Promise.race([finished.then(() => undefined), group.closed()]);
        if (ended instanceof Error) throw ended;
      } finally {
        stopped = true;
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await group.close();
      }
    });
};
