/**
 * Real Chromium for the dashboard's tests: Debian's `chromium` driven by playwright-core through
 * `executablePath` (Playwright cannot download a browser here). Every page of a test runs in a
 * context that refuses any request to another origin and records it, so a test can prove the
 * dashboard fetches nothing from outside. axe-core checks accessibility in the page itself, and
 * screenshots land in test-artifacts/screenshots/ (kept by CI as artefacts, ignored by git).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);

/** Where screenshots are written. */
export const SCREENSHOT_DIR = join(root, 'test-artifacts', 'screenshots');

/** The two widths the dashboard must be usable at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 900 },
  phone: { width: 390, height: 844 },
} as const;

/** The Chromium binary: `$CHROMIUM_PATH`, else Debian's. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error('Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)');
}

/** Launches headless Chromium with the flags a closed, root-run CI machine needs. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      // Root cannot use Chromium's sandbox (CI runs as root).
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // Nothing reaches for the (closed) network on its own.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/** A browser context for `baseUrl` whose requests to any other origin are refused and recorded. */
export interface DashboardContext {
  readonly context: BrowserContext;
  /** URLs the dashboard tried to fetch from another origin (should stay empty). */
  readonly external: string[];
  /** Errors the pages logged to the console or threw. */
  readonly pageErrors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Opens a context at `viewport` that allows only `baseUrl`'s origin. */
export async function dashboardContext(
  browser: Browser,
  baseUrl: string,
  viewport: { width: number; height: number } = VIEWPORTS.desktop,
): Promise<DashboardContext> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl, reducedMotion: 'reduce' });
  const origin = new URL(baseUrl).origin;
  const external: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    external.push(url);
    return route.abort('blockedbyclient');
  });
  return {
    context,
    external,
    pageErrors,
    async newPage() {
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      return page;
    },
    close: () => context.close(),
  };
}

/** Signs in through the form with `token` and waits for the main navigation. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.fill('input[name=token]', token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** One accessibility violation as axe-core reports it. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: { readonly target: unknown[]; readonly failureSummary?: string }[];
}

let axeSource: string | undefined;

/**
 * Runs axe-core (WCAG 2 A/AA rules) on the page as it is now and returns the serious and critical
 * violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Injected through the automation channel, not a <script> tag: the page's CSP forbids inline scripts.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // In the page: its global object holds `axe` and `document`.
    const g = globalThis as unknown as {
      axe: { run: (ctx: unknown, opts: unknown) => Promise<unknown> };
      document: unknown;
    };
    const result = (await g.axe.run(g.document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    })) as { violations: AxeViolation[] };
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves a full-page screenshot as test-artifacts/screenshots/NAME.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The page is accessible, fetched nothing from another origin and logged no error. */
export async function expectClean(ctx: DashboardContext, page: Page): Promise<void> {
  expect(await seriousViolations(page)).toEqual([]);
  expect(ctx.external).toEqual([]);
  expect(ctx.pageErrors).toEqual([]);
}
