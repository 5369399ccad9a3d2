import { describe, expect, it } from 'vitest';
import { TerminalView, type NodeRow } from '../src/view.js';

class Capture {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const rows: NodeRow[] = [
  {
    node: 1,
    status: 'ready',
    leader: true,
    term: 2,
    config: { color: 'blue' },
    digest: 'aaaa1111',
  },
  {
    node: 2,
    status: 'ready',
    leader: false,
    term: 2,
    lock: 'deploy #3',
    config: { color: 'blue' },
    digest: 'aaaa1111',
  },
  { node: 3, status: 'minority', leader: false, term: 1, config: {}, digest: 'bbbb2222' },
];

describe('TerminalView', () => {
  it('writes plain lines with no escape codes when stdout is not a TTY', () => {
    const out = new Capture(false);
    const view = new TerminalView(out, { now: () => 1500 });
    view.act('1/5', 'members');
    view.update(rows);
    view.event(2, 'elected leader (term 2)');
    view.table();
    view.close();
    expect(out.text).not.toContain('\x1b');
    const lines = out.text.split('\n');
    expect(lines).toContain('[  1.50s] node 2  elected leader (term 2)');
    // the table: a header and one row per node, the leader marked
    expect(lines.filter((l) => /^[▸ ] \d /.test(l))).toHaveLength(3);
    expect(lines.some((l) => l.startsWith('▸ 1') && l.includes('LEADER'))).toBe(true);
    expect(lines.some((l) => l.includes('deploy #3'))).toBe(true);
    // update() alone prints nothing in plain mode: only table() does
    expect(lines.filter((l) => l.includes('minority'))).toHaveLength(1);
  });

  it('redraws the panel in place on a TTY, events scrolling above it', () => {
    const out = new Capture(true);
    const view = new TerminalView(out, { color: false, now: () => 0 });
    view.update(rows);
    const drawn = out.text;
    view.event(1, 'hello');
    // the panel (header + 3 rows) is erased by moving up 4 lines, then the event, then the panel again
    const after = out.text.slice(drawn.length);
    expect(after.startsWith('\x1b[4F\x1b[J')).toBe(true);
    expect(after).toContain('node 1  hello\n');
    expect(after.indexOf('hello')).toBeLessThan(after.indexOf('LEADER'));
    view.close();
    const closed = out.text.length;
    view.event(1, 'after close');
    expect(out.text.length).toBe(closed);
  });

  it('fits the panel into a narrow terminal so that no line wraps', () => {
    const out = new Capture(true, 80);
    const view = new TerminalView(out, { color: false });
    view.update([{ ...rows[0]!, config: { a: 'x'.repeat(200) } }]);
    for (const line of out.text
      .replace(new RegExp(`${String.fromCharCode(27)}\\[\\d*[A-Z]`, 'g'), '')
      .split('\n')) {
      expect(line.length).toBeLessThanOrEqual(80);
    }
  });
});
