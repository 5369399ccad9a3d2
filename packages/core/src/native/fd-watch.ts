/**
 * Watch a file descriptor for readability on Node's event loop (libuv `uv_poll_t`, through
 * koffi's `koffi.node.poll`). Nothing polls on a timer and nothing blocks: an idle connection
 * costs no CPU. The handle is ref'ed, like a socket: a connected group keeps the process alive.
 *
 * `koffi.node.poll` is undocumented in koffi 3.3: its callback is called as
 * `(status, { readable, writable, disconnect })` (libuv's status first, see koffi's src/uv.cc),
 * unlike its typings, which declare only the events object. It calls into JS outside of a
 * callback scope, so an exception thrown there is reported late: `onReadable` must not throw,
 * and this module catches and reports whatever does.
 * @module
 */
import type * as Koffi from 'koffi';

/** A watch on one fd. */
export interface FdWatch {
  /** Stop watching (idempotent). The fd itself is not closed. */
  close(): void;
}

/** What a watcher reports. */
export interface FdWatchHandlers {
  /** The fd is readable (or the peer hung up: reading then reports the error). */
  readable(): void;
  /** libuv reported an error on the fd (`status` < 0), or `readable` threw. Watching stops. */
  error(err: Error): void;
}

interface PollHandle {
  close(): void;
}
type PollFn = (
  fd: number,
  opts: { readable: boolean; disconnect: boolean },
  cb: (status: number, events: { readable: boolean; disconnect: boolean } | undefined) => void,
) => PollHandle | null;

/** Start watching `fd` for readability. */
export function watchFd(koffi: typeof Koffi, fd: number, handlers: FdWatchHandlers): FdWatch {
  const poll = koffi.node.poll as unknown as PollFn;
  let handle: PollHandle | null = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    handle?.close();
    handle = null;
  };
  const fail = (err: Error) => {
    close();
    handlers.error(err);
  };
  handle = poll(fd, { readable: true, disconnect: true }, (status, events) => {
    if (closed) return;
    try {
      if (status < 0) {
        fail(new Error(`watching fd ${fd} failed: libuv status ${status}`));
        return;
      }
      if (events === undefined || events.readable || events.disconnect) handlers.readable();
    } catch (err) {
      try {
        fail(err instanceof Error ? err : new Error(String(err)));
      } catch (err2) {
        // nowhere left to report it inside this callback: surface it as an uncaught exception
        queueMicrotask(() => {
          throw err2;
        });
      }
    }
  });
  if (handle === null) throw new Error(`cannot watch fd ${fd}`);
  return { close };
}
