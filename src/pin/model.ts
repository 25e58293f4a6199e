/** The values `gantry pin` works with: what an environment runs, and what pinning a file did. */
import type { Digest } from '../core/index.js';

/** What an environment runs of one application. */
export interface PinTarget {
  /** The digest the environment runs; absent when it runs nothing of the application. */
  readonly digest?: Digest;
  /**
   * Tags that name `digest` in the environment, preferred first (its version, then the
   * environment's floating tag). When a reference is re-pinned and its tag is not one of these,
   * the tag is replaced by the first so that tag and digest agree. Default: tags stay as written.
   */
  readonly tags?: readonly string[];
  /** The application's name, for reports. */
  readonly application?: string;
}

/**
 * Targets by repository: `host/prefix/app` (normalised as {@link parseRepository} does, so
 * `index.docker.io/x` and `docker.io/x` are the same key).
 */
export type PinTargets = ReadonlyMap<string, PinTarget>;

/** Where in a file a reference is. */
export interface PinLocation {
  /** 1-based line in the input text. */
  readonly line: number;
  /** 1-based column in the input text. */
  readonly column: number;
  /** Key path inside its document, e.g. `spec.template.spec.containers[0].image`. */
  readonly path: string;
  /** The application's repository (`host/prefix/app`). */
  readonly repository: string;
  /** The application's name when the target gave one. */
  readonly application?: string;
}

/** A reference re-pinned (or, when checking, one that would be). */
export interface PinChange extends PinLocation {
  /** The reference as the file has it (for image maps: `registry/repository:tag@digest` composed). */
  readonly from: string;
  /** The reference after pinning. */
  readonly to: string;
}

/** A reference to an application the environment runs nothing of: it cannot be pinned. */
export interface PinUnpinned extends PinLocation {
  /** The reference as the file has it. */
  readonly reference: string;
}

/** The outcome of pinning one file. */
export interface PinResult {
  /** The new text: the input with only the pinned values edited, byte for byte otherwise. */
  readonly text: string;
  /** References to applications found (pinned already, re-pinned, or unpinnable). */
  readonly references: number;
  readonly changes: readonly PinChange[];
  readonly unpinned: readonly PinUnpinned[];
  /**
   * The applications (`PinTarget.application`, else the repository key) with at least one
   * reference pinned to the environment's digest once the new text is written: re-pinned now or
   * pinned already. `gantry pin --report` reports these as deployed.
   */
  readonly pinned: readonly string[];
}

/** The file formats `gantry pin` understands. */
export type PinFormat = 'yaml' | 'json';
