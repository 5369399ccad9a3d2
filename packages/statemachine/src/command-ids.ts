/**
 * Command ids: uuid v7 strings, one per command, at the cost of a counter. Each incarnation
 * draws one uuid v7 and numbers its commands in the low 32 bits (part of v7's random field);
 * it draws a new one every 2^32 commands. Ids stay uuid v7 on the wire and in `ApplyContext`,
 * unique within the incarnation and, by the drawn bits, across incarnations. A fresh
 * `crypto` draw per command was ~10% of a `set`'s CPU.
 * @module
 */
import { v7 as uuidv7 } from 'uuid';

/** Hands out command ids for one incarnation. */
export class CommandIds {
  private prefix = '';
  private next = 0x1_0000_0000;

  /** A new id, never returned before by this generator. */
  take(): string {
    if (this.next > 0xffff_ffff) {
      // the first 28 hex digits of a fresh v7 (with its dashes), then an 8-digit counter
      this.prefix = uuidv7().slice(0, 28);
      this.next = 0;
    }
    return this.prefix + (this.next++).toString(16).padStart(8, '0');
  }
}
