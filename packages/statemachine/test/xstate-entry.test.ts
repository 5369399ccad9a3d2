/**
 * The xstate adapter is a subpath of its own (`@cpgkit/statemachine/xstate`): a process that
 * imports the main entry and runs a `ReplicatedMap` never imports xstate. Each probe is a fresh
 * node process in which resolving xstate throws (fixtures/block-xstate.mjs).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const BLOCK = fileURLToPath(new URL('fixtures/block-xstate.mjs', import.meta.url));

function probe(code: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', BLOCK, '--conditions=@cpgkit/source', '--input-type=module'],
    { cwd: PACKAGE, input: code, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('@cpgkit/statemachine loads xstate only through /xstate', { timeout: 60_000 }, () => {
  it('the main entry runs a ReplicatedMap on 3 in-memory nodes without importing xstate', () => {
    const r = probe(`
      import { MemoryCluster } from '@cpgkit/core/testing';
      import { ReplicatedMap } from '@cpgkit/statemachine';
      const cluster = new MemoryCluster({ nodes: 3 });
      const maps = await Promise.all([1, 2, 3].map((n) => ReplicatedMap.open(cluster.member(n))));
      await cluster.runUntilIdle();
      const set = maps[0].set('k', 'v');
      await cluster.runUntilIdle();
      await set;
      await cluster.runUntilIdle();
      console.log(JSON.stringify(maps.map((m) => m.get('k'))));
      cluster.destroy();
    `);
    expect(r.status, r.out).toBe(0);
    expect(r.out.trim().split('\n').at(-1)).toBe('["v","v","v"]');
  });

  it('the probe does catch an import of xstate: @cpgkit/statemachine/xstate fails in it', () => {
    const r = probe(`import { replicateMachine } from '@cpgkit/statemachine/xstate';`);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(
      /xstate was imported, by .*immer-assign\.ts|xstate was imported, by .*adapter\.ts/,
    );
  });
});
