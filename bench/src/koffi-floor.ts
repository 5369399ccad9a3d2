/**
 * The floor of any koffi binding of libcpg: the C reference client's loop (bench/native/cpgbench.c)
 * written line for line in JavaScript over koffi, with none of cpgkit's code: send until
 * CS_ERR_TRY_AGAIN, then a blocking `poll(fd, 1 ms)` and `cpg_dispatch(CS_DISPATCH_ALL)`, count
 * our own deliveries (each body copied with one memcpy). It blocks the event loop, as C does,
 * so it is a measuring stick, not a way to use CPG from Node.
 *
 * `raw.ts` runs it next to C and cpgkit: C ÷ floor is what Node + koffi cost by themselves,
 * floor ÷ cpgkit is what cpgkit's binding adds on top.
 *
 * ```
 * node bench/src/koffi-floor.ts  # (through tsx) --group G --count N --size BYTES
 * ```
 * Prints one JSON line like cpgbench's: `{"msgsPerSec", "mbPerSec", "count", "size", "seconds", "cpuUsPerMsg", "mode": "koffi-floor"}`.
 * @module
 */
import koffi from 'koffi';

const CS_OK = 1;
const CS_ERR_TRY_AGAIN = 6;
const CPG_TYPE_AGREED = 2;
const CS_DISPATCH_ALL = 2;
const POLLIN = 1;

function option(name: string, fallback: number | string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : String(fallback);
}
const group = option('--group', 'cpgkit-bench-floor');
const count = Number(option('--count', 20000));
const size = Number(option('--size', 64));
const warmup = Math.min(count, 5000);

const cpg = koffi.load('libcpg.so.4');
const libc = koffi.load('libc.so.6');
const deliverProto = koffi.proto(
  'void floor_deliver_fn(uintptr_t h, uintptr_t g, uint32_t nodeid, uint32_t pid, uintptr_t msg, size_t len)',
);
const confchgProto = koffi.proto(
  'void floor_confchg_fn(uint64_t h, uintptr_t g, uintptr_t m, size_t nm, uintptr_t l, size_t nl, uintptr_t j, size_t nj)',
);
const model = koffi.struct('floor_model_v1', {
  model: 'int',
  deliver: koffi.pointer(deliverProto),
  confchg: koffi.pointer(confchgProto),
  totem: 'void *',
  flags: 'unsigned int',
});
const initialize = cpg.func('cpg_model_initialize', 'int', [
  'void *',
  'int',
  koffi.pointer(model),
  'void *',
]);
type Call = (...args: unknown[]) => number;
const fdGet = cpg.func('int cpg_fd_get(uint64_t h, void *fd)') as Call;
const localGet = cpg.func('int cpg_local_get(uint64_t h, void *nodeid)') as Call;
const join = cpg.func('int cpg_join(uint64_t h, const void *g)') as Call;
const dispatch = cpg.func('int cpg_dispatch(uint64_t h, int flags)') as Call;
const finalize = cpg.func('int cpg_finalize(uint64_t h)') as Call;
const mcast = cpg.func(
  'int cpg_mcast_joined(uint64_t h, int g, const void *iov, unsigned int n)',
) as Call;
const poll = libc.func('int poll(void *fds, unsigned long n, int timeout)') as Call;
const memcpy = libc.func('void *memcpy(void *dst, uintptr_t src, size_t n)') as Call;

const out = Buffer.alloc(8);
let localNode = -1;
let own = 0;
let joined = false;
const scratch = Buffer.alloc(Math.max(size, 64 * 1024));
const deliver = koffi.register(
  (_h: unknown, _g: number, nodeid: number, pid: number, msg: number, len: number) => {
    memcpy(scratch, msg, len);
    if (nodeid === localNode && pid === process.pid) own++;
  },
  koffi.pointer(deliverProto),
);
const confchg = koffi.register(() => {
  joined = true;
}, koffi.pointer(confchgProto));

function check(rc: number, call: string): void {
  if (rc !== CS_OK) throw new Error(`${call}: cs_error_t ${rc}`);
}
check(
  initialize(out, 1, { model: 1, deliver, confchg, totem: null, flags: 0 }, null) as number,
  'cpg_model_initialize',
);
const handle = out.readBigUInt64LE(0);
check(fdGet(handle, out), 'cpg_fd_get');
const fd = out.readInt32LE(0);
check(localGet(handle, out), 'cpg_local_get');
localNode = out.readUInt32LE(0);
const name = Buffer.alloc(4 + 128);
name.writeUInt32LE(name.write(group, 4), 0);
let rc: number;
while ((rc = join(handle, name)) === CS_ERR_TRY_AGAIN) await new Promise((r) => setTimeout(r, 10));
check(rc, 'cpg_join');

const pollfd = Buffer.alloc(8);
pollfd.writeInt32LE(fd, 0);
pollfd.writeInt16LE(POLLIN, 4);
function dispatchWait(timeoutMs: number): void {
  pollfd.writeInt16LE(0, 6);
  if (poll(pollfd, 1, timeoutMs) > 0) check(dispatch(handle, CS_DISPATCH_ALL), 'cpg_dispatch');
}
while (!joined) dispatchWait(100);

// one iovec in native memory pointing at the payload, as cpgbench.c builds on its stack
const payload: unknown = koffi.alloc('uint8_t', Math.max(size, 1));
new Uint8Array(koffi.view(payload, Math.max(size, 1))).fill(0x78);
const iov: unknown = koffi.alloc('uint8_t', 16);
const iovWords = new BigUint64Array(koffi.view(iov, 16));
iovWords[0] = BigInt(koffi.address(payload));
iovWords[1] = BigInt(size);

function flood(n: number): void {
  let sent = 0;
  own = 0;
  while (own < n) {
    while (sent < n) {
      const e = mcast(handle, CPG_TYPE_AGREED, iov, 1);
      if (e === CS_ERR_TRY_AGAIN) break;
      check(e, 'cpg_mcast_joined');
      sent++;
    }
    dispatchWait(sent < n ? 1 : 100);
  }
}

if (warmup > 0) flood(warmup);
const c0 = process.cpuUsage();
const t0 = performance.now();
flood(count);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
finalize(handle);
process.stdout.write(
  `${JSON.stringify({
    msgsPerSec: count / seconds,
    mbPerSec: (count * size) / seconds / 1e6,
    count,
    size,
    seconds,
    cpuUsPerMsg: (cpu.user + cpu.system) / count,
    mode: 'koffi-floor',
  })}\n`,
);
