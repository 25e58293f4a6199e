/** Progress events a copy emits, for progress bars and logs. */
import type { Digest } from '../core/index.js';

/** What happened to one blob. */
export type BlobAction = 'copied' | 'mounted' | 'skipped';

/** An event during a copy. */
export type CopyEvent =
  | { readonly type: 'plan'; readonly image: string; readonly blobs: number; readonly bytes: number }
  | { readonly type: 'blob-start'; readonly image: string; readonly digest: Digest; readonly size: number }
  | { readonly type: 'blob-bytes'; readonly image: string; readonly digest: Digest; readonly bytes: number }
  | {
      readonly type: 'blob-done';
      readonly image: string;
      readonly digest: Digest;
      readonly size: number;
      readonly action: BlobAction;
    }
  | {
      readonly type: 'blob-retry';
      readonly image: string;
      readonly digest: Digest;
      readonly attempt: number;
      readonly reason: string;
    }
  | {
      readonly type: 'manifest-done';
      readonly image: string;
      readonly digest: Digest;
      readonly reference: string;
    }
  | { readonly type: 'image-done'; readonly image: string; readonly digest: Digest };

/** A listener for {@link CopyEvent}s. */
export type CopyListener = (event: CopyEvent) => void;
