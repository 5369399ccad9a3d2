/**
 * Small node:http helpers: JSON bodies and answers, and a server-sent-events stream.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The largest request body the service reads (bytes). */
export const MAX_BODY = 1 << 20;

/** A request the service refuses, with the HTTP status to answer. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Read and parse a JSON request body. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'a JSON body is required');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
}

/** Answer with a JSON body (bigints as decimal strings). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Turn `res` into a server-sent-events stream. Returns `send(event, data)` and an
 * AbortSignal that aborts when the client goes away.
 */
export function eventStream(
  req: IncomingMessage,
  res: ServerResponse,
): { send: (event: string, data: unknown) => void; signal: AbortSignal } {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  const controller = new AbortController();
  const stop = () => controller.abort();
  req.on('close', stop);
  res.on('close', stop);
  // a comment line now and then keeps proxies from closing an idle stream
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  controller.signal.addEventListener('abort', () => clearInterval(keepAlive));
  return {
    signal: controller.signal,
    send(event, data) {
      const text = JSON.stringify(data, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      );
      res.write(`event: ${event}\ndata: ${text}\n\n`);
    },
  };
}
