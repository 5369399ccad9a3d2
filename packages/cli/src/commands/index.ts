import type { RegisterCommand } from '../util.js';
import { registerLock } from './lock.js';
import { registerLeader } from './leader.js';

/**
 * Every subcommand, in help order. Add yours with one import and one entry.
 */
export const commands: RegisterCommand[] = [registerLock, registerLeader];
