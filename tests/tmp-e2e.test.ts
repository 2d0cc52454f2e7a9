import { writePhantomDataset } from '../src/ts/data/phantom-dataset';
import { train } from '../src/ts/engines/trainer';
import { segment } from '../src/ts/inferers/segment';
import { loadVolume } from '../src/ts/io';
it('e2e', async () => {
  const t0 = Date.now();
  await writePhantomDataset('/tmp/ph', { count: 14, shape: [96, 96, 48], seed: 1 });
  console.log('phantoms', Date.now() - t0);
  const r = await train({ stage: 'two-stage', data: '/tmp/ph', output: '/tmp/run', epochs: 20, channels: [8, 16, 32, 64], coarseSize: [48, 48, 32], patchSize: [48, 48, 32], cropsPerVolume: 2, valRatio: 0.2, valInterval: 5, device: 'cpu', margin: 8, lr: 0.01, scheduler: 'constant' });
  console.log(JSON.stringify(r.stages.map(s => [s.stage, s.bestDice, s.bestEpoch, s.seconds])), r.pipeline, Date.now() - t0);
  await writePhantomDataset('/tmp/ph2', { count: 1, shape: [96, 96, 48], seed: 99 });
  const m = await segment('/tmp/ph2/imagesTr/' + require('fs').readdirSync('/tmp/ph2/imagesTr')[0], { model: r.pipeline! });
  const lab = await loadVolume('/tmp/ph2/labelsTr/' + require('fs').readdirSync('/tmp/ph2/labelsTr')[0]);
  let i=0,p=0,g=0; for (let k=0;k<m.data.length;k++){const a=m.data[k]?1:0,b=lab.data[k]?1:0;i+=a&b;p+=a;g+=b;}
  console.log('dice', 2*i/(p+g), m.timings, m.roi, m.liverFound);
}, 900000);
