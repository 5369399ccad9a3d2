/**
 * The replicated image: the user's state plus the metadata every member holds identically
 * (index, replicated time, member registry, known cluster nodes, replica set). Snapshots and persisted
 * files carry an image; the digest is computed over it (minus the epoch, which is the round's,
 * `settled` and the last proven `Q`, which replicas learn at different points).
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
  /**
   * Replicas of `Q` whose process died (`procdown`) or left after proving, by an ack of the
   * current epoch at or after the last change of `Q`, that they hold this `Q`. They will come
   * back with it, so a component holding exactly half of `Q` plus all of these cannot meet a
   * majority of `Q` anywhere else (see sync.ts). Cleared by every quorate round.
   */
  readonly gone: readonly string[];
  /**
   * The newest epoch of this lineage that a strict majority of its `Q` proved, each by an ack
   * of that epoch (sent once the prover's disk held it, proof-gate.ts). Below `epoch` while the
   * round (or the epoch bump) that gave the current epoch is unproven: nothing commits then
   * (acknowledgement.ts), and such a state yields to a proven one of the same epoch in the
   * sync leader's choice (sync.ts). A replica killed before its disk held a round's epoch
   * comes back with the older epoch of its disk: it forgot that round, and a round it then
   * makes with others may get the same epoch number; only the proven one of the two may lead.
   * Not covered by the digest (replicas learn it at different points).
   */
  readonly settled: number;
  /**
   * While the epoch is unproven (`settled < epoch`): `Q` of the newest proven epoch of this
   * lineage, as it was when that epoch was left (a quorate round, an epoch bump at a confchg).
   * A round is quorate, and an epoch proven, only with a strict majority of this set as well
   * as of `Q` (sync.ts, "Changing `Q`"). Unused once the epoch is proven (see `lastProven`).
   * Not covered by the digest (it moves with `settled`).
   */
  readonly provenReplicas: readonly string[];
  /** The `gone` list that went with `provenReplicas` (see `holdsMajority`). */
  readonly provenGone: readonly string[];
  readonly state: S;
}

/** Everything of an image but the user's state: what persisted records and snapshots carry. */
export type ImageMeta = Omit<Image<unknown>, 'state'>;

/** The metadata of an image, as a plain object (one place lists the fields). */
export function metaOf(image: Image<unknown>): ImageMeta {
  return {
    epoch: image.epoch,
    index: image.index,
    time: image.time,
    members: image.members,
    knownNodes: image.knownNodes,
    replicas: image.replicas,
    gone: image.gone,
    settled: image.settled,
    provenReplicas: image.provenReplicas,
    provenGone: image.provenGone,
  };
}

/** A replica set and its departed replicas, as the majority rule counts them. */
export interface ReplicaLineage {
  readonly replicas: readonly string[];
  readonly gone: readonly string[];
}

/**
 * `Q` and `gone` of the newest proven epoch of an image's lineage: its own while its epoch is
 * proven, else `provenReplicas` and `provenGone`.
 */
export function lastProven(
  image: Pick<
    ImageMeta,
    'epoch' | 'settled' | 'replicas' | 'gone' | 'provenReplicas' | 'provenGone'
  >,
): ReplicaLineage {
  return image.settled >= image.epoch
    ? { replicas: image.replicas, gone: image.gone }
    : { replicas: image.provenReplicas, gone: image.provenGone };
}

/** `metaOf` with the index as a decimal string, for JSON. */
export function jsonMetaOf(image: Image<unknown>): Omit<ImageMeta, 'index'> & { index: string } {
  return { ...metaOf(image), index: image.index.toString() };
}

/**
 * Parse the metadata fields of a JSON object written by `jsonMetaOf`; throws a `TypeError`
 * when malformed. Fields added after the first format (`replicas`, `gone`) read as empty;
 * `settled` as the epoch; `provenReplicas` and `provenGone` as `replicas` and `gone` (the last
 * proven `Q` is `Q`, as the rules said then).
 */
export function parseMeta(raw: Record<string, unknown>): ImageMeta {
  const strings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((r) => typeof r === 'string');
  if (
    typeof raw.epoch !== 'number' ||
    typeof raw.index !== 'string' ||
    !/^[0-9]{1,40}$/.test(raw.index) ||
    typeof raw.time !== 'number' ||
    !Array.isArray(raw.members) ||
    !Array.isArray(raw.knownNodes) ||
    (raw.replicas !== undefined && !strings(raw.replicas)) ||
    (raw.gone !== undefined && !strings(raw.gone)) ||
    (raw.settled !== undefined && typeof raw.settled !== 'number') ||
    (raw.provenReplicas !== undefined && !strings(raw.provenReplicas)) ||
    (raw.provenGone !== undefined && !strings(raw.provenGone))
  ) {
    throw new TypeError('malformed state image');
  }
  const replicas = strings(raw.replicas) ? raw.replicas : [];
  const gone = strings(raw.gone) ? raw.gone : [];
  return {
    epoch: raw.epoch,
    index: BigInt(raw.index),
    time: raw.time,
    members: raw.members as Incarnation[],
    knownNodes: raw.knownNodes as number[],
    replicas,
    gone,
    // written before `settled` existed: its epoch counts as proven, as it did then
    settled: typeof raw.settled === 'number' ? raw.settled : raw.epoch,
    // written before the last proven `Q` was kept: it is `Q`, as the rules said then
    provenReplicas: strings(raw.provenReplicas) ? raw.provenReplicas : replicas,
    provenGone: strings(raw.provenGone) ? raw.provenGone : gone,
  };
}

/** The digest of an image: sha256 of the canonical JSON of everything but the epochs and the last proven `Q`. */
export function imageDigest<S>(image: Image<S>): string {
  const {
    epoch: _epoch,
    settled: _settled,
    provenReplicas: _provenReplicas,
    provenGone: _provenGone,
    ...meta
  } = metaOf(image);
  return digestOf({ ...meta, state: image.state });
}

/** Serialise an image (bigints as strings). */
export function serializeImage<S>(image: Image<S>): string {
  return JSON.stringify({ ...jsonMetaOf(image), state: image.state });
}

/**
 * Parse `serializeImage`'s output; throws a `TypeError` when malformed. A snapshot written
 * before replica sets existed has no `replicas` (read as empty: node quorum only), nor `gone`.
 */
export function parseImage<S>(text: string): Image<S> {
  const raw = JSON.parse(text) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('state' in raw))
    throw new TypeError('malformed state image');
  return { ...parseMeta(raw), state: raw.state as S };
}

/** Canonical JSON of a value (re-exported for stable serialisation of results). */
export { canonicalJson };
