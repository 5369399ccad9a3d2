/**
 * The lock machine's own share of a lock command, without the replicated state machine around
 * it: `--held N` locks are held, then each round releases one and takes it again (two
 * commands through `reduce`, with journal patches, as a persisting replica runs them), the same
 * work every run. Prints CPU µs per command (process CPU time, so steadier than wall time on a
 * loaded machine) for each of `--rounds R` rounds of `--commands C` commands.
 *
 *   pnpm exec tsx --conditions=@cpgkit/source packages/locks/bench/reduce.ts [--held 192] [--rounds 5] [--commands 40000]
 *
 * `locks.ts --cpu-only` measures the whole command (wire, delivery, acks, the client); this one
 * isolates `reduceLocks`, whose copy of the `locks` record (one member per held lock) was 44%
 * of that whole command with 192 held locks.
 * @module
 */
import type { Patch } from 'immer';
import type { ApplyContext } from '@cpgkit/statemachine';
import { locksMachine } from '../src/machine.js';
import type { LocksCommand } from '../src/commands.js';
import { initialLocksState, type LocksState } from '../src/state.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const HELD = flag('--held', 192);
const ROUNDS = flag('--rounds', 5);
const COMMANDS = flag('--commands', 40_000);

const def = locksMachine();
const names = Array.from({ length: HELD }, (_, i) => `cpu/${i % 3}/${i}`);
const ids = names.map((_, i) => `req-${i}-0`);
let time = 1_000_000;

function ctx(i: number): ApplyContext {
  time++;
  const owner = { incarnation: `incarnation-${i % 3}`, nodeid: (i % 3) + 1, pid: 1000 };
  return { sender: owner, commandId: `cmd-${time}`, time, index: BigInt(time), epoch: 1 };
}

function acquire(i: number): LocksCommand {
  return {
    type: 'acquire',
    name: names[i]!,
    id: ids[i]!,
    kind: 'mutex',
    mode: 'exclusive',
    wait: true,
  };
}

function run(state: LocksState, n: number): { state: LocksState; us: number } {
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < n / 2; k++) {
    const i = k % HELD;
    const patches: Patch[] = [];
    state = def.reduce!(
      state,
      { type: 'release', name: names[i]!, id: ids[i]! },
      ctx(i),
      patches,
    ).state;
    ids[i] = `req-${i}-${time}`;
    const r = def.reduce!(state, acquire(i), ctx(i), patches);
    if ((r.result as { status?: string }).status !== 'granted') throw new Error('not granted');
    state = r.state;
  }
  const cpu = process.cpuUsage(cpu0);
  return { state, us: (cpu.user + cpu.system) / n };
}

let state = initialLocksState();
for (let i = 0; i < HELD; i++) state = def.reduce!(state, acquire(i), ctx(i), undefined).state;
state = run(state, COMMANDS).state; // warm-up
const us: string[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const out = run(state, COMMANDS);
  state = out.state;
  us.push(out.us.toFixed(2));
}
process.stdout.write(
  `reduceLocks, ${HELD} held locks: ${us.join(' ')} µs CPU per command (${ROUNDS} rounds of ${COMMANDS})\n`,
);
