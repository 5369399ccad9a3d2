/**
 * Where one replica's CPU for an applied `set` goes, stage by stage, outside the machine: the
 * same sets as `fixed-work.ts` (3 × 256 writers, 64 keys each, 8 sets each before and 40
 * measured: a fifth replace a key, the rest add one, on a store growing to 30,720 keys),
 * as a replica meets them: decode the message, parse its JSON body, check the command, apply
 * it (`applyCommand` with the store's `reduceTxn`, the path copy of the tree). Each stage is
 * timed alone (process CPU, the best of several rounds) and cumulatively, so that what
 * `fixed-work.ts` reports beyond the last line is the machine, the transport, the sender's
 * share, the promises and the garbage collection of the whole: the floor of this design is
 * the sum printed here plus what the profile of `fixed-work.ts` shows of those.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/apply.ts [--rounds N]
 * ```
 * @module
 */
import { applyCommand } from '../src/apply.js';
import type { Image } from '../src/image.js';
import { mapDefinition, type MapCommand, type MapState } from '../src/index.js';
import { checkSizes, DEFAULT_LIMITS } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { isMapCommand } from '../src/map/definition.js';
import {
  Kind,
  decodeFrame,
  encodeJsonFrame,
  encodeName,
  parseCommandBody,
  type CommandBody,
} from '../src/wire.js';

const at = process.argv.indexOf('--rounds');
const rounds = at < 0 ? 7 : Number(process.argv[at + 1]);
if (!Number.isSafeInteger(rounds) || rounds <= 0) throw new Error('--rounds wants a count');

const def = mapDefinition('cpgkit.kv');
const header = {
  kind: Kind.command,
  incarnation: '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
  epoch: 1,
  nameBytes: encodeName('cpgkit.kv'),
};
const sender = { nodeid: 1, pid: 1, incarnation: header.incarnation };

/** The commands of `fixed-work.ts` for sets `from` to `to` of every writer, in a writer-interleaved order. */
function commands(from: number, to: number): MapCommand[] {
  const out: MapCommand[] = [];
  for (let i = from; i < to; i++)
    for (let m = 0; m < 3; m++)
      for (let w = 0; w < 256; w++)
        out.push({
          compares: [],
          ops: [
            {
              op: 'set',
              key: `tp/${m}/${w}/${i % 64}`,
              value: { n: i, pad: 'abcdefghijklmnopqrstuvwx' },
            },
          ],
        });
  return out;
}

const frameOf = (c: MapCommand, i: number, ids: readonly string[]): Uint8Array =>
  encodeJsonFrame({ ...header, commandId: ids[i] }, { t: 1_733_370_000_000 + i, c });

// the store after the warm-up sets, as an image
let base: Image<MapState> = {
  epoch: 1,
  index: 0n,
  time: 0,
  members: [],
  knownNodes: [],
  replicas: [],
  gone: [],
  settled: 0,
  provenReplicas: [],
  provenGone: [],
  state: (def.initial as () => MapState)(),
};
for (const c of commands(0, 8))
  base = applyCommand(base, { command: c, sender, commandId: '', t: 0 }, def, undefined).image;

const measured = commands(0, 40);
const ids = measured.map((_, i) => `0190a1b2-c3d4-7e5f-8a6b-${i.toString(16).padStart(12, '0')}`);
const frames = measured.map((c, i) => frameOf(c, i, ids));
const bodies = frames.map((f) => decodeFrame(f)!.body);
const parsed = bodies.map((b) => parseCommandBody(b)!);

/** The best CPU µs per set over `rounds` runs of `run` over every measured set. */
function best(run: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    run();
    const c = process.cpuUsage(c0);
    min = Math.min(min, (c.user + c.system) / measured.length);
  }
  return Math.round(min * 100) / 100;
}

let sink: unknown;
const stages: Record<string, number> = {
  'encode (sender: JSON text into the frame)': best(() => {
    for (let i = 0; i < measured.length; i++) sink = frameOf(measured[i]!, i, ids);
  }),
  'decode the frame header': best(() => {
    for (const f of frames) sink = decodeFrame(f);
  }),
  'parse the JSON body': best(() => {
    for (const b of bodies) sink = parseCommandBody(b);
  }),
  isMapCommand: best(() => {
    for (const p of parsed) sink = isMapCommand(p.c);
  }),
  'checkSizes (key and value bytes)': best(() => {
    for (const p of parsed) {
      const op = (p.c as MapCommand).ops[0]!;
      if (op.op === 'set') sink = checkSizes(op.key, op.value, DEFAULT_LIMITS);
    }
  }),
  'reduceTxn (with checkSizes)': best(() => {
    let s = base.state;
    for (const p of parsed) s = reduceTxn(s, p.c as MapCommand, DEFAULT_LIMITS).state;
    sink = s;
  }),
  'applyCommand (isMapCommand + reduceTxn + context, change, image)': best(() => {
    let img = base;
    for (const p of parsed) img = apply(img, p);
    sink = img;
  }),
  'decode + parse + applyCommand': best(() => {
    let img = base;
    for (const f of frames) {
      const d = decodeFrame(f)!;
      img = apply(img, parseCommandBody(d.body)!);
    }
    sink = img;
  }),
};

function apply(img: Image<MapState>, p: CommandBody): Image<MapState> {
  return applyCommand(
    img,
    { command: p.c as MapCommand, sender, commandId: '', t: p.t },
    def,
    undefined,
  ).image;
}

void sink;
console.log(
  `${measured.length} sets (${base.state.count} keys before, as fixed-work.ts), best of ${rounds} rounds, CPU µs per set:`,
);
for (const [stage, us] of Object.entries(stages))
  console.log(`  ${us.toFixed(2).padStart(6)}  ${stage}`);
console.log(JSON.stringify({ bench: 'statemachine/apply', unit: 'µs CPU per set', stages }));
