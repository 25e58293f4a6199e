/**
 * Copy planning as a pure function of the resolved graph: which blobs move (unique, biggest
 * first, foreign layers left out unless asked), which manifests are written in which order, and
 * what the destination already has.
 */
import { compareStrings, isForeignLayerMediaType, type Digest } from '../core/index.js';
import type { Descriptor, Manifest } from '../registry/index.js';
import type { Attached, CopyGraph } from './graph.js';

/** Options for {@link planCopy}. */
export interface PlanOptions {
  /** Copy non-distributable (foreign) layers too. Default false. */
  readonly includeForeign?: boolean;
}

/** The ordered work of one copy. */
export interface CopyPlan {
  /** Blobs to make present at the destination, unique by digest, biggest first. */
  readonly blobs: readonly Descriptor[];
  /** Foreign layers that are left where they are (referenced by URL). */
  readonly foreign: readonly Descriptor[];
  /** Child manifests of the root, in write order (children before parents). */
  readonly children: readonly Manifest[];
  readonly root: Manifest;
  /** Artifacts travelling with the image, each after its subject. */
  readonly attached: readonly Attached[];
  /** Sum of the sizes of `blobs`. */
  readonly totalBytes: number;
}

/** Plans a copy from its graph. */
export function planCopy(graph: CopyGraph, options: PlanOptions = {}): CopyPlan {
  const byDigest = new Map<Digest, Descriptor>();
  const foreign = new Map<Digest, Descriptor>();
  const all = [graph.root.blobs, ...graph.attached.map((a) => a.tree.blobs)].flat();
  for (const d of all) {
    if (!options.includeForeign && isForeignLayerMediaType(d.mediaType)) {
      foreign.set(d.digest, d);
      continue;
    }
    if (!byDigest.has(d.digest)) byDigest.set(d.digest, d);
  }
  const blobs = [...byDigest.values()].sort((a, b) => b.size - a.size || compareStrings(a.digest, b.digest));
  return Object.freeze({
    blobs,
    foreign: [...foreign.values()],
    children: uniqueManifests(graph.root.children),
    root: graph.root.manifest,
    attached: graph.attached,
    totalBytes: blobs.reduce((n, d) => n + d.size, 0),
  });
}

function uniqueManifests(list: readonly Manifest[]): Manifest[] {
  const seen = new Set<string>();
  return list.filter((m) => (seen.has(m.digest) ? false : (seen.add(m.digest), true)));
}
