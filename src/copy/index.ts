/** Public surface of the copy layer. */
export type { ReadTarget, WriteTarget, ResolvedManifest, PushBlobOptions, BlobOutcome } from './target.js';
export { RegistryTarget } from './registry-target.js';
export { copyImage, type CopyImageOptions, type CopyResult, type BlobCounts } from './copy-image.js';
export {
  copyRepository,
  type CopyRepositoryOptions,
  type CopyRepositoryResult,
  type SkippedTag,
  type TagFailure,
} from './copy-repository.js';
export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { SMALL_BLOB_BYTES } from './transfer.js';
export type { CopyRetryOptions } from './retry-budget.js';
export { parsePlatform, formatPlatform, type PlatformSelector } from './platform.js';
export type { CopyEvent, CopyListener, BlobAction } from './events.js';
export { resolveGraph, type CopyGraph } from './graph.js';
export { planCopy, type CopyPlan } from './plan.js';
export { OciLayoutTarget } from './oci-layout-target.js';
export {
  isOciLayoutReference,
  parseOciLayoutReference,
  type OciLayoutReference,
} from './oci-layout-reference.js';
