import { describe, expect, it } from 'vitest';
import { escapeControl, hasControl } from './escape.js';

describe('escapeControl', () => {
  it.each([
    ['plain text', 'plain text'],
    ['unicode stays: café 日本 ✓', 'unicode stays: café 日本 ✓'],
    ['line\nbreak', 'line\\nbreak'],
    ['fake\rCopied OK', 'fake\\rCopied OK'],
    ['tab\there', 'tab\\there'],
    ['\u001b[2J\u001b[H clear', '\\e[2J\\e[H clear'],
    [
      '\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007',
      '\\e]8;;https://evil.example\\x07click\\e]8;;\\x07',
    ],
    ['nul\u0000del\u007f', 'nul\\x00del\\x7f'],
    ['c1 csi \u009b31m', 'c1 csi \\x9b31m'],
    ['bidi \u202egnp.exe', 'bidi \\u202egnp.exe'],
    ['separator \u2028 here', 'separator \\u2028 here'],
  ])('%j', (input, expected) => {
    expect(escapeControl(input)).toBe(expected);
    expect(hasControl(escapeControl(input))).toBe(false);
  });

  it('says whether text holds a control character', () => {
    expect(hasControl('ok')).toBe(false);
    expect(hasControl('a\rb')).toBe(true);
    expect(hasControl('a\rb')).toBe(true);
  });
});
