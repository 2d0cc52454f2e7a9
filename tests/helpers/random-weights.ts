/** Random networks for tests that need weights but no training (and no addon). */
import type { NativeNamedTensor } from '../../src/ts/native/binding';
import type { ResolvedArchitecture } from '../../src/ts/nets/config';
import { expectedWeights } from '../../src/ts/nets/onnx/resunet-graph';

/** Kaiming-normal convolutions, unit norm scales, zero biases: a random network, seeded. */
export function randomWeights(arch: ResolvedArchitecture, seed = 1): NativeNamedTensor[] {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return expectedWeights(arch).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const fanIn = shape.length === 5 ? shape[1] * shape[2] * shape[3] * shape[4] : 1;
    for (let i = 0; i < n; i++) {
      const g = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
      data[i] = shape.length === 5 ? g * Math.sqrt(2 / fanIn) : name.endsWith('norm.weight') ? 1 + 0.1 * g : 0.1 * g;
    }
    return { name, shape, data };
  });
}
