#!/usr/bin/env node
// The package's `conclave` bin. From a checkout it runs the TypeScript sources (coordinator/cli/
// conclave.js); an installed package ships only what `npm run build` emitted under dist/. Plain
// JavaScript that any Node can parse, so an old Node reaches the version check with its message.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const sources = new URL('../coordinator/cli/conclave.js', import.meta.url);
await import(existsSync(fileURLToPath(sources)) ? sources.href : new URL('../dist/coordinator/cli/conclave.js', import.meta.url).href);
