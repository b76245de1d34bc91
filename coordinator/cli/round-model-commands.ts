import { resolve } from 'node:path';
import { bearerMetadata, fromServiceError, type AdminClient, type FederationEventMsg, type FederationMsg, type TensorSpec, type ModelVersionMsg, type RoundMsg } from '../../protocols/index.ts';
import { downloadModel } from '../../protocols/client.ts';
import { CliError, EXIT, int, output, parseFlags, str, type CommandHelp, type FlagOptions, type Flags } from '../../protocols/cli.ts';
import { ADMIN_FLAGS, ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import { describeRoundLine, watchView } from './progress.ts';
import type { LoadModelTools } from './model-tools.ts';

const FEDERATION = { federation: { type: 'string', value: 'ID', description: 'the federation' } } as const satisfies FlagOptions;

const ROUND_OPTIONS = {
  ...ADMIN_OPTIONS, ...FEDERATION,
  round: { type: 'string', value: 'N', description: 'show: the round\'s number' },
  reason: { type: 'string', value: 'TEXT', description: 'abort: why, recorded with the round' },
} as const satisfies FlagOptions;

export const ROUND_HELP: CommandHelp = {
  command: 'round',
  summary: 'inspect, watch and abort rounds',
  subcommands: {
    list: { summary: 'every round of a federation', flags: [...ADMIN_FLAGS, 'federation'], examples: ['conclave round list --federation 3f2c…'] },
    show: {
      summary: 'one round: state, stage, sites, outcome', flags: [...ADMIN_FLAGS, 'federation', 'round'],
      examples: ['conclave round show --federation 3f2c… --round 2 --json'],
    },
    abort: {
      summary: 'end the round in progress; nothing is committed', flags: [...ADMIN_FLAGS, 'federation', 'reason'],
      examples: ['conclave round abort --federation 3f2c… --reason "bad data at site-3"'],
      exitCodes: { 7: 'no round in progress' },
    },
    watch: {
      summary: 'follow the federation until it finishes: a live progress bar on a terminal, one line per change when piped',
      flags: [...ADMIN_FLAGS, 'federation'],
      examples: ['conclave round watch --federation 3f2c…', 'conclave round watch --federation 3f2c… --json | jq .round.state'],
      details: 'The bar shows the round\'s stage, the sites that answered of those still live in it, the bytes received and the time to the stage\'s deadline. With --json, one event per line (JSON lines).',
    },
  },
};

const MODEL_OPTIONS = {
  ...ADMIN_OPTIONS, ...FEDERATION,
  version: { type: 'string', value: 'N', description: 'the model version (export: default the latest)' },
  out: { type: 'string', value: 'DIR', description: 'export: where model.json and weights.bin go' },
  from: { type: 'string', value: 'A', description: 'diff: the version subtracted' },
  to: { type: 'string', value: 'B', description: 'diff: the version compared' },
} as const satisfies FlagOptions;

export const MODEL_HELP: CommandHelp = {
  command: 'model',
  summary: 'the versioned model registry: list, show, diff, export, roll back',
  subcommands: {
    list: { summary: 'every version with its parent, size, digest and time', flags: [...ADMIN_FLAGS, 'federation'], examples: ['conclave model list --federation 3f2c…'] },
    show: {
      summary: 'one version: parent, digest, layout, metrics', flags: [...ADMIN_FLAGS, 'federation', 'version'],
      examples: ['conclave model show --federation 3f2c… --version 2'],
    },
    export: {
      summary: 'write a version as a tfjs LayersModel (model.json + weights.bin)', flags: [...ADMIN_FLAGS, 'federation', 'version', 'out'],
      examples: ['conclave model export --federation 3f2c… --out ./model'],
    },
    rollback: {
      summary: 'the next round starts from vN (a new version; every version and the ledger are kept)', flags: [...ADMIN_FLAGS, 'federation', 'version'],
      examples: ['conclave model rollback --federation 3f2c… --version 1'],
    },
    diff: {
      summary: 'per-tensor L2 norm of vB − vA, and of vA', flags: [...ADMIN_FLAGS, 'federation', 'from', 'to'],
      examples: ['conclave model diff --federation 3f2c… --from 1 --to 3'],
      exitCodes: { 3: 'the versions have different layouts' },
    },
  },
};

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

export const describeRound: (r: RoundMsg) => string = describeRoundLine;

export async function roundCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, ROUND_OPTIONS, ROUND_HELP, sub);
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
    const view = watchView(flags['json'] ? 'json' : process.stdout.isTTY ? 'bar' : 'lines', process.stdout);
    try {
      for await (const event of watchFederation(admin.client, admin.token, federationId)) view.event(event);
    } finally {
      view.stop();
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
  const { flags } = parseFlags(rest, MODEL_OPTIONS, MODEL_HELP, sub);
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
