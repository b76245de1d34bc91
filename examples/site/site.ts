/**
 * A site joining a Conclave federation with its own CSV file, against the installed package
 * (`npm pack` in the repository root, then `npm install` here).
 *
 *   node site.ts HOST:PORT TOKEN_FILE train.csv [LABEL_COLUMN]
 */
import { readFileSync } from 'node:fs';
import { Participant, csvData } from 'conclave';

const [coordinator, tokenFile, csvPath, labelColumn = 'label'] = process.argv.slice(2);
if (!coordinator || !tokenFile || !csvPath) {
  console.error('usage: node site.ts HOST:PORT TOKEN_FILE train.csv [LABEL_COLUMN]');
  process.exit(2);
}

const token = readFileSync(tokenFile, 'utf8').trim();
const data = await csvData(csvPath, { labelColumn }); // read and checked now, fitted to the federation's model before training
const site = new Participant({ coordinator, token, data });
for await (const event of site.run()) {
  if (event.type === 'trained') console.log(`round ${event.round}: ${event.result.numExamples} examples, accuracy ${event.result.accuracy.toFixed(2)}`);
  if (event.type === 'finished') console.log(`federation finished at model v${event.finalModelVersion}`);
}
