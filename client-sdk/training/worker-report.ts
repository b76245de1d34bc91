/**
 * What a site's training reports about its workers: which backend each runs, the devices it sees,
 * and how many examples a second it trains. The in-process trainer reports itself as worker 0.
 */
import { cpus } from 'node:os';

export interface WorkerInfo {
  index: number;
  pid: number;
  /** The tfjs backend the worker selected ('wasm', 'tensorflow', 'cpu'). */
  backend: string;
  /** GPUs (CUDA_VISIBLE_DEVICES ids) for 'tensorflow', else the CPU it computes on. */
  devices: string[];
}

export interface WorkerThroughput {
  index: number;
  /** Examples whose gradient this worker computed in the epoch. */
  examples: number;
  /** Seconds it spent computing them (not waiting for the pool). */
  computeS: number;
  examplesPerS: number;
}

/** The devices a process with this backend computes on, as it sees them. */
export function devicesSeen(backend: string): string[] {
  if (backend === 'tensorflow') {
    const visible = process.env['CUDA_VISIBLE_DEVICES'];
    if (visible === undefined) return ['gpu:every visible GPU (CUDA_VISIBLE_DEVICES unset)'];
    const ids = visible.split(',').map((d) => d.trim()).filter((d) => d !== '');
    return ids.length > 0 ? ids.map((id) => `gpu:${id}`) : ['cpu (CUDA_VISIBLE_DEVICES is empty: no GPU)'];
  }
  const model = cpus()[0]?.model.trim() || 'unknown CPU';
  // The wasm backend runs without threads here: one core a process.
  return [backend === 'wasm' ? `cpu:${model} (wasm, 1 thread)` : `cpu:${model} (${backend})`];
}

export function throughput(index: number, examples: number, computeMs: number): WorkerThroughput {
  const computeS = computeMs / 1000;
  return { index, examples, computeS: Math.round(computeS * 1000) / 1000, examplesPerS: computeS > 0 ? Math.round(examples / computeS) : 0 };
}
