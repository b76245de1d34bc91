/**
 * Time, injected: the round pipeline asks a Clock for "now" and for timers, so tests can run a
 * whole round (deadlines, dropouts, stage timeouts) on a manual clock without waiting.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Runs fn once after ms; a pending timer never keeps the process alive. */
  after(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};
