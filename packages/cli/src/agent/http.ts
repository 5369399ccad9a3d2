/**
 * The agent's HTTP endpoint: `GET /healthz` (200 `ok`, or 503 with the reason, as text),
 * `GET /metrics` (Prometheus text format), and the live view's paths when one is given
 * (`/`, `/events`, `/api/state`: see `live/web.ts`). Loopback by default.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Health } from './health.js';

/** An `--http` address: `HOST:PORT`, or `PORT` alone for 127.0.0.1. */
export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parse `--http`: `PORT`, `HOST:PORT` or `[V6]:PORT`; port 0 picks a free one.
 * @returns `undefined` when the text is not an address
 */
export function parseHttpAddress(text: string): HttpAddress | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** What else to answer: true when it answered `req`. */
export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** A listening HTTP server. */
export interface HttpServer {
  readonly server: Server;
  /** The bound address (port 0 resolved). */
  readonly address: HttpAddress;
  /** Stop listening and drop every connection (event streams included). */
  close(): Promise<void>;
}

/** Serve `/healthz`, `/metrics` and `extra`'s paths; resolves once listening. */
export async function startHttp(
  address: HttpAddress,
  health: () => Health,
  registry: Registry,
  extra?: ExtraHandler,
): Promise<HttpServer> {
  return listen(address, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const h = health();
      res
        .writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`${h.reason}\n`);
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(`${String(e)}\n`),
      );
      return;
    }
    if (extra?.(req, res)) return;
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`not found: try ${extra ? '/ (the live view), ' : ''}/healthz or /metrics\n`);
  });
}

/** Listen on `address` with `handler` for GET and HEAD (405 otherwise). */
export async function listen(
  address: HttpAddress,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<HttpServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
  return {
    server,
    address: { host: address.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `http://HOST:PORT/` of `address` (brackets around an IPv6 host). */
export function httpUrl(address: HttpAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}/`;
}
