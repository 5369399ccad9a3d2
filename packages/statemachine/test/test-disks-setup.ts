/**
 * The statemachine project's setup file: the tests' disks honour crashes (crash-disks.ts: a
 * killed process's unwritten data never lands, crashed-processes.ts: `crashProcess` kills its
 * data directories), and are slow when `CPGKIT_SLOW_DISKS` asks for it (slow-disks.ts).
 * @module
 */
import { installCrashDisks } from './crash-disks.js';
import { installCrashedProcesses } from './crashed-processes.js';
import { slowDisksMaxMs } from './slow-disks.js';

slowDisksMaxMs(); // throws at once on a malformed value
installCrashDisks();
installCrashedProcesses();
