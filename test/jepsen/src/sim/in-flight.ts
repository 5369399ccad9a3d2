/**
 * Frames in flight, as the nemesis's traps see them (a frame the engine accepted and no member
 * received yet): what kind of statemachine frame it is, the record that a fault sprang on one,
 * and the wait for an armed trap to spring.
 * @module
 */
import type { Service, SimSystem } from './system.js';

/** The kind byte of `frame` (byte 3 of the wire format, `Kind`), or -1 when it is too short. */
export function frameKind(frame: Uint8Array): number {
  return frame[3] ?? -1;
}

/** Record in the fault history that `fault` sprang on `s`'s `frame` in flight. */
export function recordInFlight(
  sys: SimSystem,
  fault: string,
  s: Service<unknown>,
  frame: Uint8Array,
): void {
  sys.options.faults.event('in-flight', {
    fault,
    node: s.node,
    service: s.kind,
    frameKind: frameKind(frame),
  });
}

/** Let the cluster run until `armed()` says the trap sprang, 10 virtual seconds at most. */
export async function untilSprung(sys: SimSystem, armed: () => boolean): Promise<void> {
  for (let waited = 0; waited < 1000 && armed(); waited += 10) await sys.cluster.advance(10);
}
