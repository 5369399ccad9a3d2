/**
 * The bytes of JSON's punctuation, for the readers that scan a snapshot line's UTF-8 bytes
 * rather than its text (snapshot-text.ts, record-text.ts, snapshot-transfer.ts).
 * @module
 */
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const ZERO = 0x30;
