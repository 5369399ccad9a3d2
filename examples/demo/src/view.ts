/**
 * The demo's terminal view. On a TTY: a live panel (one row per node) at the bottom of the
 * screen, with the story's events scrolling above it, drawn with plain ANSI escapes. When
 * stdout is not a TTY (CI, tests, a pipe): plain log lines only, and the panel printed as a
 * table at the end of each act.
 * @module
 */

/** What the panel shows for one node. */
export interface NodeRow {
  readonly node: number;
  /** The pid of the node's member process. */
  readonly pid?: number;
  /** `ready`, `syncing`, `minority`, `closed`, or `down`. */
  readonly status: string;
  /** Whether this node's member currently leads. */
  readonly leader: boolean;
  /** The leadership term this node last saw (0: none yet). */
  readonly term: number;
  /** The lock this node holds, with its fencing token, if any. */
  readonly lock?: string;
  /** The config store as this node reads it (locally). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The state digest (short) of this node's replicas. */
  readonly digest: string;
}

/** Options for `TerminalView`. */
export interface ViewOptions {
  /** Draw the live panel (default: `out.isTTY`). */
  readonly live?: boolean;
  /** Use colours (default: live and no `NO_COLOR` in the environment). */
  readonly color?: boolean;
  /** Milliseconds since the start, for the time column (default: since construction). */
  readonly now?: () => number;
}

/** Where the view writes: `process.stdout` or any stream with `write`. */
export interface ViewOutput {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** The terminal's width, when known (the panel fits itself into it). */
  readonly columns?: number;
}

const ESC = '\x1b[';

/**
 * A readable, live view of the demo's cluster that degrades to plain lines.
 *
 * @example
 * ```ts
 * const view = new TerminalView(process.stdout);
 * view.act('1/5', 'members and leader');
 * view.event(2, 'elected leader (term 1)');
 * view.update(rows);
 * view.close();
 * ```
 */
export class TerminalView {
  readonly live: boolean;
  readonly #color: boolean;
  readonly #out: ViewOutput;
  readonly #now: () => number;
  #rows: readonly NodeRow[] = [];
  #title = '';
  #panelHeight = 0;
  #closed = false;

  constructor(out: ViewOutput, options: ViewOptions = {}) {
    this.#out = out;
    this.live = options.live ?? out.isTTY === true;
    this.#color = options.color ?? (this.live && !process.env.NO_COLOR);
    const start = performance.now();
    this.#now = options.now ?? (() => performance.now() - start);
  }

  /** Start a new act of the story: a header line. */
  act(step: string, title: string): void {
    if (this.#closed) return;
    this.#title = `${step} ${title}`;
    this.#print(
      `\n${this.#paint('1', `── ${step} ${title} `)}${this.#paint('2', '─'.repeat(Math.max(0, 60 - title.length - step.length)))}`,
    );
  }

  /** One thing that happened, on `node` (or on the cluster when `node` is undefined). */
  event(node: number | undefined, text: string, tone: 'info' | 'good' | 'bad' = 'info'): void {
    if (this.#closed) return;
    const t = (this.#now() / 1000).toFixed(2).padStart(6);
    const who = node === undefined ? 'cluster' : `node ${node}`;
    const colour = tone === 'good' ? '32' : tone === 'bad' ? '31' : '0';
    this.#print(
      `${this.#paint('2', `[${t}s]`)} ${this.#paint('36', who.padEnd(7))} ${this.#paint(colour, text)}`,
    );
  }

  /** Replace the panel's rows (redrawn at once when live). */
  update(rows: readonly NodeRow[]): void {
    this.#rows = rows;
    if (this.live && !this.#closed) {
      this.#erasePanel();
      this.#drawPanel();
    }
  }

  /** Print the panel as plain lines (the end of an act, in non-live mode). */
  table(): void {
    if (this.live || this.#closed) return;
    for (const line of this.#panelLines()) this.#out.write(`${line}\n`);
  }

  /** Stop: the panel stays on screen as it is (live). Later calls print nothing. */
  close(): void {
    if (this.#closed) return;
    if (this.live) {
      this.#erasePanel();
      for (const line of this.#panelLines()) this.#out.write(`${line}\n`);
    }
    this.#closed = true;
    this.#panelHeight = 0;
  }

  /** Write a line above the panel. */
  #print(line: string): void {
    if (this.live && !this.#closed) {
      this.#erasePanel();
      this.#out.write(`${line}\n`);
      this.#drawPanel();
    } else {
      this.#out.write(`${line}\n`);
    }
  }

  #erasePanel(): void {
    if (this.#panelHeight > 0) this.#out.write(`${ESC}${this.#panelHeight}F${ESC}J`);
    this.#panelHeight = 0;
  }

  #drawPanel(): void {
    const lines = this.#panelLines();
    this.#out.write(lines.map((l) => `${l}\n`).join(''));
    this.#panelHeight = lines.length;
  }

  #panelLines(): string[] {
    if (this.#rows.length === 0) return [];
    const head = ['node', 'status', 'role', 'term', 'lock', 'config (read locally)', 'digest'];
    // fit the panel into the terminal so that no line wraps (wrapped lines break the redraw)
    const columns = this.#out.columns;
    const configWidth = columns === undefined ? 70 : Math.max(12, Math.min(70, columns - 66));
    const widths = [5, 9, 9, 5, 14, configWidth, 8];
    const cells = (cols: string[]) => cols.map((c, i) => fit(c, widths[i] ?? 10)).join(' ');
    const lines = [this.#paint('2', `  ${cells(head)}`)];
    for (const r of this.#rows) {
      const role = r.status === 'down' ? '-' : r.leader ? 'LEADER' : 'standby';
      const config = Object.entries(r.config)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const row = cells([
        String(r.node),
        r.status,
        role,
        r.term > 0 ? String(r.term) : '-',
        r.lock ?? '-',
        config || '(empty)',
        r.digest,
      ]);
      const tone =
        r.status === 'ready' ? (r.leader ? '1;32' : '0') : r.status === 'syncing' ? '33' : '31';
      lines.push(`${r.leader ? '▸' : ' '} ${this.#paint(tone, row)}`);
    }
    if (this.live && this.#title) lines.push(this.#paint('2', `  ${this.#title}`));
    return lines;
  }

  #paint(code: string, s: string): string {
    return this.#color && code !== '0' ? `${ESC}${code}m${s}${ESC}0m` : s;
  }
}

/** Pad or cut `s` to exactly `width` characters. */
function fit(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width);
}
