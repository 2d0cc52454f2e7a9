/**
 * The liverseg viewer: choose a CT, watch the upload and the job, then see the CT with the liver
 * overlay in NiiVue (axial, coronal, sagittal, all three, 3D), the statistics and the downloads.
 * Bundled with NiiVue by scripts/build-viewer.js into lib/viewer/ (no CDN: the service's machines
 * may have no internet). Talks only to the service that served it.
 */
import { MULTIPLANAR_TYPE, Niivue, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';

interface JobView {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  progress?: { stage: string; fraction: number };
  timings?: Record<string, number>;
  liverFound?: boolean;
  stats?: Record<string, unknown> | null;
  error?: { code: string; message: string };
  links: Record<string, string>;
}

interface ServiceInfo {
  version: string;
  inputs: string[];
  results: string[];
  maxUploadBytes: number;
}

interface Stats {
  volumeMl: number;
  meanHu: number;
  voxels: number;
  cutOff: boolean;
  source: 'service' | 'viewer';
}

const TOKEN_KEY = 'liverseg-token';
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let current: JobView | null = null;
let ctFile: File | null = null;
const nv = new Niivue({
  backColor: [0, 0, 0, 1],
  crosshairColor: [0.3, 0.75, 1, 0.9],
  crosshairWidth: 1,
  show3Dcrosshair: false,
  isColorbar: false,
  dragAndDropEnabled: false,
  loadingText: '',
  // "All": axial, coronal, sagittal and the 3D rendering in a 2 x 2 grid.
  multiplanarLayout: MULTIPLANAR_TYPE.GRID,
  multiplanarShowRender: SHOW_RENDER.ALWAYS,
});

/** For scripts and tests driving the page: the NiiVue instance and the current job. */
(window as unknown as { liversegViewer: unknown }).liversegViewer = {
  nv,
  job: () => current,
};

function setState(state: string): void {
  document.body.dataset.state = state;
}

function showError(message: string): void {
  const el = $('error');
  el.textContent = message;
  el.hidden = false;
  setState('error');
}

function clearError(): void {
  const el = $('error');
  el.hidden = true;
  el.textContent = '';
  if (document.body.dataset.state === 'error') setState('idle');
}

function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

class NeedToken extends Error {}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const r = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  if (r.status === 401) {
    $('token-box').hidden = false;
    throw new NeedToken('this service needs an access token: enter it on the left');
  }
  return r;
}

async function errorText(r: Response): Promise<string> {
  try {
    const body = (await r.json()) as { message?: string; code?: string };
    return `${body.message ?? r.statusText}${body.code ? ` (${body.code})` : ''}`;
  } catch {
    return `${r.status} ${r.statusText}`;
  }
}

async function loadInfo(): Promise<void> {
  const r = await api('/v1/info');
  if (!r.ok) throw new Error(await errorText(r));
  const info = (await r.json()) as ServiceInfo;
  $('server').textContent = `liverseg ${info.version} · uploads up to ${formatBytes(info.maxUploadBytes)}`;
  const dicom = info.inputs.includes('dicom') || info.inputs.includes('zip');
  for (const el of Array.from(document.querySelectorAll<HTMLElement>('.pick.dicom'))) {
    el.classList.toggle('disabled', !dicom);
    el.querySelector('input')!.disabled = !dicom;
  }
  $('inputs-note').textContent = dicom ? '' : 'This service takes NIfTI files only.';
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** Uploads with XMLHttpRequest (fetch reports no upload progress). */
function upload(body: Blob | FormData): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/jobs');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    if (!(body instanceof FormData)) xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      $('upload-bar').style.width = `${(100 * e.loaded) / e.total}%`;
      $('upload-text').textContent = `Upload: ${formatBytes(e.loaded)} of ${formatBytes(e.total)}`;
    };
    xhr.onerror = () => reject(new Error('the upload failed (network error)'));
    xhr.onload = () => {
      let parsed: { message?: string; code?: string } & Partial<JobView> = {};
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status === 401) {
        $('token-box').hidden = false;
        reject(new NeedToken('this service needs an access token: enter it on the left'));
      } else if (xhr.status === 202) {
        resolve(parsed as JobView);
      } else {
        const retry = xhr.getResponseHeader('Retry-After');
        reject(new Error(`${parsed.message ?? xhr.statusText}${parsed.code ? ` (${parsed.code})` : ''}${retry ? `; try again in ${retry} s` : ''}`));
      }
    };
    xhr.send(body);
  });
}

async function poll(id: string): Promise<JobView> {
  for (;;) {
    const r = await api(`/v1/jobs/${id}`);
    if (!r.ok) throw new Error(await errorText(r));
    const job = (await r.json()) as JobView;
    current = job;
    const f = job.state === 'done' ? 1 : (job.progress?.fraction ?? 0);
    $('job-bar').style.width = `${100 * f}%`;
    $('job-text').textContent = `Job ${id.slice(0, 8)}: ${job.state}${job.progress && job.state === 'running' ? ` (${job.progress.stage})` : ''}`;
    setState(job.state);
    if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') return job;
    await new Promise((r2) => setTimeout(r2, 500));
  }
}

async function fetchBlobUrl(path: string): Promise<string> {
  const r = await api(path);
  if (!r.ok) throw new Error(await errorText(r));
  return URL.createObjectURL(await r.blob());
}

/** A name NiiVue recognises the format by. */
async function niftiName(file: File): Promise<string> {
  if (/\.nii(\.gz)?$/i.test(file.name)) return file.name;
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  return head[0] === 0x1f && head[1] === 0x8b ? 'ct.nii.gz' : 'ct.nii';
}

async function show(job: JobView): Promise<void> {
  setState('loading-view');
  let ctUrl: string, ctName: string;
  if (job.links['ct.nii.gz']) {
    ctUrl = await fetchBlobUrl(job.links['ct.nii.gz']);
    ctName = 'ct.nii.gz';
  } else if (ctFile) {
    ctUrl = URL.createObjectURL(ctFile);
    ctName = await niftiName(ctFile);
  } else {
    throw new Error('no CT to show');
  }
  const maskUrl = await fetchBlobUrl(job.links['mask.nii.gz']);
  const opacity = Number(($('opacity') as HTMLInputElement).value);
  await nv.loadVolumes([
    { url: ctUrl, name: ctName },
    { url: maskUrl, name: 'mask.nii.gz', colormap: 'red', opacity, cal_min: 0.5, cal_max: 1 },
  ]);
  renderStats(job);
  renderDownloads(job);
  $('result').hidden = false;
  setState('shown');
}

function viewerStats(): Stats | null {
  const [ct, mask] = nv.volumes;
  if (!ct || !mask || !mask.img || !ct.img || mask.img.length !== ct.img.length) return null;
  const dims = mask.hdr!.dims;
  const pix = mask.hdr!.pixDims;
  const slope = ct.hdr!.scl_slope && Number.isFinite(ct.hdr!.scl_slope) ? ct.hdr!.scl_slope : 1;
  const inter = Number.isFinite(ct.hdr!.scl_inter) ? ct.hdr!.scl_inter : 0;
  const plane = dims[1] * dims[2];
  let n = 0,
    sum = 0,
    cutOff = false;
  const m = mask.img,
    c = ct.img;
  for (let i = 0; i < m.length; i++) {
    if (m[i] <= 0) continue;
    n++;
    sum += c[i] * slope + inter;
    if (i < plane || i >= m.length - plane) cutOff = true;
  }
  return { volumeMl: (n * Math.abs(pix[1] * pix[2] * pix[3])) / 1000, meanHu: n ? sum / n : NaN, voxels: n, cutOff, source: 'viewer' };
}

/** The service's statistics (liverStats: volumeMl, voxels, hu.mean, truncated), where it sent them. */
function serviceStats(s: Record<string, unknown> | null | undefined): Stats | null {
  if (!s || typeof s.volumeMl !== 'number') return null;
  const hu = s.hu as { mean?: number } | null | undefined;
  return {
    volumeMl: s.volumeMl,
    meanHu: typeof hu?.mean === 'number' ? hu.mean : NaN,
    voxels: typeof s.voxels === 'number' ? s.voxels : NaN,
    cutOff: s.truncated === true,
    source: 'service',
  };
}

function renderStats(job: JobView): void {
  const s = serviceStats(job.stats) ?? viewerStats();
  const rows: Array<[string, string]> = [['Liver found', job.liverFound === false ? 'no' : 'yes']];
  if (s) {
    rows.push(
      ['Volume', `${s.volumeMl.toFixed(1)} ml`],
      ['Mean', Number.isFinite(s.meanHu) ? `${s.meanHu.toFixed(0)} HU` : 'n/a'],
      ['Voxels', String(s.voxels)],
    );
  }
  if (job.timings?.running !== undefined) rows.push(['Time', `${(job.timings.running / 1000).toFixed(1)} s`]);
  const dl = $('stats');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  const w = $('warning');
  w.hidden = !s?.cutOff;
  w.textContent = s?.cutOff ? 'The liver reaches the first or last slice: it may be cut off by the scan, and the volume is then a lower bound.' : '';
}

function renderDownloads(job: JobView): void {
  const box = $('downloads');
  box.replaceChildren();
  for (const [name, href] of Object.entries(job.links)) {
    if (name === 'self') continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Download ${name}`;
    b.onclick = async () => {
      try {
        const url = await fetchBlobUrl(href);
        const a = document.createElement('a');
        a.href = url;
        a.download = `liverseg-${job.id}-${name}`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (e) {
        showError((e as Error).message);
      }
    };
    box.append(b);
  }
}

async function run(body: Blob | FormData, file: File | null): Promise<void> {
  clearError();
  $('result').hidden = true;
  ctFile = file;
  setState('uploading');
  $('upload-bar').style.width = '0';
  $('job-bar').style.width = '0';
  const job = await upload(body);
  $('upload-text').textContent = 'Upload: done';
  const end = await poll(job.id);
  if (end.state !== 'done') throw new Error(`the job ${end.state}${end.error ? `: ${end.error.message} (${end.error.code})` : ''}`);
  await show(end);
}

function guard(p: Promise<void>): void {
  p.catch((e: unknown) => showError((e as Error).message));
}

const VIEWS: Record<string, SLICE_TYPE> = {
  axial: SLICE_TYPE.AXIAL,
  coronal: SLICE_TYPE.CORONAL,
  sagittal: SLICE_TYPE.SAGITTAL,
  multiplanar: SLICE_TYPE.MULTIPLANAR,
  render: SLICE_TYPE.RENDER,
};

function init(): void {
  nv.attachToCanvas($<HTMLCanvasElement>('gl'));
  nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
  ($('token') as HTMLInputElement).value = token;
  $('token-save').onclick = () => {
    token = ($('token') as HTMLInputElement).value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-box').hidden = true;
    clearError();
    guard(loadInfo());
  };
  $<HTMLInputElement>('file').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) guard(run(f, f));
  };
  $<HTMLInputElement>('zip').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) guard(run(f, null));
  };
  $<HTMLInputElement>('folder').onchange = (e) => {
    const files = Array.from((e.target as HTMLInputElement).files ?? []);
    if (!files.length) return;
    const form = new FormData();
    for (const f of files) form.append('files', f);
    guard(run(form, null));
  };
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#toolbar button'))) {
    b.onclick = () => {
      nv.setSliceType(VIEWS[b.dataset.view!]);
      for (const o of Array.from(document.querySelectorAll('#toolbar button'))) o.classList.toggle('active', o === b);
    };
  }
  $<HTMLInputElement>('opacity').oninput = (e) => {
    if (nv.volumes.length > 1) nv.setOpacity(1, Number((e.target as HTMLInputElement).value));
  };
  guard(loadInfo());
}

init();
