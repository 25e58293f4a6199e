/** Public surface of the core layer: errors, digests, media types, logging and time. */
export * from './errors.js';
export * from './abort.js';
export * from './digest.js';
export * from './media-types.js';
export * from './logger.js';
export * from './clock.js';
export * from './atomic-write.js';
export * from './compare.js';
export * from './content-verifier.js';
export * from './escape.js';
export type * from './oci-types.js';
export * from './tag.js';
