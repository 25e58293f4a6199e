/** Form pieces the review pages share: a labelled select, and which environment to show first. */
import type { ComponentChildren } from 'preact';
import type { Pipeline } from './api-types';

/** A `<select>` with its label; `value` not among `options` is shown as an option too. */
export function ReviewSelect({
  id,
  label,
  value,
  options,
  onChange,
  empty,
}: {
  id: string;
  label: string;
  value: string;
  options: readonly (string | { value: string; label: string })[];
  onChange: (value: string) => void;
  /** The label of an extra first option with the value `''` (e.g. "any"). */
  empty?: string;
}) {
  const list = options.map((o) => (typeof o === 'string' ? { value: o, label: o } : o));
  if (value && !list.some((o) => o.value === value)) list.unshift({ value, label: value });
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {empty !== undefined && <option value="">{empty}</option>}
        {list.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The first environment something is promoted into (else the first one). */
export function defaultEnvironment(pipeline: Pipeline): string {
  return (pipeline.environments.find((e) => e.from.length > 0) ?? pipeline.environments[0])?.name ?? '';
}

/**
 * A table's scrolling box: a named region that takes keyboard focus, so a table wider than a
 * phone can be scrolled sideways with the arrow keys.
 */
export function ReviewTableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
