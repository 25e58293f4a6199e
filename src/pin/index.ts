/** Public surface of the pin layer: rewriting image references in deployment files to digests. */
export { pinFile, formatOf, type PinInput } from './pin-file.js';
export { repositoryKey } from './decide.js';
export type {
  PinTarget,
  PinTargets,
  PinLocation,
  PinChange,
  PinUnpinned,
  PinResult,
  PinFormat,
} from './model.js';
