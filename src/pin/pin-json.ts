/**
 * Pinning JSON files (ECS task definitions, Kubernetes manifests as JSON): the text is checked
 * with `JSON.parse`, then only the `image` string values are replaced in place, so indentation,
 * key order and line breaks stay exactly as the file had them.
 */
import { invalidFile } from './invalid-file.js';
import type { PinResult, PinTargets } from './model.js';
import { pinYaml } from './pin-yaml.js';

/** Pins the `image` strings of a JSON text; throws `PIN_FILE_INVALID` when it is not JSON. */
export function pinJson(text: string, options: { name: string; targets: PinTargets }): PinResult {
  try {
    JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw invalidFile(options.name, text, errorOffset(text, message), cleanMessage(message));
  }
  // Valid JSON is valid YAML 1.2: the YAML parser supplies the source ranges.
  return pinYaml(text, { ...options, json: true });
}

/** Where V8 says the error is: "at position N" (Node 20), "(line L column C)" (Node 22+). */
function errorOffset(text: string, message: string): number {
  const lc = /\(line (\d+) column (\d+)\)/.exec(message);
  if (lc) {
    let offset = 0;
    for (let line = 1; line < Number(lc[1]); line++) offset = text.indexOf('\n', offset) + 1;
    return offset + Number(lc[2]) - 1;
  }
  const pos = /at position (\d+)/.exec(message);
  return pos ? Number(pos[1]) : text.trimEnd().length;
}

function cleanMessage(message: string): string {
  return (
    message
      .split('\n')[0]!
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/,? ?"[^"]*" is not valid JSON$/, '')
      .replace(/ \(line \d+ column \d+\)$/, '')
      .replace(/^JSON Parse error: /, '')
      .trim() || 'invalid JSON'
  );
}
