import { describe, expect, it, vi } from 'vitest';
import { GantryError, isGantryError, toGantryError } from './errors.js';
import type * as Errors from './errors.js';

describe('GantryError identity', () => {
  it('is recognised when another copy of the module made it (the server bundle)', async () => {
    vi.resetModules();
    // A second evaluation of this module, as the server bundle has its own copy of it.
    const copy: string = './errors.js?copy';
    const other = (await import(/* @vite-ignore */ copy)) as typeof Errors;
    expect(other.GantryError).not.toBe(GantryError);
    const err = new other.GantryError('STORE_LOCKED', 'in use');
    expect(err instanceof GantryError).toBe(true);
    expect(isGantryError(err, 'STORE_LOCKED')).toBe(true);
    expect(toGantryError(err)).toBe(err);
    expect(new GantryError('INTERNAL', 'x') instanceof other.GantryError).toBe(true);
  });

  it('is not claimed by plain errors, look-alikes or subclasses of other errors', () => {
    expect(new Error('x') instanceof GantryError).toBe(false);
    expect({ code: 'INTERNAL', message: 'x' } instanceof GantryError).toBe(false);
    expect((null as unknown) instanceof GantryError).toBe(false);
    expect(toGantryError(new Error('boom')).code).toBe('INTERNAL');
  });

  it('keeps the ordinary check for subclasses', () => {
    class Sub extends GantryError {}
    expect(new Sub('INTERNAL', 'x') instanceof Sub).toBe(true);
    expect(new Sub('INTERNAL', 'x') instanceof GantryError).toBe(true);
    expect(new GantryError('INTERNAL', 'x') instanceof Sub).toBe(false);
  });

  it('keeps its message on one line, whatever it quotes', () => {
    const err = new GantryError(
      'REGISTRY_MANIFEST_INVALID',
      'declares media type \r\nX-Injected: 1\u001b[2J',
    );
    expect(err.message).toBe('declares media type \\r\\nX-Injected: 1\\e[2J');
  });
});
