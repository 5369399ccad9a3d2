/**
 * The harness's side of the client processes: one per node, started inside the node's
 * namespace (`ip netns exec`, the TypeScript source through tsx), spoken to over its stdin and
 * stdout (`protocol.ts`). Its records go to the run's merged histories; its `fence` requests to
 * the run's fenced resources.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { namespaceOf, repoRoot } from './cluster.js';
import type { FromClient, ToClient } from './protocol.js';

const clientPath = join(dirname(fileURLToPath(import.meta.url)), 'client.ts');

type Reply = Extract<FromClient, { id: number }>;

/** A client process of one node. */
export class ClientProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly #waiting = new Map<number, (m: Reply) => void>();
  #id = 0;
  readonly #log: WriteStream;

  constructor(
    readonly node: number,
    logFile: string,
    onMessage: (m: FromClient) => void,
  ) {
    this.#log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespaceOf(node),
        process.execPath,
        '--conditions=@cpgkit/source',
        '--import',
        'tsx',
        clientPath,
      ],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr!.pipe(this.#log, { end: false });
    this.exited = new Promise((r) => this.child.on('close', () => r()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let m: FromClient;
      try {
        m = JSON.parse(line) as FromClient;
      } catch {
        this.#log.write(`${line}\n`);
        return;
      }
      if (m.type === 'log') {
        this.#log.write(`${new Date().toISOString()} ${m.message}\n`);
        return;
      }
      if ('id' in m) {
        const w = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        w?.(m);
        return;
      }
      onMessage(m);
    });
  }

  send(m: ToClient): void {
    this.child.stdin!.write(JSON.stringify(m) + '\n');
  }

  /** Send a request with a fresh id and wait for the answer (rejects after `timeoutMs`). */
  request<T extends Reply>(make: (id: number) => ToClient, timeoutMs: number): Promise<T> {
    const id = ++this.#id;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`client on node ${this.node} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, (m) => {
        clearTimeout(t);
        resolve(m as T);
      });
      this.send(make(id));
    });
  }

  /** Close stdin (the client closes its handles and exits); SIGKILL after `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
    this.#log.end();
  }
}
