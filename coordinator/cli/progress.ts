/**
 * A federation's progress as the operator watches it (`round watch`, `simulate`): a live bar on a
 * terminal, plain lines when the output is a pipe or a file, JSON lines with --json. Every view
 * consumes the same WatchFederation events, so what a terminal shows is what a script reads.
 */
import cliProgress from 'cli-progress';
import type { FederationEventMsg, RoundMsg } from '../../protocols/index.ts';

export interface WatchView {
  event(event: FederationEventMsg): void;
  /** A line above the bar (or on its own when there is no bar). */
  log(line: string): void;
  stop(): void;
}

export type WatchMode = 'bar' | 'lines' | 'json';

export function describeRoundLine(r: RoundMsg): string {
  const outcome = r.state === 'committed' ? `→ v${r.resultVersion}` : r.state === 'aborted' ? `(${r.abortReason})` : '';
  const e = r.federatedEvaluation;
  const evaluated = e ? `; v${e.modelVersion} federated acc ${e.accuracy.toFixed(4)} loss ${e.loss.toFixed(4)} (${e.examples} held-out examples, ${e.sites} sites)` : '';
  return `round ${r.number} ${r.state} on v${r.baseVersion} ${outcome}: ${r.submittedSites.length}/${r.selectedSites.length} sites, ${r.totalExamples} examples${evaluated}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** "1m05s" to the stage's deadline; "-" once the round is over. */
export function timeLeft(deadlineMs: number, nowMs: number): string {
  if (deadlineMs <= 0) return '-';
  const s = Math.max(0, Math.round((deadlineMs - nowMs) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

interface BarState {
  round: RoundMsg | null;
  rounds: number;
  committed: number;
  status: string;
}

/** One bar line: stage, sites answered of those still live, bytes in, time to the stage's deadline. */
export function barLine(state: BarState, bar: string, nowMs: number): string {
  const r = state.round;
  if (!r) return `federation ${state.status}: ${state.committed}/${state.rounds} rounds, waiting for a round`;
  const live = r.state === 'open' || r.state === 'collecting';
  const answered = live ? r.stageAnswered : r.submittedSites.length;
  const expected = live ? r.stageExpected : r.selectedSites.length;
  const stage = r.stage || (live ? 'planning' : r.state);
  return `round ${r.number}/${state.rounds} ${bar} ${answered}/${expected} sites | stage ${stage} | ${formatBytes(Number(r.bytesReceived))} in`
    + ` | deadline ${live ? timeLeft(Number(r.stageDeadlineUnixMs), nowMs) : '-'} | ${state.committed} committed`;
}

/**
 * One plain line (`round watch` piped): the round's own line, then the stage (with the sites that
 * answered it while the round is live) and the bytes received, as the bar shows them. The format only
 * grows at the end, so scripts that split on " | " keep working.
 */
export function plainRoundLine(r: RoundMsg, bytesReceived: number): string {
  const live = r.state === 'open' || r.state === 'collecting';
  const stage = r.stage || (live ? 'planning' : r.state);
  return `${describeRoundLine(r)} | stage ${stage}${live ? ` ${r.stageAnswered}/${r.stageExpected} answered` : ''} | ${formatBytes(bytesReceived)} in`;
}

/** `endedRounds: false` leaves the line of each ended round to the caller (simulate prints its own, with test accuracy). */
export function watchView(mode: WatchMode, stream: NodeJS.WriteStream, options: { endedRounds?: boolean } = {}): WatchView {
  if (mode === 'json') {
    return { event: (e) => void stream.write(JSON.stringify(e) + '\n'), log: () => {}, stop: () => {} };
  }
  if (mode === 'lines') {
    // Round id → the bytes and line it last showed: an event that changes nothing prints nothing.
    const shown = new Map<string, { bytes: number; line: string }>();
    return {
      event(e) {
        if (e.round) {
          const before = shown.get(e.round.id);
          // Progress fields are only sent while a round is in progress: an ended round keeps the bytes it last showed.
          const bytes = Number(e.round.bytesReceived) === 0 && before ? before.bytes : Number(e.round.bytesReceived);
          const line = plainRoundLine(e.round, bytes);
          if (line === before?.line) return;
          shown.set(e.round.id, { bytes, line });
          stream.write(line + '\n');
        } else if (e.federation) stream.write(`federation ${e.federation.status}: ${e.federation.committedRounds}/${e.federation.config.rounds} rounds\n`);
      },
      log: (line) => void stream.write(line + '\n'),
      stop: () => {},
    };
  }
  const state: BarState = { round: null, rounds: 0, committed: 0, status: 'created' };
  const ended = new Set<string>();
  let committedBefore = 0;
  let committedSeen = 0;
  const bars = new cliProgress.MultiBar({
    stream, hideCursor: true, clearOnComplete: false, stopOnComplete: false, fps: 4, barsize: 24, forceRedraw: true,
    format: (options, params) => {
      const size = options.barsize ?? 24;
      const filled = Math.round(params.progress * size);
      return barLine(state, `[${'█'.repeat(filled)}${'░'.repeat(size - filled)}]`, Date.now());
    },
  });
  const bar = bars.create(1, 0);
  const update = () => {
    const r = state.round;
    const live = r && (r.state === 'open' || r.state === 'collecting');
    const total = r ? Math.max(1, live ? r.stageExpected : r.selectedSites.length) : 1;
    bar.setTotal(total);
    bar.update(r ? (live ? r.stageAnswered : r.submittedSites.length) : 0);
  };
  return {
    event(e) {
      if (e.federation) {
        state.rounds = e.federation.config.rounds;
        committedBefore = Math.max(committedBefore, e.federation.committedRounds);
        state.status = e.federation.status;
      }
      if (e.round) {
        // A round that ended leaves its line in the scrollback; the bar moves on to the next one.
        if ((e.round.state === 'committed' || e.round.state === 'aborted') && !ended.has(e.round.id)) {
          ended.add(e.round.id);
          if (options.endedRounds !== false) bars.log(describeRoundLine(e.round) + '\n');
          if (e.round.state === 'committed') committedSeen++;
        }
        // Progress fields are only sent while a round is in progress: an ended round keeps the bytes it last showed.
        const bytes = state.round?.id === e.round.id && Number(e.round.bytesReceived) === 0 ? state.round.bytesReceived : e.round.bytesReceived;
        if (!state.round || e.round.number >= state.round.number) state.round = { ...e.round, bytesReceived: bytes };
      }
      state.committed = Math.max(committedBefore, committedSeen);
      update();
    },
    log: (line) => bars.log(line + '\n'),
    stop: () => bars.stop(),
  };
}
