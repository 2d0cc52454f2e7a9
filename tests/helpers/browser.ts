/**
 * Headless Chromium for the viewer tests: Debian's /usr/bin/chromium (or LIVERSEG_CHROMIUM),
 * driven by playwright-core, which never downloads a browser of its own. Each launch gets a new
 * empty profile folder, and every request the page makes to anything but 127.0.0.1 (or blob:/data:
 * URLs) is blocked and recorded, so a test can assert the page needs no internet.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BrowserContext, Page } from 'playwright-core';

/** The Chromium binary, or null. */
export function findChromium(): string | null {
  for (const p of [process.env.LIVERSEG_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (p && fs.existsSync(p)) return p;
  return null;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** URLs the page tried to reach off this machine (blocked). */
  blocked: string[];
  /** Console errors and uncaught exceptions of the page. */
  errors: string[];
  close(): Promise<void>;
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebGL 2 (NiiVue) without a GPU: ANGLE on SwiftShader, which recent Chromium only allows when asked.
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

export async function launchBrowser(viewport = { width: 1200, height: 800 }): Promise<TestBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('chromium not found');
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
  const blocked: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(blob:|data:)/.test(url) || /^https?:\/\/127\.0\.0\.1(:\d+)?\//.test(url)) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    blocked,
    errors,
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
