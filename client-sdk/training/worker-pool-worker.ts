/**
 * One worker process of a site's worker pool (worker-pool.ts). It holds a replica of the model and
 * its own optimizer, computes the gradient of the summed loss over the examples the pool names for
 * each step, and applies the pool's averaged gradient, so every replica takes the same steps.
 * Talks to the pool over the fork IPC channel (advanced serialization: typed arrays cross as such).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import { selectBackend, type TfBackendPreference } from '../tfjs/backend.ts';
import { modelFromTopology } from '../models/export.ts';
import { getFlatWeights, setFlatWeights, type TensorSpec } from '../models/weights.ts';
import { disposeProx, proxAround, withProxGradient, type Prox } from './fedprox.ts';
import { devicesSeen } from './worker-report.ts';
import { checkDataMatchesModel, countCorrect, evaluate, makeBatch, makeOptimizer, sumCrossEntropy, type OptimizerName } from './trainer.ts';

export type PoolRequest =
  | { t: 'init'; prefer: TfBackendPreference; data: Dataset }
  | { t: 'round'; topologyJson: string; layout: TensorSpec[]; values: Float32Array; optimizer: OptimizerName; learningRate: number; proxMu: number }
  | { t: 'grad'; indices: Int32Array }
  | { t: 'apply'; grad: Float32Array }
  | { t: 'weights' }
  | { t: 'evaluate'; topologyJson: string; layout: TensorSpec[]; values: Float32Array; data: Dataset };

export type PoolReply =
  | { t: 'ready'; backend: string; reason: string; pid: number; devices: string[] }
  | { t: 'grad'; grad: Float32Array; lossSum: number; correct: number; computeMs: number }
  | { t: 'weights'; values: Float32Array; numTensors: number }
  | { t: 'evaluated'; loss: number; accuracy: number }
  | { t: 'error'; message: string };

let tf: typeof tfTypes;
let data: Dataset;
let model: tfTypes.LayersModel | null = null;
let topology = '';
let optimizer: tfTypes.Optimizer | null = null;
let vars: tfTypes.Variable[] = [];
let exampleShape: number[] = [];
let gradSize = 0;
/** FedProx's centre (this round's global model) and μ; null without a proximal term. */
let prox: Prox | null = null;

/** The replica for this architecture, rebuilt only when it changes. */
async function load(topologyJson: string): Promise<void> {
  if (model && topology === topologyJson) return;
  model?.dispose();
  model = await modelFromTopology(tf, topologyJson);
  topology = topologyJson;
  exampleShape = checkDataMatchesModel(model, data, 'worker pool');
  vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  gradSize = vars.reduce((a, v) => a + v.size, 0);
}

function send(m: PoolReply): void {
  process.send!(m);
}

async function handle(m: PoolRequest): Promise<void> {
  switch (m.t) {
    case 'init': {
      data = m.data;
      const sel = await selectBackend({ prefer: m.prefer });
      tf = sel.tf;
      const devices = process.env['CUDA_VISIBLE_DEVICES'];
      send({
        t: 'ready', backend: sel.backend, reason: devices === undefined ? sel.reason : `${sel.reason}; CUDA_VISIBLE_DEVICES=${devices}`,
        pid: process.pid, devices: devicesSeen(sel.backend),
      });
      return;
    }
    case 'evaluate': {
      // The next 'round' sets its own weights, so scoring the global model here disturbs nothing.
      await load(m.topologyJson);
      setFlatWeights(model!, m.layout, m.values);
      const { loss, accuracy } = await evaluate(model!, m.data);
      return send({ t: 'evaluated', loss, accuracy });
    }
    case 'round': {
      await load(m.topologyJson);
      setFlatWeights(model!, m.layout, m.values);
      // FedAvg client semantics, as trainLocal: a fresh optimizer every round.
      optimizer?.dispose();
      optimizer = makeOptimizer(m.optimizer, m.learningRate);
      disposeProx(prox);
      prox = proxAround(vars, m.proxMu);
      return;
    }
    case 'grad': {
      const started = performance.now();
      const grad = new Float32Array(gradSize);
      const n = m.indices.length;
      if (n === 0) return send({ t: 'grad', grad, lossSum: 0, correct: 0, computeMs: 0 });
      const { loss, correct, grads } = tf.tidy(() => {
        const { x, y } = makeBatch(data, m.indices, 0, n, exampleShape);
        let kept: tfTypes.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const probs = model!.apply(x, { training: true }) as tfTypes.Tensor;
          kept = tf.keep(countCorrect(probs, y));
          return sumCrossEntropy(probs, y, data.numClasses);
        }, vars);
        return { loss: value, correct: kept!, grads: vars.map((v) => grads[v.name]!) };
      });
      let off = 0;
      for (const g of grads) {
        grad.set(g.dataSync() as Float32Array, off);
        off += g.size;
      }
      const lossSum = loss.dataSync()[0]!;
      const c = correct.dataSync()[0]!;
      tf.dispose([loss, correct, ...grads]);
      return send({ t: 'grad', grad, lossSum, correct: c, computeMs: performance.now() - started });
    }
    case 'apply': {
      const named: tfTypes.NamedTensorMap = {};
      let off = 0;
      vars.forEach((v, i) => {
        const grad = tf.tensor(m.grad.subarray(off, off + v.size), v.shape, 'float32');
        // The pool averages the data loss's gradient; every replica adds the same proximal gradient μ(w − w₀) itself.
        named[v.name] = prox ? withProxGradient(grad, v, prox.center[i]!, prox.mu) : grad;
        if (prox) grad.dispose();
        off += v.size;
      });
      optimizer!.applyGradients(named);
      tf.dispose(Object.values(named));
      return;
    }
    case 'weights':
      return send({ t: 'weights', values: getFlatWeights(model!).values, numTensors: tf.memory().numTensors });
  }
}

// Requests are handled one at a time, in order: 'apply' must land before the next 'grad'.
let queue: Promise<void> = Promise.resolve();
process.on('message', (m: PoolRequest) => {
  queue = queue.then(() => handle(m)).catch((e: unknown) => {
    send({ t: 'error', message: e instanceof Error ? e.message : String(e) });
  });
});
process.on('disconnect', () => process.exit(0));
