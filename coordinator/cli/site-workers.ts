/**
 * `simulate --json` says, per site, which backend each of its training workers ran, the devices it
 * saw, and its examples a second in the site's last epoch, read from the sites' event lines (the
 * participant's 'backend' and epoch 'training' events). The coordinator never trains: it only reads.
 */
interface WorkerLine {
  index: number;
  pid?: number;
  backend?: string;
  devices?: string[];
  examples?: number;
  computeS?: number;
  examplesPerS?: number;
}

export interface SiteWorkers {
  site: number;
  /** The site's examples a second in its last epoch, all workers together (wall clock). */
  examplesPerS: number | null;
  workers: WorkerLine[];
}

function workerLines(raw: unknown): WorkerLine[] | null {
  if (!Array.isArray(raw)) return null;
  return raw.filter((w): w is WorkerLine => typeof w === 'object' && w !== null && Number.isInteger((w as WorkerLine).index)).slice(0, 1024);
}

export class SiteWorkerReport {
  private readonly sites = new Map<number, SiteWorkers>();

  /** One line of a site process's stderr; anything that is not a worker report is ignored. */
  take(line: string): void {
    if (!line.includes('"workers"')) return;
    let event: { site?: unknown; type?: unknown; workers?: unknown; progress?: { kind?: unknown; workers?: unknown; examplesPerS?: unknown } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    if (typeof event.site !== 'number') return;
    const entry = this.sites.get(event.site) ?? { site: event.site, examplesPerS: null, workers: [] };
    this.sites.set(event.site, entry);
    if (event.type === 'backend') {
      const workers = workerLines(event.workers);
      if (workers) entry.workers = workers.map(({ index, pid, backend, devices }) => ({ index, pid, backend, devices }));
    } else if (event.type === 'training' && event.progress?.kind === 'epoch') {
      const speeds = workerLines(event.progress.workers) ?? [];
      for (const speed of speeds) {
        const known = entry.workers.find((w) => w.index === speed.index);
        const { examples, computeS, examplesPerS } = speed;
        if (known) Object.assign(known, { examples, computeS, examplesPerS });
        else entry.workers.push({ index: speed.index, examples, computeS, examplesPerS });
      }
      if (typeof event.progress.examplesPerS === 'number') entry.examplesPerS = event.progress.examplesPerS;
    }
  }

  summary(): SiteWorkers[] {
    return [...this.sites.values()].sort((a, b) => a.site - b.site);
  }
}
