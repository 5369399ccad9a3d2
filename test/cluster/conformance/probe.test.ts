import { it } from 'vitest';
import { Names, Recorder } from '../../conformance/src/recorder.js';
import { MemoryFixture } from '../../conformance/src/memory-fixture.js';
import type { ClusterFixture } from '../../conformance/src/fixture.js';
import { RealCluster } from '../harness/real-cluster.js';

async function scenario(f: ClusterFixture): Promise<string> {
  const names = new Names();
  const g = `probe-${Math.random().toString(36).slice(2)}`;
  const recs: Recorder[] = [];
  const mk = async (node: number, label: string) => {
    const m = await f.member(node);
    const r = new Recorder(m);
    recs.push(r);
    await m.join(g, { timeout: 30000 });
    names.add(label, m);
    return m;
  };
  const a = await mk(1, 'a');
  const b = await mk(2, 'b');
  const c = await mk(3, 'c');
  const a2 = await mk(1, 'a2');
  await f.waitFor(() => [a, b, c, a2].every((m) => m.members().length === 4), 30000, 'x');
  await f.partition([3], [1, 2]);
  await f.waitFor(() => c.members().length === 1 && a.members().length === 3, 30000, 'p');
  await f.settle(3000);
  await f.heal();
  await f.waitFor(() => c.members().length === 4 && a.members().length === 4, 30000, 'h');
  await f.settle(3000);
  await a2.leave();
  await f.crashProcess(b);
  await f.waitFor(() => a.members().length === 2, 30000, 'cp');
  await f.settle(2000);
  const out = recs.map((r, i) => `--- ${['a', 'b', 'c', 'a2'][i]}\n${r.describe(names).join('\n')}`).join('\n');
  await f.close();
  return out;
}

it('probe', async () => {
  console.log('MEMORY\n' + (await scenario(new MemoryFixture({ seed: 5 }))));
  console.log('REAL\n' + (await scenario(await RealCluster.open())));
}, 300000);
