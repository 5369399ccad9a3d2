import type { RegisterCommand } from '../util.js';

/**
 * Every subcommand, in help order. Add yours with one import and one entry.
 */
export const commands: RegisterCommand[] = [];
