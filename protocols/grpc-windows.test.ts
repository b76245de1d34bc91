import { afterEach, describe, expect, it } from 'vitest';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { SERVER_OPTIONS, TRANSFER_WINDOW_BYTES, widenServerWindows } from './grpc.ts';

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

describe('widenServerWindows', () => {
  // It reaches into grpc-js (no public option exists): a grpc-js upgrade that moves things must fail here, not slow uploads silently.
  it('makes every accepted connection advertise the transfer window', async () => {
    const server = new grpc.Server(SERVER_OPTIONS);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    cleanup.push(() => server.forceShutdown());
    expect(widenServerWindows(server)).toBe(1);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanup.push(() => session.destroy());
    // The session's first SETTINGS frame carries the defaults; the widened window follows at once.
    const widened = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2_000);
      session.on('remoteSettings', (settings: http2.Settings) => {
        if (settings.initialWindowSize === TRANSFER_WINDOW_BYTES) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    expect(widened).toBe(true);
    expect(TRANSFER_WINDOW_BYTES).toBeGreaterThan(65_535);
  });
});
