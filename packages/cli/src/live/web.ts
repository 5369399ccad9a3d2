/**
 * The live view over HTTP: the page (`GET /`, with `/app.js` and `/style.css`: static files
 * shipped in the package's `web/` folder, no build step), the snapshot as JSON
 * (`GET /api/state`) and the live updates as server-sent events (`GET /events`,
 * `text/event-stream`: one `snapshot` event, then `status`, `event` and `change` events).
 * @module
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveMessage, LiveState } from './live-state.js';

/** The page's files: `packages/cli/web/` from both `src/live/` and `dist/live/`. */
export const WEB_DIR = new URL('../../web/', import.meta.url);

const FILES: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** A server-sent event stream says something this often, so proxies keep it open (ms). */
const HEARTBEAT_MS = 15_000;

/** Serves one `LiveState`; `handle` answers the view's paths and returns false for others. */
export interface LiveViewHandler {
  /** Answer `req` when its path is the view's (true), or leave it (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** End every open event stream. */
  close(): void;
}

/** The HTTP side of the live view of `live`. */
export function liveViewHandler(live: LiveState): LiveViewHandler {
  const cache = new Map<string, Buffer>();
  const streams = new Set<ServerResponse>();
  const file = (name: string): Buffer => {
    let b = cache.get(name);
    if (b === undefined) {
      b = readFileSync(new URL(name, WEB_DIR));
      cache.set(name, b);
    }
    return b;
  };
  return {
    handle(req, res) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const f = FILES[path];
      if (f !== undefined) {
        let body: Buffer;
        try {
          body = file(f.file);
        } catch (e) {
          res
            .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
            .end(`the live view's ${f.file} is missing from ${WEB_DIR.pathname}: ${String(e)}\n`);
          return true;
        }
        res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-cache' }).end(body);
        return true;
      }
      if (path === '/api/state') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(`${JSON.stringify(live.snapshot())}\n`);
        return true;
      }
      if (path === '/events') {
        stream(live, req, res, streams);
        return true;
      }
      return false;
    },
    close() {
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}

function stream(
  live: LiveState,
  req: IncomingMessage,
  res: ServerResponse,
  streams: Set<ServerResponse>,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const send = (type: string, data: unknown): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  res.write('retry: 1000\n\n');
  send('snapshot', live.snapshot());
  const off = live.subscribe((m: LiveMessage) => {
    if (m.type === 'status') send('status', m.status);
    else if (m.type === 'event') send('event', m.event);
    else send('change', m.change);
  });
  const beat = setInterval(() => res.write(': alive\n\n'), HEARTBEAT_MS);
  beat.unref();
  streams.add(res);
  const done = (): void => {
    clearInterval(beat);
    off();
    streams.delete(res);
  };
  res.on('close', done);
  req.on('close', done);
}
