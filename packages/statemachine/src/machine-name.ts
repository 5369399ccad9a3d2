/**
 * The name a machine's frames carry: its `name`, plus its state format when it has one.
 * @module
 */
import type { MachineDefinition } from './types.js';

/**
 * What `def`'s frames carry as the machine name: `name`, or `name@format` when the definition
 * declares a state format (`MachineDefinition.format`). Replicas compare it with their own and
 * count a frame with another as foreign, so replicas of two formats of one machine ignore each
 * other (each is a silent member of the other's rounds) while they share the group and the
 * data directory, both named by `name` alone.
 */
export function wireNameOf(
  def: Pick<MachineDefinition<unknown, unknown>, 'name' | 'format'>,
): string {
  return def.format === undefined ? def.name : `${def.name}@${def.format}`;
}
