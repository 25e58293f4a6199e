/** Copy progress of a running promotion (live `progress` events) as a labelled bar. */
import type { Progress } from './api-types';
import { bytes } from './components';

/** A `<progress>` with bytes and blobs as text; indeterminate until the first progress event. */
export function CopyProgress({ progress, label }: { progress: Progress | undefined; label: string }) {
  if (!progress)
    return (
      <div class="copy-progress">
        <progress aria-label={label} />
        <span class="muted">Waiting for the first progress report…</span>
      </div>
    );
  const { bytesTransferred, bytesTotal, blobsDone, blobsTotal } = progress;
  const text = `${bytes(bytesTransferred)} of ${bytes(bytesTotal)}, ${blobsDone} of ${blobsTotal} blobs`;
  return (
    <div class="copy-progress">
      <progress
        value={bytesTotal > 0 ? bytesTransferred : undefined}
        max={bytesTotal > 0 ? bytesTotal : undefined}
        aria-label={label}
        aria-valuetext={text}
      />
      <span class="muted">{text}</span>
    </div>
  );
}
