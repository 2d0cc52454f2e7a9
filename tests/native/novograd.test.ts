import { loadBinding } from '../../src/ts/native/loader';
import type { NativeBinding, NativeNamedTensor, NativeOptimizerConfig, NativeTestHooks } from '../../src/ts/native/binding';

/** The SPEC's Novograd formula, written out independently in float64. */
function referenceNovograd(
  params: number[][],
  grads: number[][][],
  lrs: number[],
  o: { b1: number; b2: number; eps: number; wd: number; gradAveraging: boolean; amsgrad: boolean },
): number[][] {
  const theta = params.map((p) => [...p]);
  const m = params.map((p) => p.map(() => 0));
  const v = params.map(() => 0);
  const vmax = params.map(() => 0);
  grads.forEach((step, s) => {
    step.forEach((g, t) => {
      const n = g.reduce((a, x) => a + x * x, 0);
      v[t] = v[t] === 0 ? n : o.b2 * v[t] + (1 - o.b2) * n;
      vmax[t] = Math.max(vmax[t], v[t]);
      const denom = Math.sqrt(o.amsgrad ? vmax[t] : v[t]) + o.eps;
      g.forEach((gi, i) => {
        let d = gi / denom + o.wd * theta[t][i];
        if (o.gradAveraging) d *= 1 - o.b1;
        m[t][i] = o.b1 * m[t][i] + d;
        theta[t][i] -= lrs[s] * m[t][i];
      });
    });
  });
  return theta;
}

/** A complete optimizer config (the hook, like createModel, takes no defaults): MONAI's Novograd defaults plus `over`. */
function config(over: Partial<NativeOptimizerConfig> = {}): NativeOptimizerConfig {
  return { name: 'novograd', lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0, gradAveraging: false, amsgrad: false, ...over };
}

function named(name: string, values: number[], shape: number[]): NativeNamedTensor {
  return { name, data: Float64Array.from(values), shape };
}

describe('Novograd (native optimizer against the SPEC formula)', () => {
  const binding = loadBinding() as NativeBinding & NativeTestHooks;
  const p0 = [
    [0.5, -1.25, 2.0, 0.75, -0.3, 1.1],
    [0.2, -0.4],
  ];
  const steps = [
    [
      [0.1, -0.2, 0.3, 0.05, -0.5, 0.25],
      [1.5, -0.75],
    ],
    [
      [-0.3, 0.1, 0.2, -0.15, 0.4, 0.0],
      [0.05, 0.9],
    ],
    [
      [0.7, 0.2, -0.1, 0.3, -0.2, 0.6],
      [-1.2, 0.3],
    ],
    [
      [0.01, -0.02, 0.03, 0.0, 0.02, -0.01],
      [0.4, -0.1],
    ],
  ];
  const lrs = [0.008, 0.0072, 0.0052, 0.001];

  const cases = [
    { title: 'MONAI defaults', cfg: {}, o: { b1: 0.9, b2: 0.98, eps: 1e-8, wd: 0, gradAveraging: false, amsgrad: false } },
    { title: 'weight decay', cfg: { weightDecay: 0.01 }, o: { b1: 0.9, b2: 0.98, eps: 1e-8, wd: 0.01, gradAveraging: false, amsgrad: false } },
    { title: 'amsgrad', cfg: { amsgrad: true }, o: { b1: 0.9, b2: 0.98, eps: 1e-8, wd: 0, gradAveraging: false, amsgrad: true } },
    {
      title: 'grad averaging and custom betas',
      cfg: { gradAveraging: true, beta1: 0.8, beta2: 0.9, eps: 1e-6 },
      o: { b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0, gradAveraging: true, amsgrad: false },
    },
  ];

  it.each(cases)('matches the formula to 1e-6 over 4 steps: $title', async ({ cfg, o }) => {
    const out = await binding._optimizerSteps(
      config(cfg),
      [named('a', p0[0], [2, 3]), named('b', p0[1], [2])],
      steps.map((s) => [named('a', s[0], [2, 3]), named('b', s[1], [2])]),
      lrs,
    );
    const expected = referenceNovograd(p0, steps, lrs, o);
    out.params.forEach((p, t) => {
      expect(p.name).toBe(t === 0 ? 'a' : 'b');
      Array.from(p.data).forEach((x, i) => expect(Math.abs(x - expected[t][i])).toBeLessThan(1e-6));
    });
    // the parameters really moved
    expect(Math.abs(out.params[0].data[0] - p0[0][0])).toBeGreaterThan(1e-4);
  });

  it('takes the squared gradient norm as the second moment on the first step', async () => {
    const g = [0.3, -0.4];
    const out = await binding._optimizerSteps(config(), [named('w', [1, 1], [2])], [[named('w', g, [2])]], [0.1]);
    const v = out.state.find((s) => s.name === 'w.exp_avg_sq')!;
    expect(v.data[0]).toBeCloseTo(0.25, 12);
    // m = g / (|g| + eps); theta = 1 - lr * m
    expect(out.params[0].data[0]).toBeCloseTo(1 - 0.1 * (0.3 / (0.5 + 1e-8)), 10);
    expect(out.state.find((s) => s.name === 'step')!.data[0]).toBe(1);
  });

  it('runs Adam with bias correction as PyTorch defines it', async () => {
    const out = await binding._optimizerSteps(config({ name: 'adam', beta1: 0.9, beta2: 0.999 }), [named('w', [1], [1])], [[named('w', [0.5], [1])]], [0.01]);
    // first step: m_hat = g, v_hat = g^2, update = lr * g / (|g| + eps) = lr
    expect(out.params[0].data[0]).toBeCloseTo(1 - 0.01, 8);
  });
});
