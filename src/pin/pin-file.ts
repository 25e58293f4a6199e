/**
 * `pinFile`: the pure entry point of `gantry pin`. Given a file's text and what an environment
 * runs (repository → digest), it returns the text with every reference to those repositories
 * pinned to the digest, and what changed. No I/O.
 */
import { normalizeTargets } from './decide.js';
import type { PinFormat, PinResult, PinTargets } from './model.js';
import { pinJson } from './pin-json.js';
import { pinYaml } from './pin-yaml.js';

/** One file to pin. */
export interface PinInput {
  /** The file's content. */
  readonly text: string;
  /** Its name, for messages and to tell the format (`.json` → JSON, otherwise YAML). */
  readonly name: string;
  /** Overrides the format told by the name. */
  readonly format?: PinFormat;
}

/** The format of a file: `.json` is JSON, `.yaml`/`.yml` YAML, anything else by its first character. */
export function formatOf(name: string, text: string): PinFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return /^\uFEFF?\s*[{[]/.test(text) ? 'json' : 'yaml';
}

/**
 * Pins the references of one file. References already pinned to the right digest and references
 * to other images are left alone; `unpinned` lists references to applications the environment
 * runs nothing of. Throws `PIN_FILE_INVALID` (`file:line:column: …`) for a file it cannot parse.
 */
export function pinFile(input: PinInput, targets: PinTargets): PinResult {
  const options = { name: input.name, targets: normalizeTargets(targets) };
  return (input.format ?? formatOf(input.name, input.text)) === 'json'
    ? pinJson(input.text, options)
    : pinYaml(input.text, options);
}
