/**
 * The statemachine project's setup file: slow disks when `CPGKIT_SLOW_DISKS` asks for them
 * (slow-disks.ts).
 * @module
 */
import { installSlowDisks, slowDisksMaxMs } from './slow-disks.js';

if (slowDisksMaxMs() > 0) installSlowDisks();
