import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { createRng } from '../../client-sdk/data/dataset.ts';

/** The CLI entry point, run as a real OS process. */
export const CONCLAVE_BIN = fileURLToPath(new URL('../../coordinator/cli/conclave.js', import.meta.url));

/** The project's own Node 24 when installed, else whatever runs the tests (coordinator/cli/conclave.js re-execs an old one anyway). */
export const NODE_BIN = (() => {
  const local = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
  return existsSync(local) ? local : process.execPath;
})();

/** Asks the kernel for a port that is free right now (a small race remains until someone binds it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** Deterministic PRNG so a failing schedule of kills can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.next();
}

export interface CliProcess {
  child: ChildProcess;
  name: string;
  /** stdout and stderr lines, in arrival order per stream, kept for assertions and failure reports. */
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Called for every stderr line as it arrives. */
  onStderrLine(fn: (line: string) => void): () => void;
  tail(lines?: number): string;
}

/** Spawns `node coordinator/cli/conclave.js ...args` with both output streams captured line by line. */
export function spawnCli(name: string, args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(NODE_BIN, [CONCLAVE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    for (const fn of listeners) fn(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child, name, stdout, stderr, exited,
    onStderrLine(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    tail(lines = 20) {
      return `--- ${name} (pid ${child.pid}) stdout ---\n${stdout.slice(-lines).join('\n')}\n--- ${name} stderr ---\n${stderr.slice(-lines).join('\n')}`;
    },
  };
}

export interface CliRun {
  /** The exit code; -1 when the process was killed (past its time, or by a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node coordinator/cli/conclave.js ...args` to its end, asynchronously (a coordinator in the
 * test's own process must keep serving), with `stdin` as its whole input, and never rejects: tests
 * assert on the exit code and both outputs.
 */
export function runCli(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(NODE_BIN, [CONCLAVE_BIN, ...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

/**
 * The `conclave` dispatcher run in this process (no spawn: fast, and a coordinator of the test's
 * own stays reachable), its output captured; one call at a time, as it takes over stdout/stderr.
 */
export async function runCliInProcess(args: string[]): Promise<CliRun> {
  const { main } = await import('../../coordinator/cli/main.ts');
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

/** runCli, with its stdout parsed as one JSON document where it is one (null where it is text). */
export async function runCliJson(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CliRun & { json: Record<string, unknown> | null }> {
  const run = await runCli(args, options);
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(run.stdout) as Record<string, unknown>;
  } catch { /* text output */ }
  return { ...run, json };
}

/** Resolves with the first stdout line that looks like a JSON object, parsed; rejects if the process exits first or the time runs out. */
export function firstJsonLine<T>(proc: CliProcess, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const line = proc.stdout.find((l) => l.trimStart().startsWith('{'));
      if (line !== undefined) {
        clearInterval(poll);
        try {
          resolve(JSON.parse(line) as T);
        } catch {
          reject(new Error(`${proc.name} printed a non-JSON first line: ${line}`));
        }
      } else if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        clearInterval(poll);
        reject(new Error(`${proc.name} exited (${proc.child.signalCode ?? proc.child.exitCode}) before it printed its address\n${proc.tail()}`));
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`${proc.name} printed nothing within ${timeoutMs} ms\n${proc.tail()}`));
      }
    }, 20);
  });
}

/** Waits for the process to exit; past the timeout it is SIGKILLed and the promise rejects. */
export async function waitExit(proc: CliProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(new Error(`${proc.name} did not exit within ${timeoutMs} ms\n${proc.tail()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs the process if it is still running and waits until the kernel has reaped it. */
export async function killHard(proc: CliProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}
