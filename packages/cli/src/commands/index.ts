import type { RegisterCommand } from '../util.js';
import { registerBench } from './bench.js';
import { registerGroups } from './groups.js';
import { registerKv } from './kv.js';
import { registerListen } from './listen.js';
import { registerLock } from './lock.js';
import { registerLeader } from './leader.js';
import { registerSend } from './send.js';
import { registerServe } from './serve.js';
import { registerSnapshot } from './snapshot.js';
import { registerStatus } from './status.js';

/**
 * Every subcommand, in help order. Add yours with one import and one entry.
 */
export const commands: RegisterCommand[] = [
  registerBench,
  registerGroups,
  registerListen,
  registerSend,
  registerLock,
  registerLeader,
  registerKv,
  registerServe,
  registerSnapshot,
  registerStatus,
];
