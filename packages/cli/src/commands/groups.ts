/**
 * `cpgkit groups [--json]`: every process group in the cluster and its members, like
 * `corosync-cpgtool`.
 * @module
 */
import { corosync, Group } from '@cpgkit/core';
import type { RegisterCommand } from '../util.js';
import { memberJson } from './event-format.js';

/** Registers `cpgkit groups`. */
export const registerGroups: RegisterCommand = (program) => {
  program
    .command('groups')
    .description('list every process group in the cluster and its members (like corosync-cpgtool)')
    .option(
      '--json',
      'print one JSON array: [{"group": "...", "members": [{"nodeid": 1, "pid": 123}]}]',
    )
    .action(async (opts: { json?: boolean }) => {
      const group = new Group(corosync());
      try {
        const list = await group.groups();
        if (opts.json) {
          const out = list.map((g) => ({ group: g.group, members: g.members.map(memberJson) }));
          process.stdout.write(`${JSON.stringify(out)}\n`);
          return;
        }
        if (list.length === 0) {
          process.stdout.write('no groups\n');
          return;
        }
        const lines = ['Group Name                        PID    Node ID'];
        for (const g of list) {
          lines.push(g.group);
          for (const m of g.members)
            lines.push(
              `${' '.repeat(24)}${String(m.pid).padStart(10)} ${String(m.nodeid).padStart(10)}`,
            );
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await group.close();
      }
    });
};
