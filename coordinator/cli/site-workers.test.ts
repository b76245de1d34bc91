import { describe, expect, it } from 'vitest';
import { SiteWorkerReport } from './site-workers.ts';

describe('SiteWorkerReport', () => {
  it('joins each site\'s worker backends and devices with their last epoch\'s examples/s, ignoring other lines', () => {
    const r = new SiteWorkerReport();
    const line = (o: object) => JSON.stringify({ t: 'x', component: 'site', ...o });
    r.take(line({ site: 1, type: 'backend', backend: 'wasm x2 workers', reason: '', workers: [
      { index: 0, pid: 11, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'] }, { index: 1, pid: 12, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'] }] }));
    r.take(line({ site: 0, type: 'backend', backend: 'wasm', reason: '', workers: [{ index: 0, pid: 10, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'] }] }));
    r.take(line({ site: 1, type: 'training', round: 1, progress: { kind: 'epoch', epoch: 0, loss: 1, examplesPerS: 900, workers: [
      { index: 0, examples: 50, computeS: 0.1, examplesPerS: 500 }, { index: 1, examples: 50, computeS: 0.125, examplesPerS: 400 }] } }));
    r.take(line({ site: 1, type: 'training', round: 2, progress: { kind: 'epoch', epoch: 0, loss: 1, examplesPerS: 1000, workers: [
      { index: 0, examples: 50, computeS: 0.1, examplesPerS: 550 }, { index: 1, examples: 50, computeS: 0.1, examplesPerS: 450 }] } }));
    r.take('{"site": 1, "workers": [ broken');
    r.take(line({ site: 0, type: 'submitted', round: 1, receivedUpdates: 1 }));
    expect(r.summary()).toEqual([
      { site: 0, examplesPerS: null, workers: [{ index: 0, pid: 10, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'] }] },
      { site: 1, examplesPerS: 1000, workers: [
        { index: 0, pid: 11, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'], examples: 50, computeS: 0.1, examplesPerS: 550 },
        { index: 1, pid: 12, backend: 'wasm', devices: ['cpu:EPYC (wasm, 1 thread)'], examples: 50, computeS: 0.1, examplesPerS: 450 }] },
    ]);
  });
});
