/**
 * The replicated image: the user's state plus the metadata every member holds identically
 * (index, replicated time, member registry, known cluster nodes, replica set). Snapshots and persisted
 * files carry an image; the digest is computed over it (minus the epoch, which is the round's).
 * @module
 */
import type { Incarnation } from './types.js';
import { canonicalJson, digestOf } from './canonical.js';

/** One replica's complete state. */
export interface Image<S> {
  /** The epoch of the sync round the image was last synced in. */
  readonly epoch: number;
  /** The index of the last applied log entry. */
  readonly index: bigint;
  /** Replicated time (ms, non-decreasing). */
  readonly time: number;
  /** Live member incarnations as the replicated state knows them, sorted by (nodeid, pid). */
  readonly members: readonly Incarnation[];
  /** Node ids seen in quorate rounds (the majority rule counts against them). */
  readonly knownNodes: readonly number[];
  /**
   * `Q`: the replica ids of the state-holding members of the last quorate round, sorted. A
   * round is quorate only with a strict majority of them (see sync.ts).
   */
  readonly replicas: readonly string[];
  readonly state: S;
}

/** The digest of an image: sha256 of the canonical JSON of everything but the epoch. */
export function imageDigest<S>(image: Image<S>): string {
  return digestOf({
    index: image.index,
    time: image.time,
    members: image.members,
    knownNodes: image.knownNodes,
    replicas: image.replicas,
    state: image.state,
  });
}

/** Serialise an image (bigints as strings). */
export function serializeImage<S>(image: Image<S>): string {
  return JSON.stringify({
    epoch: image.epoch,
    index: image.index.toString(),
    time: image.time,
    members: image.members,
    knownNodes: image.knownNodes,
    replicas: image.replicas,
    state: image.state,
  });
}

/**
 * Parse `serializeImage`'s output; throws a `TypeError` when malformed. A snapshot written
 * before replica sets existed has no `replicas` (read as empty: node quorum only).
 */
export function parseImage<S>(text: string): Image<S> {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (
    typeof raw.epoch !== 'number' ||
    typeof raw.index !== 'string' ||
    typeof raw.time !== 'number' ||
    !Array.isArray(raw.members) ||
    !Array.isArray(raw.knownNodes) ||
    (raw.replicas !== undefined &&
      (!Array.isArray(raw.replicas) || !raw.replicas.every((r) => typeof r === 'string'))) ||
    !('state' in raw)
  ) {
    throw new TypeError('malformed state image');
  }
  return {
    epoch: raw.epoch,
    index: BigInt(raw.index),
    time: raw.time,
    members: raw.members as Incarnation[],
    knownNodes: raw.knownNodes as number[],
    replicas: Array.isArray(raw.replicas) ? raw.replicas.map(String) : [],
    state: raw.state as S,
  };
}

/** Canonical JSON of a value (re-exported for stable serialisation of results). */
export { canonicalJson };
