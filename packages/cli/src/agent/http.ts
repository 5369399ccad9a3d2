/**
 * The agent's HTTP endpoint: `GET /healthz` (200 `ok`, or 503 with the reason, as text) and
 * `GET /metrics` (Prometheus text format). Loopback by default.
 * @module
 */
import { createServer, type Server } from 'node:http';
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

/** Serve `/healthz` and `/metrics`; resolves once listening, with the bound address. */
export async function startHttp(
  address: HttpAddress,
  health: () => Health,
  registry: Registry,
): Promise<{ server: Server; address: HttpAddress; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
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
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: try /healthz or /metrics\n');
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
