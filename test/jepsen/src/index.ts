/**
 * @cpgkit/jepsen: histories, checkers and fault campaigns.
 * @module
 */
export * from './history.js';
export type { Anomaly, Verdict } from './checkers/verdict.js';
export {
  checkLinearizable,
  type Model,
  type LinearizabilityResult,
} from './checkers/linearizable.js';
export { checkRegister, registerModel } from './checkers/register.js';
export { checkLocks } from './checkers/lock.js';
export { checkElection } from './checkers/election.js';
export { checkSet } from './checkers/set.js';
export { runSchedule, type ScheduleOptions, type ScheduleResult } from './sim/run.js';
export { describeFailure, writeReport, formatRecord } from './report.js';
