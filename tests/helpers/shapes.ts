/** Small synthetic inputs made in code for the native tests. */
import type { TensorBatch as Batch } from '../../src/ts/native/tensors';

/** A sphere of radius r in a cube of side n: image (float32, noisy) and label (uint8), batch of 1. */
export function sphereBatch(n: number, r: number, seed = 1): { images: Batch<Float32Array>; labels: Batch<Uint8Array> } {
  const image = new Float32Array(n * n * n);
  const label = new Uint8Array(n * n * n);
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const c = (n - 1) / 2;
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const idx = i + n * (j + n * k);
        const inside = (i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2 <= r * r;
        label[idx] = inside ? 1 : 0;
        image[idx] = (inside ? 0.7 : 0.2) + 0.1 * (rand() - 0.5);
      }
  return {
    images: { data: image, shape: [1, 1, n, n, n] },
    labels: { data: label, shape: [1, 1, n, n, n] },
  };
}

export function randomFloats(n: number, seed = 7): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}
