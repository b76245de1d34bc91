/**
 * The rooms of ARCHITECTURE.md and who may import whom, checked on every import (type-only and
 * dynamic ones included): `npm run lint:layers`, run by .ci/run. A room's own *.test.ts files are
 * part of the room; test/, bench/ and examples/ may import anything.
 *
 *   protocols/   imports no other project folder
 *   crypto/      imports no other project folder; crypto/parallel/ (worker threads running crypto's
 *                kernels) imports the rest of crypto/, which never imports it, so the kernels stay thread-free
 *   client-sdk/  imports protocols/ and crypto/ only
 *   coordinator/ imports protocols/ and crypto/ only, and never tfjs
 *   the `conclave` dispatcher (coordinator/cli/main.ts, conclave.js) may import every room
 */
const DISPATCHER = '^coordinator/cli/(main\\.ts|conclave\\.js)$';
const ROOMS = ['coordinator', 'client-sdk', 'crypto', 'protocols'];
const HARNESS = ['test', 'bench', 'examples'];
const folders = (names) => `^(${names.join('|')})/`;
const except = (...keep) => [...ROOMS, ...HARNESS].filter((room) => !keep.includes(room));

module.exports = {
  forbidden: [
    {
      name: 'protocols-imports-no-room',
      comment: 'protocols/ is the wire contract every room shares: it imports none of them.',
      severity: 'error',
      from: { path: '^protocols/' },
      to: { path: folders(except('protocols')) },
    },
    {
      name: 'crypto-imports-no-room',
      comment: 'crypto/ is pure functions on arrays: it imports no other project folder.',
      severity: 'error',
      from: { path: '^crypto/' },
      to: { path: folders(except('crypto')) },
    },
    {
      name: 'crypto-kernels-stay-thread-free',
      comment: 'crypto/parallel/ runs crypto/\'s pure kernels on worker threads for the coordinator and the site SDK alike; the kernels never import it.',
      severity: 'error',
      from: { path: '^crypto/', pathNot: '^crypto/parallel/' },
      to: { path: '^crypto/parallel/' },
    },
    {
      name: 'client-sdk-imports-protocols-and-crypto-only',
      comment: 'The site SDK talks to the coordinator over the wire, never through its code.',
      severity: 'error',
      from: { path: '^client-sdk/' },
      to: { path: folders(except('client-sdk', 'protocols', 'crypto')) },
    },
    {
      name: 'coordinator-imports-protocols-and-crypto-only',
      comment: 'The coordinator (its CLI included, but for the dispatcher) never imports the site SDK: what an admin command needs from it is injected by the dispatcher.',
      severity: 'error',
      from: { path: '^coordinator/', pathNot: DISPATCHER },
      to: { path: folders(except('coordinator', 'protocols', 'crypto')) },
    },
    {
      name: 'no-tfjs-in-the-coordinator',
      comment: 'The coordinator stores models as data and never runs one; protocols/ and crypto/ are loaded by it, so they stay free of tfjs too.',
      severity: 'error',
      from: { path: '^(coordinator|protocols|crypto)/', pathNot: DISPATCHER },
      to: { path: '@tensorflow/' },
    },
    {
      name: 'only-the-harness-imports-the-dispatcher',
      comment: 'The dispatcher imports every room; a room importing it would import them all.',
      severity: 'error',
      from: { path: folders(ROOMS), pathNot: DISPATCHER },
      to: { path: DISPATCHER },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports couple rooms as much as value imports do.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
