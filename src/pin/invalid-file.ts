/** The one error of the pin layer: a file it cannot parse, named with line and column. */
import { GantryError } from '../core/index.js';
import { positionOf } from './text-edits.js';

/** `PIN_FILE_INVALID`: `file:line:column: message`, one line. */
export function invalidFile(name: string, text: string, offset: number, message: string): GantryError {
  const { line, column } = positionOf(text, Math.max(0, Math.min(offset, text.length)));
  return new GantryError('PIN_FILE_INVALID', `${name}:${line}:${column}: ${message}`, {
    details: { file: name, line, column },
  });
}
