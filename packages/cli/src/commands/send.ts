/**
 * `cpgkit send GROUP MESSAGE... [--repeat N]`: join, send each message (N times over), wait until
 * every one has come back to us in the group's agreed order, leave, exit 0.
 * @module
 */
import { corosync, Group, TimeoutError } from '@cpgkit/core';
import { Option } from 'commander';
import { duration, formatDuration } from '../durations.js';
import { positiveInt, type RegisterCommand } from '../util.js';

interface SendOptions {
  repeat: number;
  timeout: number;
}

/** Registers `cpgkit send`. */
export const registerSend: RegisterCommand = (program) => {
  program
    .command('send')
    .description('send each MESSAGE to GROUP and wait until each has come back to us')
    .argument('<group>', 'the group to join (1-128 bytes of UTF-8)')
    .argument('<message...>', 'the messages (UTF-8 text), sent in this order')
    .option('--repeat <n>', 'send the messages this many times over', positiveInt('--repeat'), 1)
    .addOption(
      new Option(
        '--timeout <duration>',
        'give up waiting for our messages after this long (exit 6), e.g. 500ms, 30s (bare: milliseconds)',
      )
        .argParser(duration('--timeout', 'ms'))
        .default(30_000, '30s'),
    )
    .action(async (name: string, messages: string[], opts: SendOptions) => {
      const group = new Group(corosync());
      const enc = new TextEncoder();
      const expected = messages.length * opts.repeat;
      let back = 0;
      let done!: () => void;
      const allBack = new Promise<void>((resolve) => {
        done = resolve;
      });
      group.on('message', (m) => {
        const self = group.self;
        if (m.sender.nodeid !== self.nodeid || m.sender.pid !== self.pid) return;
        back += 1;
        if (back === expected) done();
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        await group.join(name, { timeout: opts.timeout });
        for (let i = 0; i < opts.repeat; i++) {
          for (const text of messages) await group.send(enc.encode(text));
        }
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new TimeoutError(
                  `only ${back} of ${expected} messages came back to us within ${formatDuration(opts.timeout)}`,
                ),
              ),
            opts.timeout,
          );
        });
        const ended = await Promise.race([allBack.then(() => undefined), group.closed(), timedOut]);
        if (ended instanceof Error) throw ended;
      } finally {
        clearTimeout(timer);
        await group.close();
      }
    });
};
