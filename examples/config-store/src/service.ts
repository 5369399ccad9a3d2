/**
 * The config-store service: one node's replica of a `ReplicatedMap`, over HTTP.
 *
 * | request                               | answer                                             |
 * | ------------------------------------- | -------------------------------------------------- |
 * | `GET /kv/KEY`                         | `200 {key, value, revision, ...}` or `404`         |
 * | `GET /kv?prefix=P`                    | `200 {revision, items: [...]}`                     |
 * | `PUT /kv/KEY` + JSON body             | `200 {revision}`                                   |
 * | `PUT /kv/KEY?revision=R` + JSON body  | compare-and-set: `200 {revision}` or `409`         |
 * | `DELETE /kv/KEY`                      | `200 {revision}`                                   |
 * | `GET /watch?prefix=P[&fromRevision=R]`| `text/event-stream`: one `change` event per change |
 * | `GET /status`                         | `200 {node, status, stale, revision, digest}`      |
 *
 * Reads are local (no network round trip) and carry `stale: true` when this replica is not
 * synced in a quorate component (`503` before the replica's first sync: `NotReadyError`).
 * Writes go through the group: `503` when this node has no quorum, `409` when a
 * compare-and-set lost, `413` for a value over the size limit.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  CompareFailedError,
  NoQuorumError,
  NotReadyError,
  ValueTooLargeError,
  type Json,
  type ReplicatedMap,
} from '@cpgkit/statemachine';
import { eventStream, HttpError, readJson, sendJson } from './http.js';

/** Options for `createConfigServer`. */
export interface ConfigServerOptions {
  /** The node this replica runs on (shown in `/status`). */
  readonly node: number;
  /** How long a write may wait for the group (ms). @defaultValue 10000 */
  readonly writeTimeout?: number;
}

/**
 * An HTTP server (not yet listening) over one replica of the config store.
 *
 * @example
 * ```ts
 * const kv = await ReplicatedMap.open(group, { groupName: 'config' });
 * const server = createConfigServer(kv, { node: 1 });
 * server.listen(8081, '127.0.0.1');
 * ```
 */
export function createConfigServer(map: ReplicatedMap, options: ConfigServerOptions): Server {
  const timeout = options.writeTimeout ?? 10_000;
  return createServer((req, res) => {
    handle(map, options.node, timeout, req, res).catch((err: unknown) =>
      answerError(map, res, err),
    );
  });
}

async function handle(
  map: ReplicatedMap,
  node: number,
  timeout: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/status' && req.method === 'GET') {
    sendJson(res, 200, {
      node,
      status: map.status,
      stale: map.stale,
      revision: map.revision,
      size: map.size,
      digest: map.machine.digest(),
    });
    return;
  }
  if (path === '/kv' && req.method === 'GET') {
    const prefix = url.searchParams.get('prefix') ?? '';
    sendJson(res, 200, { revision: map.revision, stale: map.stale, items: map.list(prefix) });
    return;
  }
  if (path === '/watch' && req.method === 'GET') {
    const prefix = url.searchParams.get('prefix') ?? '';
    const from = url.searchParams.get('fromRevision');
    const fromRevision = from === null ? undefined : intParam('fromRevision', from);
    const stream = eventStream(req, res);
    const changes = map.watch(prefix, { fromRevision, signal: stream.signal });
    stream.send('ready', { revision: map.revision });
    for await (const change of changes) stream.send('change', change);
    res.end();
    return;
  }
  if (!path.startsWith('/kv/')) throw new HttpError(404, `no route ${req.method} ${path}`);
  const key = decodeURIComponent(path.slice('/kv/'.length));
  if (key === '') throw new HttpError(400, 'empty key');
  switch (req.method) {
    case 'GET': {
      const entry = map.entry(key);
      if (entry === undefined) throw new HttpError(404, `no key '${key}'`);
      sendJson(res, 200, { key, ...entry, stale: map.stale });
      return;
    }
    case 'PUT': {
      const value = (await readJson(req)) as Json;
      const expected = url.searchParams.get('revision');
      const revision =
        expected === null
          ? await map.set(key, value, { timeout })
          : await map.compareAndSet(key, intParam('revision', expected), value, { timeout });
      sendJson(res, 200, { key, revision });
      return;
    }
    case 'DELETE': {
      const revision = await map.delete(key, { timeout });
      sendJson(res, 200, { key, revision });
      return;
    }
    default:
      throw new HttpError(405, `method ${req.method} not allowed on /kv/KEY`);
  }
}

function intParam(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new HttpError(400, `${name} must be a non-negative integer`);
  return n;
}

function answerError(map: ReplicatedMap, res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
  if (err instanceof CompareFailedError) {
    // the key's revision now: what a retrying client passes as `?revision=` next
    const current = map.entry(err.key)?.revision ?? 0;
    return sendJson(res, 409, { error: err.message, key: err.key, current });
  }
  if (err instanceof NoQuorumError || err instanceof NotReadyError)
    return sendJson(res, 503, { error: err.message });
  if (err instanceof ValueTooLargeError) return sendJson(res, 413, { error: err.message });
  const e = err instanceof Error ? err : new Error(String(err));
  sendJson(res, 500, { error: `${e.name}: ${e.message}` });
}
