/**
 * The agent's logger (pino): `--log-format json` writes pino's JSON lines (one object a line:
 * `level`, `time`, `msg`, `event` and the event's fields); `text` (the default) writes
 * `cpgkit serve: MSG` lines for people. Both on stderr.
 * @module
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** `--log-format`. */
export type LogFormat = 'text' | 'json';

/**
 * A logger writing to `out` (stderr by default).
 * @param format - `json`: pino's lines as they are; `text`: `cpgkit serve: MSG` lines
 * @param verbose - debug level (the state machines' sync decisions) instead of info
 */
export function createLogger(
  format: LogFormat,
  verbose = false,
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const level = verbose ? 'debug' : 'info';
  const base = { name: 'cpgkit-serve' };
  if (format === 'json')
    return pino(
      { level, base },
      out === process.stderr ? pino.destination({ dest: 2, sync: true }) : out,
    );
  return pino({ level, base }, textStream(out));
}

/** Turns pino's JSON lines into `cpgkit serve: MSG` (the fields stay in the JSON format). */
function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const o = JSON.parse(line) as { msg?: string; level?: number };
          const tag = (o.level ?? 30) >= 40 ? 'warning: ' : '';
          out.write(`cpgkit serve: ${tag}${o.msg ?? ''}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
