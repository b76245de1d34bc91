import { resolve } from 'node:path';
import { bearerMetadata, fromServiceError, type AdminClient, type FederationEventMsg, type ModelVersionMsg, type RoundMsg } from '../../protocols/index.ts';
import { downloadModel } from '../../protocols/client.ts';
import { CliError, int, output, parseFlags, str } from '../../protocols/cli.ts';
import { ADMIN_OPTIONS, adminContext } from './admin-context.ts';
import type { LoadModelTools } from './model-tools.ts';

const ROUND_USAGE = `usage:
  conclave round list --federation ID
  conclave round watch --federation ID      (streams round transitions until the federation finishes)
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]`;

const MODEL_USAGE = `usage:
  conclave model list --federation ID
  conclave model export --federation ID [--version N] --out DIR   (tfjs LayersModel: model.json + weights.bin)
common: [--coordinator HOST:PORT] [--token TOKEN] [--data-dir DIR] [--json]`;

export function describeRound(r: RoundMsg): string {
  const outcome = r.state === 'committed' ? `→ v${r.resultVersion}` : r.state === 'aborted' ? `(${r.abortReason})` : '';
  return `round ${r.number} ${r.state} on v${r.baseVersion} ${outcome}: ${r.submittedSites.length}/${r.selectedSites.length} sites, ${r.totalExamples} examples`;
}

export async function roundCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { flags } = parseFlags(rest, { ...ADMIN_OPTIONS, federation: { type: 'string' } }, ROUND_USAGE);
  if (flags['help']) return void process.stdout.write(ROUND_USAGE + '\n');
  if (sub !== 'list' && sub !== 'watch') throw new CliError(ROUND_USAGE);
  const federationId = str(flags, 'federation');
  const admin = adminContext(flags);
  try {
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
  const { flags } = parseFlags(rest, { ...ADMIN_OPTIONS, federation: { type: 'string' }, version: { type: 'string' }, out: { type: 'string' } }, MODEL_USAGE);
  if (flags['help']) return void process.stdout.write(MODEL_USAGE + '\n');
  if (sub !== 'list' && sub !== 'export') throw new CliError(MODEL_USAGE);
  const federationId = str(flags, 'federation');
  const version = flags['version'] === undefined ? null : int(flags, 'version', { min: 0 });
  const outDir = sub === 'export' ? resolve(str(flags, 'out')) : '';
  const admin = adminContext(flags);
  try {
    if (sub === 'list') {
      const { models } = await admin.call<{ models: ModelVersionMsg[] }>('ListModels', { federationId });
      const json = models.map((m) => ({ ...m, sha256: m.sha256.toString('hex'), metrics: JSON.parse(m.metricsJson) as unknown, metricsJson: undefined }));
      output(flags, {
        json,
        text: models.map((m) => `v${m.version}  parent ${m.version === 0 ? '-' : `v${m.parentVersion}`}  ${m.numParameters} params  sha256 ${m.sha256.toString('hex').slice(0, 16)}…  ${new Date(m.createdUnixMs).toISOString()}`).join('\n'),
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
