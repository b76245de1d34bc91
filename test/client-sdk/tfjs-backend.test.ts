import { afterEach, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { BACKEND_ENV_VAR, selectBackend } from '../../client-sdk/tfjs/backend.ts';

function nodeGpuInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

const savedEnv = process.env[BACKEND_ENV_VAR];

afterEach(() => {
  if (savedEnv === undefined) delete process.env[BACKEND_ENV_VAR];
  else process.env[BACKEND_ENV_VAR] = savedEnv;
});

describe('selectBackend', () => {
  it.skipIf(nodeGpuInstalled())('auto: without tfjs-node-gpu picks wasm and says why', async () => {
    delete process.env[BACKEND_ENV_VAR];
    const r = await selectBackend();
    expect(r.backend).toBe('wasm');
    expect(r.tf.getBackend()).toBe('wasm');
    expect(r.reason).toMatch(/tfjs-node-gpu not loadable/);
    expect(r.reason).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    expect(r.reason).toMatch(/Conv2DBackpropFilter/);
    // the kernel is in place and the .wasm binary really runs
    expect(r.tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const s = r.tf.tensor([1, 2, 3]).square().sum();
    expect(s.dataSync()[0]).toBe(14);
  });

  it('is idempotent: same result object, no re-initialisation', async () => {
    delete process.env[BACKEND_ENV_VAR];
    const a = await selectBackend();
    const backendInstance = a.tf.backend();
    const b = await selectBackend({ prefer: 'auto' });
    expect(b).toBe(a);
    expect(a.tf.backend()).toBe(backendInstance);
    const [c, d] = await Promise.all([selectBackend({ prefer: a.backend }), selectBackend({ prefer: a.backend })]);
    expect(c).toBe(d);
    expect(c.backend).toBe(a.backend);
    expect(a.tf.backend()).toBe(backendInstance);
  });

  it('forced cpu works, and switching back reuses the initialised backend', async () => {
    delete process.env[BACKEND_ENV_VAR];
    const auto = await selectBackend();
    const autoInstance = auto.tf.backend();
    const cpu = await selectBackend({ prefer: 'cpu' });
    expect(cpu.backend).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    expect(cpu.reason).toMatch(/prefer=cpu/);
    expect(cpu.tf.tensor([1, 2]).add(1).dataSync()).toEqual(new Float32Array([2, 3]));
    const again = await selectBackend();
    expect(again).toBe(auto);
    expect(auto.tf.getBackend()).toBe(auto.backend);
    expect(auto.tf.backend()).toBe(autoInstance);
  });

  it(`${BACKEND_ENV_VAR} overrides the option`, async () => {
    process.env[BACKEND_ENV_VAR] = 'cpu';
    const r = await selectBackend({ prefer: 'wasm' });
    expect(r.backend).toBe('cpu');
    expect(r.tf.getBackend()).toBe('cpu');
    expect(r.reason).toContain(`${BACKEND_ENV_VAR}=cpu`);
    process.env[BACKEND_ENV_VAR] = 'wasm';
    const w = await selectBackend({ prefer: 'cpu' });
    expect(w.backend).toBe('wasm');
    expect(w.tf.getBackend()).toBe('wasm');
  });

  it(`rejects an unknown ${BACKEND_ENV_VAR} value`, async () => {
    process.env[BACKEND_ENV_VAR] = 'webgpu';
    await expect(selectBackend()).rejects.toThrow(/not one of/);
  });

  it.skipIf(nodeGpuInstalled())('forcing tensorflow without tfjs-node-gpu fails loudly instead of falling back', async () => {
    delete process.env[BACKEND_ENV_VAR];
    await expect(selectBackend({ prefer: 'tensorflow' })).rejects.toThrow(/tfjs-node-gpu not loadable/);
    // and the previously active backend is still usable
    const r = await selectBackend({ prefer: 'wasm' });
    expect(r.tf.getBackend()).toBe('wasm');
  });
});
