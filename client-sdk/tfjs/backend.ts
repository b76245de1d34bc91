/**
 * Picks and initialises the TensorFlow.js backend for a Conclave client.
 *
 *   const { tf, backend, reason } = await selectBackend();
 *   log.info(`tfjs backend ${backend}: ${reason}`);
 *
 * Order for `prefer: 'auto'` (the default):
 *   1. 'tensorflow' — the native binding from the optional dependency
 *      @tensorflow/tfjs-node-gpu (usually not installed; its import error is
 *      reported in `reason`);
 *   2. 'wasm' — @tensorflow/tfjs-backend-wasm, with the .wasm binaries loaded
 *      from the package's dist directory on disk, plus the JS-side training
 *      kernels the backend lacks (see wasm-conv2d-backprop-filter.ts);
 *   3. 'cpu' — the pure-JS backend bundled with @tensorflow/tfjs.
 *
 * `prefer` (or env CONCLAVE_TF_BACKEND, which overrides it) forces one backend;
 * a forced backend that cannot be initialised throws instead of falling back.
 *
 * Calls are idempotent: each backend is initialised at most once per process
 * and the same result object is returned for the same preference. A call with
 * a different preference switches tfjs' active backend (cheap, no re-init).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tfNs from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './wasm-conv2d-backprop-filter.ts';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';
export type TfBackendPreference = 'auto' | TfBackendName;

export interface SelectedBackend {
  /**
   * The @tensorflow/tfjs module namespace (the same instance the backend was
   * registered with). Typed as the namespace (which, for this CommonJS package,
   * includes the synthesized `default`), so it is assignable both to
   * `typeof import('@tensorflow/tfjs')` and to `typeof tfTypes` parameters.
   */
  tf: typeof tfTypes;
  backend: TfBackendName;
  /** Human-readable explanation of the choice, for logging. */
  reason: string;
}

export interface SelectBackendOptions {
  prefer?: TfBackendPreference;
}

export const BACKEND_ENV_VAR = 'CONCLAVE_TF_BACKEND';

const tf: typeof tfTypes = tfNs;
const PREFERENCES: readonly TfBackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

type Attempt = { ok: true; note: string } | { ok: false; error: string };

/** One init attempt per backend per process (successful or not). */
const attempts = new Map<TfBackendName, Promise<Attempt>>();
/** One result per effective preference and its source (option or env). */
const results = new Map<string, Promise<SelectedBackend>>();

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const first = e.message.split('\n')[0] ?? e.message;
    return typeof code === 'string' ? `${code}: ${first}` : first;
  }
  if (typeof e === 'object' && e !== null && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

function resolvePreference(opts?: SelectBackendOptions): { pref: TfBackendPreference; source: string } {
  const fromEnv = process.env[BACKEND_ENV_VAR]?.trim().toLowerCase();
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(PREFERENCES as readonly string[]).includes(fromEnv)) {
      throw new Error(`${BACKEND_ENV_VAR}=${fromEnv} is not one of ${PREFERENCES.join(', ')}`);
    }
    return { pref: fromEnv as TfBackendPreference, source: `${BACKEND_ENV_VAR}=${fromEnv}` };
  }
  const pref = opts?.prefer ?? 'auto';
  if (!PREFERENCES.includes(pref)) throw new Error(`prefer=${String(pref)} is not one of ${PREFERENCES.join(', ')}`);
  return { pref, source: `prefer=${pref}` };
}

async function activate(name: TfBackendName): Promise<boolean> {
  if (tf.getBackend() === name) return true;
  return tf.setBackend(name);
}

async function initTensorflow(): Promise<Attempt> {
  const spec = '@tensorflow/tfjs-node-gpu';
  try {
    // Variable specifier: the package is optional and has no types here.
    await import(spec);
  } catch (e) {
    return { ok: false, error: `${spec} not loadable (${errorText(e)})` };
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    return {
      ok: false,
      error: `${spec} loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs instance (duplicate tfjs-core install?)`,
    };
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, error: `tf.setBackend('tensorflow') failed` };
  } catch (e) {
    return { ok: false, error: `tf.setBackend('tensorflow') threw (${errorText(e)})` };
  }
  return { ok: true, note: `native TensorFlow via ${spec}` };
}

async function initWasm(): Promise<Attempt> {
  const spec = '@tensorflow/tfjs-backend-wasm';
  let wasmMod: typeof import('@tensorflow/tfjs-backend-wasm');
  let distDir: string;
  try {
    distDir = path.dirname(createRequire(import.meta.url).resolve(spec));
    wasmMod = await import(spec);
  } catch (e) {
    return { ok: false, error: `${spec} not loadable (${errorText(e)})` };
  }
  // tfjs-backend-wasm hard-codes WASM_HAS_MULTITHREAD_SUPPORT=false under Node
  // (tfjs#3830): its pthread build spawns workers from blob: URLs, which
  // worker_threads rejects (ERR_WORKER_PATH) — forcing the flag makes init
  // fail. So: single-threaded, SIMD build when the runtime validates SIMD.
  let simd = false;
  try {
    simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  } catch {
    simd = false;
  }
  const binary = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  if (!existsSync(path.join(distDir, binary))) {
    return { ok: false, error: `${binary} not found in ${distDir}` };
  }
  try {
    wasmMod.setWasmPaths(distDir + path.sep);
  } catch (e) {
    // Only throws when a previous init already aborted.
    return { ok: false, error: `setWasmPaths failed (${errorText(e)})` };
  }
  const added = registerWasmTrainingKernels(tf);
  try {
    if (!(await tf.setBackend('wasm'))) return { ok: false, error: `tf.setBackend('wasm') failed (see the tfjs warning above)` };
  } catch (e) {
    return { ok: false, error: `tf.setBackend('wasm') threw (${errorText(e)})` };
  }
  const kernels = added.length > 0 ? `; training kernels: ${added.join(', ')}` : '';
  return { ok: true, note: `${binary}, ${simd ? 'SIMD' : 'no SIMD'}, 1 thread (tfjs-backend-wasm has no multithreading under Node)${kernels}` };
}

async function initCpu(): Promise<Attempt> {
  try {
    if (!(await tf.setBackend('cpu'))) return { ok: false, error: `tf.setBackend('cpu') failed` };
  } catch (e) {
    return { ok: false, error: `tf.setBackend('cpu') threw (${errorText(e)})` };
  }
  return { ok: true, note: 'pure-JS cpu backend' };
}

function attempt(name: TfBackendName): Promise<Attempt> {
  let p = attempts.get(name);
  if (p === undefined) {
    const init = name === 'tensorflow' ? initTensorflow : name === 'wasm' ? initWasm : initCpu;
    p = init();
    attempts.set(name, p);
  }
  return p;
}

async function select(pref: TfBackendPreference, source: string): Promise<SelectedBackend> {
  const order: TfBackendName[] = pref === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [pref];
  const failures: string[] = [];
  for (const name of order) {
    const r = await attempt(name);
    if (r.ok) {
      const why = failures.length > 0 ? `${failures.join('; ')}; ` : '';
      return { tf, backend: name, reason: `${source}: ${why}using '${name}': ${r.note}` };
    }
    failures.push(r.error);
  }
  throw new Error(`${source}: no usable tfjs backend: ${failures.join('; ')}`);
}

/**
 * Selects, initialises and activates a tfjs backend. See the module comment.
 */
export async function selectBackend(opts?: SelectBackendOptions): Promise<SelectedBackend> {
  // Production mode: no debug checks, and no banner urging tfjs-node on stderr of every site
  // process (the choice is made and reported here, in `reason`).
  tfNs.env().set('PROD', true);
  const { pref, source } = resolvePreference(opts);
  let p = results.get(source);
  if (p === undefined) {
    p = select(pref, source);
    results.set(source, p);
    // A failed selection is not cached (a later call re-reports it), but the
    // per-backend init attempts are: nothing is re-initialised.
    p.catch(() => results.delete(source));
  }
  const result = await p;
  // Another preference may have switched the active backend since.
  if (!(await activate(result.backend))) {
    throw new Error(`could not re-activate tfjs backend '${result.backend}'`);
  }
  return result;
}
