/** Platform selectors (`linux/amd64`, `linux/arm64/v8`) for narrowing a multi-platform copy. */
import { GantryError } from '../core/index.js';
import type { Platform } from '../registry/index.js';

/** A platform to select; a missing variant matches any variant. */
export interface PlatformSelector {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** Parses `os/arch[/variant]`; throws `USAGE_INVALID`. */
export function parsePlatform(text: string): PlatformSelector {
  const parts = text.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new GantryError(
      'USAGE_INVALID',
      `invalid platform "${text}": expected os/arch[/variant], e.g. linux/arm64/v8`,
    );
  }
  return Object.freeze({ os, architecture, ...(variant !== undefined && { variant }) });
}

/** True when `platform` is selected by `selector`. */
export function platformMatches(selector: PlatformSelector, platform: Platform | undefined): boolean {
  if (!platform) return false;
  if (platform.os !== selector.os || platform.architecture !== selector.architecture) return false;
  return selector.variant === undefined || platform.variant === selector.variant;
}

/** `os/arch[/variant]` for display. */
export function formatPlatform(p: Platform | PlatformSelector | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
