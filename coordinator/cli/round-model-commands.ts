import { resolve } from 'node:path';
import { bearerMetadata, fromServiceError, type AdminClient, type FederationEventMsg, type FederationMsg, type TensorSpec, type ModelVersionMsg, type RoundMsg } from '../../protocols/index.ts';
import { downloadModel } from '../../protocols/client.ts';
import { CliError, EXIT, int, output, parseFlags, str, type Flags } from '../../protocols/cli.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import type { LoadModelTools } from './model-tools.ts';

const ROUND_USAGE = `usage:
  conclave round list --federation ID
  conclave round show --federation ID --round N     one round: state, stage, sites, outcome
  conclave round abort --federation ID [--reason TEXT]   end the round in progress; nothing is committed
  conclave round watch --federation ID      (streams round transitions until the federation finishes)
example: conclave round abort --federation 3f2… --reason "bad data at site-3"
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]`;

const MODEL_USAGE = `usage:
  conclave model list --federation ID
  conclave model show --federation ID --version N                 one version: parent, digest, layout, metrics
  conclave model export --federation ID [--version N] --out DIR   (tfjs LayersModel: model.json + weights.bin)
  conclave model rollback --federation ID --version N             the next round starts from vN (a new version; history and ledger kept)
  conclave model diff --federation ID --from A --to B             per-tensor L2 norm of vB − vA, and of vA
example: conclave model rollback --federation 3f2… --version 1
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]`;

/** show, rollback and diff: nothing here needs tfjs, only the registry's flat weights and layouts. */
async function modelTools(sub: 'show' | 'rollback' | 'diff', flags: Flags, federationId: string): Promise<void> {
  const admin = adminContext(flags);
  try {
    if (sub === 'rollback') {
      const version = int(flags, 'version', { min: 0 });
      await admin.call<FederationMsg>('RollbackModel', { federationId, version });
      output(flags, { json: { federationId, nextBaseVersion: version }, text: `the next round of ${federationId} starts from v${version}; every version and the ledger are kept` });
      return;
    }
    if (sub === 'show') {
      const version = int(flags, 'version', { min: 0 });
      const { models } = await admin.call<{ models: ModelVersionMsg[] }>('ListModels', { federationId });
      const m = models.find((x) => x.version === version);
      if (!m) throw new CliError(`federation ${federationId} has no model version ${version}`, EXIT.NOT_FOUND);
      const model = await downloadModel(admin.client, admin.token, { federationId, version });
      const json = {
        federationId, version, parentVersion: m.version === 0 ? null : m.parentVersion, roundId: m.roundId || null, sha256: m.sha256.toString('hex'),
        numParameters: m.numParameters, createdAt: new Date(m.createdUnixMs).toISOString(), metrics: JSON.parse(m.metricsJson) as unknown, layout: model.layout,
      };
      output(flags, {
        json,
        text: [`v${version}  parent ${json.parentVersion === null ? '-' : `v${json.parentVersion}`}  ${json.numParameters} params  sha256 ${json.sha256}`,
          `  committed ${json.createdAt}${json.roundId ? ` by round ${json.roundId}` : ''}`, ...model.layout.map((t) => `  ${t.name} [${t.shape.join('×')}]`)].join('\n'),
      });
      return;
    }
    const from = int(flags, 'from', { min: 0 });
    const to = int(flags, 'to', { min: 0 });
    const [a, b] = await Promise.all([from, to].map((version) => downloadModel(admin.client, admin.token, { federationId, version })));
    const rows = diffByTensor(a!.layout, a!.values, b!.layout, b!.values);
    output(flags, {
      json: { federationId, from, to, tensors: rows },
      text: [`v${to} − v${from}:`, ...rows.map((r) => `  ${r.name.padEnd(28)} ‖Δ‖ ${r.diffNorm.toExponential(3)}  ‖v${from}‖ ${r.baseNorm.toExponential(3)}  relative ${r.relative.toExponential(3)}`)].join('\n'),
    });
  } finally {
    admin.close();
  }
}

/** Per-tensor L2 norm of b − a (and of a, for scale); the layouts must be the same model's. */
export function diffByTensor(layoutA: TensorSpec[], a: Float32Array, layoutB: TensorSpec[], b: Float32Array): Array<{ name: string; diffNorm: number; baseNorm: number; relative: number }> {
  if (layoutA.length !== layoutB.length || layoutA.some((t, i) => t.name !== layoutB[i]!.name || t.shape.join() !== layoutB[i]!.shape.join())) {
    throw new CliError('the two versions have different layouts (different architectures); there is no per-tensor difference', EXIT.INVALID_INPUT);
  }
  const rows = [];
  let offset = 0;
  for (const t of layoutA) {
    const n = t.shape.reduce((x: number, y: number) => x * y, 1);
    let d = 0;
    let s = 0;
    for (let i = offset; i < offset + n; i++) {
      d += (b[i]! - a[i]!) ** 2;
      s += a[i]! ** 2;
    }
    offset += n;
    rows.push({ name: t.name, diffNorm: Math.sqrt(d), baseNorm: Math.sqrt(s), relative: s > 0 ? Math.sqrt(d / s) : Math.sqrt(d) });
  }
  return rows;
}

/** A version's federated evaluation (its sites' held-out accuracy), when it has one. */
function federatedAccuracyText(m: ModelVersionMsg): string {
  const metrics = JSON.parse(m.metricsJson) as Record<string, number>;
  return metrics['federatedAccuracy'] === undefined ? '' : `  federated acc ${metrics['federatedAccuracy'].toFixed(4)} (${metrics['federatedExamples'] ?? 0} examples)`;
}

export function describeRound(r: RoundMsg): string {
  const outcome = r.state === 'committed' ? `→ v${r.resultVersion}` : r.state === 'aborted' ? `(${r.abortReason})` : '';
  const e = r.federatedEvaluation;
  const evaluated = e ? `; v${e.modelVersion} federated acc ${e.accuracy.toFixed(4)} loss ${e.loss.toFixed(4)} (${e.examples} held-out examples, ${e.sites} sites)` : '';
  return `round ${r.number} ${r.state} on v${r.baseVersion} ${outcome}: ${r.submittedSites.length}/${r.selectedSites.length} sites, ${r.totalExamples} examples${evaluated}`;
}

export async function roundCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, { ...ADMIN_OPTIONS, federation: { type: 'string' }, round: { type: 'string' }, reason: { type: 'string' } }, ROUND_USAGE);
  if (flags['help']) return void process.stdout.write(ROUND_USAGE + '\n');
  if (!['list', 'show', 'abort', 'watch'].includes(sub ?? '')) throw new CliError(ROUND_USAGE);
  const federationId = str(flags, 'federation');
  const admin = adminContext(flags);
  try {
    if (sub === 'show') {
      const number = int(flags, 'round', { min: 1 });
      const { rounds } = await admin.call<{ rounds: RoundMsg[] }>('ListRounds', { federationId });
      const round = rounds.find((r) => r.number === number);
      if (!round) throw new CliError(`federation ${federationId} has no round ${number}`, EXIT.NOT_FOUND);
      output(flags, { json: round, text: `${describeRound(round)}${round.stage ? ` (stage ${round.stage})` : ''}\n  selected: ${round.selectedSites.join(', ') || '-'}\n  submitted: ${round.submittedSites.join(', ') || '-'}` });
      return;
    }
    if (sub === 'abort') {
      const { rounds } = await admin.call<{ rounds: RoundMsg[] }>('ListRounds', { federationId });
      const active = rounds.find((r) => r.state === 'open' || r.state === 'collecting');
      if (!active) throw new CliError(`federation ${federationId} has no round in progress`, EXIT.CONFLICT);
      const aborted = await admin.call<RoundMsg>('AbortRound', { federationId, roundId: active.id, reason: typeof flags['reason'] === 'string' ? flags['reason'] : '' });
      output(flags, { json: aborted, text: describeRound(aborted) });
      return;
    }
    if (sub === 'list') {
      const { rounds } = await admin.call<{ rounds: RoundMsg[] }>('ListRounds', { federationId });
      output(flags, { json: rounds, text: rounds.map(describeRound).join('\n') || 'no rounds yet' });
      return;
    }
    for await (const event of watchFederation(admin.client, admin.token, federationId)) {
      if (flags['json']) process.stdout.write(JSON.stringify(event) + '\n');
      else if (event.round) process.stdout.write(describeRound(event.round) + '\n');
      else if (event.federation) process.stdout.write(`federation ${event.federation.status}: ${event.federation.committedRounds}/${event.federation.config.rounds} rounds\n`);
    }
  } finally {
    admin.close();
  }
}

export async function* watchFederation(client: AdminClient, token: string, federationId: string): AsyncGenerator<FederationEventMsg> {
  const stream = client.WatchFederation({ federationId }, bearerMetadata(token));
  try {
    for await (const event of stream as AsyncIterable<FederationEventMsg>) yield event;
  } catch (err) {
    throw fromServiceError(err);
  } finally {
    stream.cancel();
  }
}

/** `loadModelTools` is injected by the dispatcher: writing a LayersModel needs tfjs, which this room never imports. */
export async function modelCommand(argv: string[], deps: { loadModelTools: LoadModelTools }): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, {
    ...ADMIN_OPTIONS, federation: { type: 'string' }, version: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
  }, MODEL_USAGE);
  if (flags['help']) return void process.stdout.write(MODEL_USAGE + '\n');
  if (!['list', 'show', 'export', 'rollback', 'diff'].includes(sub ?? '')) throw new CliError(MODEL_USAGE);
  const federationId = str(flags, 'federation');
  if (sub === 'show' || sub === 'rollback' || sub === 'diff') return modelTools(sub, flags, federationId);
  const version = flags['version'] === undefined ? null : int(flags, 'version', { min: 0 });
  const outDir = sub === 'export' ? resolve(str(flags, 'out')) : '';
  const admin = adminContext(flags);
  try {
    if (sub === 'list') {
      const { models } = await admin.call<{ models: ModelVersionMsg[] }>('ListModels', { federationId });
      const json = models.map((m) => ({ ...m, sha256: m.sha256.toString('hex'), metrics: JSON.parse(m.metricsJson) as unknown, metricsJson: undefined }));
      output(flags, {
        json,
        text: models.map((m) => `v${m.version}  parent ${m.version === 0 ? '-' : `v${m.parentVersion}`}  ${m.numParameters} params  sha256 ${m.sha256.toString('hex').slice(0, 16)}…  ${new Date(m.createdUnixMs).toISOString()}${federatedAccuracyText(m)}`).join('\n'),
      });
      return;
    }
    const model = await downloadModel(admin.client, admin.token, version === null ? { federationId, latest: true } : { federationId, version });
    const files = await (await deps.loadModelTools()).exportLayersModel(model, outDir);
    output(flags, {
      json: { federationId, version: model.version, sha256: model.sha256.toString('hex'), ...files },
      text: `exported v${model.version} to ${files.modelJson} (load with tf.loadLayersModel)`,
    });
  } finally {
    admin.close();
  }
}
