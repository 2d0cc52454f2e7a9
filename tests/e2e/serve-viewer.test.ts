/**
 * The viewer page in a real browser: Debian's Chromium, headless, driven by playwright-core. It
 * opens the page of a running service (with a token, which the page asks for), uploads the real
 * CT sample, waits for the job, and shows the CT with the liver overlay. On the screenshot,
 * liver-coloured pixels must appear where the mask is and not where it is not: mask voxels of
 * the displayed axial slice are mapped to screen pixels through NiiVue's own world-to-canvas
 * transform. The screenshots are kept in test-artifacts/serve-viewer/. Every request the page
 * makes off 127.0.0.1 is blocked and must not happen (no CDN).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { clearPipelineCache } from '../../src/ts/inferers/pipeline';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { createServer } from '../../src/ts/serve';
import type { LiversegServer } from '../../src/ts/serve';
import { findChromium, launchBrowser, TestBrowser } from '../helpers/browser';
import { trainedPipeline } from '../helpers/trained-pipeline';

const ROOT = path.join(__dirname, '..', '..');
const CT = path.join(ROOT, 'tests', 'fixtures', 'ct-sample', 'imagesTr', 'ct_sample.nii.gz');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'serve-viewer');
const TOKEN = 'viewer-test-token-0123456789abcdef';
const chromium = findChromium();
// Skips (with this reason) where Debian's chromium is missing; scripts/setup.js installs it when run as root.
const describeBrowser = chromium ? describe : describe.skip;
if (!chromium) console.warn('serve-viewer: skipped: chromium not found (apt-get install chromium, or run scripts/setup.js as root)');

/**
 * What the functions given to page.evaluate see in the browser (they run there, serialised; the
 * test's tsconfig has no DOM library, so the few globals used are typed here).
 */
interface PageGlobals {
  document: {
    querySelector(sel: string): {
      textContent: string | null;
      getAttribute(name: string): string | null;
      getBoundingClientRect(): { left: number; top: number; width: number; height: number };
    } | null;
  };
  devicePixelRatio: number;
  liversegViewer: {
    job(): { id: string };
    nv: {
      drawScene(): void;
      scene: { crosshairPos: number[] };
      frac2mm(f: number[]): number[];
      mm2frac(mm: number[]): number[];
      frac2canvasPos(f: number[]): number[] | null;
    };
  };
}

/** Liver colour: the red overlay over grey CT (red well above green and blue). */
const isLiver = (r: number, g: number, b: number): boolean => r - Math.max(g, b) > 60;

/** Rebuilds lib/viewer when src/viewer is newer (or it is missing). */
function ensureViewerBuilt(): void {
  const out = path.join(ROOT, 'lib', 'viewer', 'index.html');
  const src = path.join(ROOT, 'src', 'viewer');
  const newest = Math.max(...fs.readdirSync(src).map((f) => fs.statSync(path.join(src, f)).mtimeMs));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return;
  expect(spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-viewer.js'), '--no-check'], { stdio: 'inherit' }).status).toBe(0);
}

describeBrowser('the viewer page in Chromium', () => {
  let server: LiversegServer;
  let browser: TestBrowser;
  let tmp: string;

  beforeAll(async () => {
    ensureViewerBuilt();
    const tp = await trainedPipeline();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-viewer-test-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await createServer({ model: tp.pipeline, port: 0, token: TOKEN });
    browser = await launchBrowser({ width: 1200, height: 800 });
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await clearPipelineCache();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('uploads the CT sample, shows the job, and draws the liver overlay where the mask is', async () => {
    const page = browser.page;
    await page.goto(`${server.url}/`);
    // No token yet: the page asks for one.
    await page.waitForSelector('#token-box:not([hidden])', { timeout: 30_000 });
    await page.fill('#token', TOKEN);
    await page.click('#token-save');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('#server')!.textContent!.startsWith('liverseg'), undefined, {
      timeout: 30_000,
    });

    await page.setInputFiles('#file', CT);
    await page.waitForSelector('body[data-state="shown"], body[data-state="error"]', { timeout: 120_000 });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.querySelector('#error')!.textContent)).toBe('');
    expect(await page.textContent('#job-text')).toMatch(/done/);
    const stats = await page.textContent('#stats');
    expect(stats).toMatch(/Volume\s*[\d.]+ ml/);
    expect(stats).toMatch(/Mean\s*-?\d+ HU/);
    expect(await page.locator('#downloads button').allTextContents()).toContain('Download mask.nii.gz');

    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-multiplanar.png') });
    await page.click('button[data-view="axial"]');
    await page.waitForTimeout(500);
    const shot = path.join(ARTIFACTS, 'viewer-axial.png');

    // The mask the page shows, from the service.
    const jobId = await page.evaluate(() => (globalThis as unknown as PageGlobals).liversegViewer.job().id);
    const res = await fetch(`${server.url}/v1/jobs/${jobId}/mask.nii.gz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const maskFile = path.join(tmp, 'mask.nii.gz');
    fs.writeFileSync(maskFile, Buffer.from(await res.arrayBuffer()));
    const mask = await loadVolume(maskFile);
    const [ni, nj, nk] = mask.shape;
    const A = mask.affine;
    const at = (i: number, j: number, k: number): number => (i < 0 || j < 0 || k < 0 || i >= ni || j >= nj || k >= nk ? 0 : mask.data[i + ni * (j + nj * k)]);

    // The axial plane on screen: the crosshair's world z, and the voxel slice k closest to it. NiiVue
    // interpolates between slices (the plane may lie between two), so a voxel counts as liver only
    // when the slices on either side are liver there too, and as background only when no voxel
    // within 3 in-plane and 1 across is liver.
    const z0 = await page.evaluate(() => {
      const nv = (globalThis as unknown as PageGlobals).liversegViewer.nv;
      return nv.frac2mm(nv.scene.crosshairPos)[2];
    });
    const k = Math.round((z0 - A[2][3]) / A[2][2]);
    expect(k).toBeGreaterThanOrEqual(0);
    expect(k).toBeLessThan(nk);
    const world = (i: number, j: number): number[] => [0, 1, 2].map((r) => A[r][0] * i + A[r][1] * j + A[r][2] * k + A[r][3]);
    const inside: number[][] = [];
    const outside: number[][] = [];
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        let all = true,
          any = false;
        for (let dk = -1; dk <= 1; dk++) {
          for (const [di, dj] of [
            [0, 0],
            [-1, 0],
            [1, 0],
            [0, -1],
            [0, 1],
          ])
            all = all && at(i + di, j + dj, k + dk) > 0;
          for (let dj = -3; dj <= 3 && !any; dj++) for (let di = -3; di <= 3 && !any; di++) any = at(i + di, j + dj, k + dk) > 0;
        }
        if (all) inside.push(world(i, j));
        else if (!any) outside.push(world(i, j));
      }
    }
    expect(inside.length).toBeGreaterThan(50);
    const pick = (pts: number[][], n: number): number[][] => pts.filter((_, idx) => idx % Math.max(1, Math.floor(pts.length / n)) === 0).slice(0, n);
    const samples = { inside: pick(inside, 300), outside: pick(outside, 300) };
    // World points to screen pixels by NiiVue's own transform, drawn afresh first; the screenshot is
    // taken between two such projections that agree, so layout and picture are the same.
    const project = (): Promise<{ inside: Array<number[] | null>; outside: Array<number[] | null>; crosshair: number[] | null; rect: number[] }> =>
      page.evaluate((pts) => {
        const g = globalThis as unknown as PageGlobals;
        const nv = g.liversegViewer.nv;
        nv.drawScene();
        const rect = g.document.querySelector('#gl')!.getBoundingClientRect();
        const conv = (list: number[][]): Array<number[] | null> =>
          list.map((mm) => {
            const c = nv.frac2canvasPos(nv.mm2frac(mm));
            return c ? [rect.left + c[0] / g.devicePixelRatio, rect.top + c[1] / g.devicePixelRatio] : null;
          });
        return {
          inside: conv(pts.inside),
          outside: conv(pts.outside),
          crosshair: conv([nv.frac2mm(nv.scene.crosshairPos)])[0],
          rect: [rect.left, rect.top, rect.width, rect.height],
        };
      }, samples);
    let toScreen = await project();
    let shotBytes: Buffer = Buffer.alloc(0);
    for (let tries = 0; ; tries++) {
      shotBytes = await page.screenshot({ path: shot });
      const again = await project();
      const stable = JSON.stringify(again) === JSON.stringify(toScreen);
      toScreen = again;
      if (stable) break;
      if (tries >= 10) throw new Error('the view kept changing between screenshots');
      await page.waitForTimeout(300);
    }

    const png = PNG.sync.read(shotBytes);
    const pixel = (x: number, y: number): [number, number, number] => {
      const o = (Math.round(y) * png.width + Math.round(x)) * 4;
      return [png.data[o], png.data[o + 1], png.data[o + 2]];
    };
    // Points on the crosshair's lines (drawn over everything, in blue) say nothing about the overlay.
    const cross = toScreen.crosshair;
    const offCrosshair = (p: number[]): boolean => !cross || (Math.abs(p[0] - cross[0]) > 8 && Math.abs(p[1] - cross[1]) > 8);
    const share = (pts: Array<number[] | null>): number => {
      const onScreen = pts.filter((p): p is number[] => p !== null && p[0] >= 0 && p[1] >= 0 && p[0] < png.width && p[1] < png.height && offCrosshair(p));
      return onScreen.filter((p) => isLiver(...pixel(p[0], p[1]))).length / Math.max(1, onScreen.length);
    };
    const [left, top, width, height] = toScreen.rect;
    let liverPixels = 0;
    for (let y = Math.ceil(top); y < Math.min(png.height, top + height); y++)
      for (let x = Math.ceil(left); x < Math.min(png.width, left + width); x++) liverPixels += isLiver(...pixel(x, y)) ? 1 : 0;
    const insideShare = share(toScreen.inside);
    const outsideShare = share(toScreen.outside);
    console.log(
      `serve-viewer: screenshots in ${ARTIFACTS} (viewer-axial.png, viewer-multiplanar.png); axial slice k=${k}: ${liverPixels} liver-coloured pixels; ` +
        `${(100 * insideShare).toFixed(1)}% of ${samples.inside.length} mask voxels (off the crosshair) and ${(100 * outsideShare).toFixed(1)}% of ${samples.outside.length} voxels away from it are liver-coloured`,
    );
    expect(liverPixels).toBeGreaterThan(1000);
    expect(insideShare).toBeGreaterThan(0.95);
    expect(outsideShare).toBeLessThan(0.02);

    // Opacity 0 hides the overlay.
    await page.fill('#opacity', '0');
    await page.dispatchEvent('#opacity', 'input');
    await page.waitForTimeout(300);
    const hidden = PNG.sync.read(await page.screenshot());
    let left0 = 0;
    for (let o = 0; o < hidden.data.length; o += 4) left0 += isLiver(hidden.data[o], hidden.data[o + 1], hidden.data[o + 2]) ? 1 : 0;
    expect(left0).toBeLessThan(liverPixels / 20);

    expect(browser.blocked).toEqual([]);
    // The one expected error: the page's first call, before it had the token, answered 401.
    expect(browser.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  }, 300_000);

  const series = path.join(ROOT, 'tests', 'fixtures', 'ct-dicom', 'series');
  // The DICOM fixture comes with DICOM input; skipped, with this reason, where it is not there.
  (fs.existsSync(series) ? it : it.skip)(
    'takes a DICOM folder and shows the series with its overlay',
    async () => {
      const page = browser.page;
      await page.setInputFiles('#folder', series);
      await page.waitForFunction(
        () => ['shown', 'error'].includes((globalThis as unknown as PageGlobals).document.querySelector('body')!.getAttribute('data-state')!),
        undefined,
        {
          timeout: 120_000,
        },
      );
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.querySelector('#error')!.textContent)).toBe('');
      expect(await page.textContent('#stats')).toMatch(/Volume\s*[\d.]+ ml/);
      expect(await page.locator('#downloads button').allTextContents()).toContain('Download ct.nii.gz');
      await page.click('button[data-view="axial"]');
      await page.waitForTimeout(500);
      const shot = path.join(ARTIFACTS, 'viewer-dicom-axial.png');
      await page.fill('#opacity', '0.6');
      await page.dispatchEvent('#opacity', 'input');
      await page.waitForTimeout(300);
      const png = PNG.sync.read(await page.screenshot({ path: shot }));
      let liver = 0;
      for (let o = 0; o < png.data.length; o += 4) liver += isLiver(png.data[o], png.data[o + 1], png.data[o + 2]) ? 1 : 0;
      console.log(`serve-viewer: DICOM folder: ${liver} liver-coloured pixels in ${shot}`);
      expect(liver).toBeGreaterThan(500);
      expect(browser.blocked).toEqual([]);
    },
    300_000,
  );
});
