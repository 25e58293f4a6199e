/**
 * The logging port used by library code. It is the subset of pino's API Gantry uses, so a pino
 * logger can be passed as is; the default does nothing. Never log secrets: pass redacted URLs.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => undefined;

/** A logger that drops everything (the default for library code). */
export const silentLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
});
