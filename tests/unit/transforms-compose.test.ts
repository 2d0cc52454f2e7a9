import {
  CastToFloat32d,
  Compose,
  CropForegroundd,
  EnsureBinaryLabeld,
  Orientationd,
  RandAffined,
  RandCropByPosNegLabeld,
  RandFlipd,
  RandGaussianNoised,
  RandRotate90d,
  RandScaleIntensityd,
  RandShiftIntensityd,
  Resized,
  ScaleIntensityRanged,
  SpatialPadd,
  Spacingd,
  registerTransform,
  registeredTransforms,
  transformFromSpec,
} from '../../src/ts/transforms';
import type { Sample, Transform } from '../../src/ts/transforms';
import { Rng } from '../../src/ts/util/rng';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';
import { fromFn, vol } from '../helpers/volumes';

function sample(): Sample {
  const shape: Vec3 = [20, 18, 12];
  const image = fromFn(shape, (i, j, k) => ((i - 10) ** 2 + (j - 9) ** 2 < 30 ? 80 + k : -500), { spacing: [0.8, 0.8, 2.5], origin: [-10, 20, -300] });
  const l = new Uint8Array(20 * 18 * 12);
  image.data.forEach((v, n) => (l[n] = v > 0 ? (n % 7 === 0 ? 2 : 1) : 0));
  return { image, label: vol(l, shape, { affine: image.affine }), name: 'case' };
}

const trainingChain = (): Transform[] => [
  new Orientationd({ keys: ['image', 'label'], axcodes: 'RAS' }),
  new Spacingd({ keys: ['image', 'label'], pixdim: [1, 1, 2] }),
  new EnsureBinaryLabeld({ keys: ['label'] }),
  new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
  new CropForegroundd({ keys: ['image', 'label'], sourceKey: 'label', margin: 3 }),
  new SpatialPadd({ keys: ['image', 'label'], size: [12, 12, 8] }),
  new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [8, 8, 4], numSamples: 3 }),
  new RandFlipd({ keys: ['image', 'label'], prob: 0.5, spatialAxis: [0] }),
  new RandRotate90d({ keys: ['image', 'label'], prob: 0.5, spatialAxes: [0, 1] }),
  new RandAffined({ keys: ['image', 'label'], prob: 0.5, rotateRange: 0.2, scaleRange: 0.1 }),
  new RandGaussianNoised({ keys: ['image'], prob: 0.5, std: 0.05 }),
  new RandScaleIntensityd({ keys: ['image'], prob: 0.5, factors: 0.1 }),
  new RandShiftIntensityd({ keys: ['image'], prob: 0.5, offsets: 0.1 }),
  new Resized({ keys: ['image', 'label'], size: [6, 6, 4] }),
  new CastToFloat32d({ keys: ['image'] }),
];

describe('Compose', () => {
  test('runs in order, fans out after a multi-sample transform, and is deterministic under a seed', () => {
    const c = new Compose(trainingChain());
    expect(c.random).toBe(true);
    const a = c.applyAll(sample(), new Rng(9));
    const b = c.applyAll(sample(), new Rng(9));
    const d = c.applyAll(sample(), new Rng(10));
    expect(a).toHaveLength(3);
    for (const s of a) {
      expect(s.image.shape).toEqual([6, 6, 4]);
      expect(s.label!.shape).toEqual([6, 6, 4]);
      expect(s.image.data).toBeInstanceOf(Float32Array);
      expect(s.name).toBe('case');
      expect(s.foregroundBox).toBeDefined();
    }
    expect(a.map((s) => Array.from(s.image.data))).toEqual(b.map((s) => Array.from(s.image.data)));
    expect(a.map((s) => Array.from(s.image.data))).not.toEqual(d.map((s) => Array.from(s.image.data)));
  });

  test('splits at the first random transform; head then tail equals the whole chain', () => {
    const c = new Compose(trainingChain());
    expect(c.firstRandomIndex).toBe(6);
    const { head, tail } = c.splitAtFirstRandom();
    expect(head.random).toBe(false);
    expect(head.transforms).toHaveLength(6);
    expect(tail.transforms[0]).toBeInstanceOf(RandCropByPosNegLabeld);
    const whole = c.applyAll(sample(), new Rng(4));
    const split = tail.applyAll(head.apply(sample()) as Sample, new Rng(4));
    expect(split.map((s) => Array.from(s.image.data))).toEqual(whole.map((s) => Array.from(s.image.data)));
    // A single sample stays single when nothing fans out.
    expect(Array.isArray(head.apply(sample()))).toBe(false);
  });

  test('every transform survives toSpec -> JSON -> transformFromSpec and behaves the same', () => {
    const c = new Compose(trainingChain());
    const spec = JSON.parse(JSON.stringify(c.toSpec()));
    const rebuilt = transformFromSpec(spec) as Compose;
    expect(rebuilt).toBeInstanceOf(Compose);
    expect(rebuilt.toSpec()).toEqual(c.toSpec());
    expect(rebuilt.transforms.map((t) => t.name)).toEqual(c.transforms.map((t) => t.name));
    expect(rebuilt.transforms.map((t) => t.random)).toEqual(c.transforms.map((t) => t.random));
    const x = c.applyAll(sample(), new Rng(2)).map((s) => Array.from(s.image.data));
    const y = rebuilt.applyAll(sample(), new Rng(2)).map((s) => Array.from(s.image.data));
    expect(y).toEqual(x);
    for (const name of c.transforms.map((t) => t.name)) expect(registeredTransforms()).toContain(name);
  });

  test('unknown names are ERR_INVALID_CONFIG; custom transforms can be registered', () => {
    expect(() => transformFromSpec({ name: 'Nope', args: {} })).toThrow(LiversegError);
    try {
      transformFromSpec({ name: 'Nope', args: {} });
    } catch (e) {
      expect((e as LiversegError).code).toBe('ERR_INVALID_CONFIG');
    }
    class Negate implements Transform {
      readonly name = 'TestNegate';
      readonly random = false;
      apply(s: Sample): Sample {
        return { ...s, image: { ...s.image, data: s.image.data.map((v) => -v) } };
      }
      toSpec() {
        return { name: this.name, args: {} };
      }
    }
    registerTransform('TestNegate', () => new Negate());
    const t = transformFromSpec({ name: 'Compose', args: { transforms: [{ name: 'TestNegate', args: {} }] } }) as Compose;
    const img = vol(new Float32Array([1, -2]), [2, 1, 1]);
    expect(Array.from((t.apply({ image: img }) as Sample).image.data)).toEqual([-1, 2]);
  });

  test('rejects things that are not transforms', () => {
    expect(() => new Compose([{} as Transform])).toThrow(/transforms\[0\]/);
  });
});
