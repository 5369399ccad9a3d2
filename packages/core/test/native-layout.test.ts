import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CPG_NAME_SIZE,
  decodeChanges,
  decodeCpgName,
  decodeMembers,
  encodeCpgName,
  writeU32,
} from '../src/native/layout.js';
import {
  AccessDeniedError,
  AlreadyJoinedError,
  CorosyncNotRunningError,
  CsError,
  GroupClosedError,
  InvalidGroupNameError,
  MessageTooLargeError,
  NotJoinedError,
  TryAgainError,
  errorFromCode,
} from '../src/errors.js';

describe('struct cpg_name', () => {
  it('is the UTF-8 bytes with their length, no trailing NUL counted', () => {
    const buf = encodeCpgName('orders');
    expect(buf.length).toBe(CPG_NAME_SIZE);
    expect(buf.readUInt32LE(0)).toBe(6);
    expect(buf.subarray(4, 10).toString()).toBe('orders');
    expect(buf[10]).toBe(0);
    expect(Buffer.from(decodeCpgName(buf)).toString()).toBe('orders');
  });

  it('counts bytes, not characters', () => {
    const name = 'é'.repeat(64); // 128 bytes
    expect(encodeCpgName(name).readUInt32LE(0)).toBe(128);
    expect(() => encodeCpgName(name + 'x')).toThrow(InvalidGroupNameError);
  });

  it('rejects empty names and names over 128 bytes', () => {
    expect(() => encodeCpgName('')).toThrow(InvalidGroupNameError);
    expect(() => encodeCpgName('x'.repeat(129))).toThrow(/129 bytes/);
    expect(encodeCpgName('x'.repeat(128)).readUInt32LE(0)).toBe(128);
  });
});

describe('struct cpg_address lists', () => {
  it('decode members and reasons', () => {
    const buf = Buffer.alloc(36);
    const rows = [
      [1, 100, 1],
      [2, 200, 5],
      [3, 300, 3],
    ];
    rows.forEach(([n, p, r], i) => {
      writeU32(buf, i * 12, n!);
      writeU32(buf, i * 12 + 4, p!);
      writeU32(buf, i * 12 + 8, r!);
    });
    expect(decodeMembers(buf, 3)).toEqual([
      { nodeid: 1, pid: 100 },
      { nodeid: 2, pid: 200 },
      { nodeid: 3, pid: 300 },
    ]);
    expect(decodeChanges(buf, 3).map((c) => c.reason)).toEqual(['join', 'procdown', 'nodedown']);
    writeU32(buf, 8, 2);
    writeU32(buf, 20, 4);
    expect(decodeChanges(buf, 2).map((c) => c.reason)).toEqual(['leave', 'nodeup']);
  });
});

describe('cs_error_t', () => {
  const header = '/usr/include/corosync/corotypes.h';
  it.runIf(existsSync(header))('CsError matches corotypes.h', () => {
    const text = readFileSync(header, 'utf8');
    const values = new Map<string, number>();
    for (const m of text.matchAll(/\b(CS_OK|CS_ERR_[A-Z_]+)\s*=\s*(\d+)/g))
      values.set(m[1]!, Number(m[2]));
    expect(values.size).toBeGreaterThan(25);
    for (const [key, value] of Object.entries(CsError)) {
      const cname = key === 'OK' ? 'CS_OK' : `CS_ERR_${key}`;
      expect([cname, values.get(cname)]).toEqual([cname, value]);
    }
    expect(Object.keys(CsError).length).toBe(values.size);
  });

  it('maps to typed errors that say what to do', () => {
    const lib = errorFromCode(CsError.LIBRARY, 'cpg_model_initialize');
    expect(lib).toBeInstanceOf(CorosyncNotRunningError);
    expect(lib.message).toMatch(/corosync -f/);
    expect(lib.csError).toBe(2);
    expect(lib.code).toBe('CPGKIT_COROSYNC_NOT_RUNNING');
    const access = errorFromCode(CsError.ACCESS, 'cpg_model_initialize');
    expect(access).toBeInstanceOf(AccessDeniedError);
    expect(access.message).toMatch(/uidgid/);
    expect(errorFromCode(CsError.EXIST, 'cpg_join')).toBeInstanceOf(AlreadyJoinedError);
    const again = errorFromCode(CsError.TRY_AGAIN, 'cpg_join');
    expect(again).toBeInstanceOf(TryAgainError);
    expect(again.retryable).toBe(true);
    expect(errorFromCode(CsError.BAD_HANDLE, 'cpg_join')).toBeInstanceOf(GroupClosedError);
    expect(errorFromCode(CsError.NOT_EXIST, 'cpg_leave')).toBeInstanceOf(NotJoinedError);
    expect(errorFromCode(99, 'cpg_join').csError).toBe(99);
    const tooBig = errorFromCode(CsError.TOO_BIG, 'cpg_mcast_joined', {
      size: 2_000_000,
      limit: 1_047_552,
    });
    expect(tooBig).toBeInstanceOf(MessageTooLargeError);
    expect(tooBig).toMatchObject({
      csError: 26,
      size: 2_000_000,
      limit: 1_047_552,
      retryable: false,
    });
    expect(tooBig.message).toMatch(/cpg_mcast_joined: message of 2000000 bytes .*CS_ERR_TOO_BIG/);
    const tooBigBare = errorFromCode(CsError.TOO_BIG, 'cpg_mcast_joined');
    expect(tooBigBare).toBeInstanceOf(MessageTooLargeError);
    expect(tooBigBare).toMatchObject({ csError: 26, size: undefined, limit: undefined });
    expect(tooBigBare.message).toMatch(/CS_ERR_TOO_BIG/);
  });
});
