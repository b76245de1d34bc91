/**
 * Tabular site data: a CSV file with a header row, one example per row, a label column and numeric
 * feature columns: those the federation names, in its order (others are ignored), or else every
 * other column in file order. Parsed as a stream with csv-parse, so a
 * large file is never held as text; the numbers go straight into a growing Float32Array.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parse } from 'csv-parse';
import type { Dataset } from './dataset.ts';
import { applyScaling, dataError, fixedShape, labelIndex, quote, type DataRules, type ModelInput, type SiteData } from './site-data.ts';

export interface CsvDataOptions {
  /** The header name of the label column; default "label". */
  labelColumn?: string;
}

/** Float32 values appended one at a time, doubling the buffer as it fills. */
class FloatBuffer {
  private data = new Float32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  take(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

/** Row-major rows of `width` values → rows of the `picked` columns, in that order. */
function selectColumns(values: Float32Array, width: number, picked: number[]): Float32Array {
  const rows = values.length / width;
  const out = new Float32Array(rows * picked.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < picked.length; k++) out[r * picked.length + k] = values[r * width + picked[k]!]!;
  return out;
}

/**
 * Reads and checks `path`: a header naming the label column, every row as many fields as the
 * header, every feature a finite number, every label present. Errors name the file and its line.
 */
export async function csvData(path: string, options: CsvDataOptions = {}): Promise<SiteData> {
  const labelColumn = options.labelColumn ?? 'label';
  try {
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch (err) {
    throw dataError(`${path}: cannot read it (${(err as Error).message})`);
  }
  const input = createReadStream(path);
  const parser = input.pipe(parse({ relax_column_count: true, skip_empty_lines: true, trim: true, info: true, bom: true }));
  // pipe() does not forward a read error: without this a file that fails mid-way would never end.
  input.once('error', (err) => parser.destroy(err));
  let header: string[] | null = null;
  let labelAt = -1;
  const features = new FloatBuffer();
  const labels: string[] = [];
  const lines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!header) {
        header = record;
        labelAt = header.indexOf(labelColumn);
        if (labelAt < 0) throw dataError(`${path}: no label column ${quote(labelColumn)} in the header (${header.slice(0, 20).map((h) => quote(h)).join(', ')}); name it with --label-column`);
        if (header.length < 2) throw dataError(`${path}: the header has no feature column besides the label`);
        continue;
      }
      if (record.length !== header.length) {
        throw dataError(`${path} line ${line}: ${record.length} fields, the header has ${header.length} (a ragged row)`);
      }
      for (let c = 0; c < record.length; c++) {
        const text = record[c]!;
        if (c === labelAt) {
          if (text === '') throw dataError(`${path} line ${line}: the label (column ${quote(labelColumn)}) is missing`);
          labels.push(text);
          continue;
        }
        if (text === '') throw dataError(`${path} line ${line}: missing value in column ${quote(header[c]!)}`);
        const v = Number(text);
        if (!Number.isFinite(v)) throw dataError(`${path} line ${line}: column ${quote(header[c]!)} holds ${quote(text)}, not a finite number`);
        features.push(v);
      }
      lines.push(line);
    }
  } catch (err) {
    input.destroy();
    parser.destroy();
    if ((err as { code?: unknown }).code === 'INVALID_ARGUMENT') throw err;
    // csv-parse's own errors (an unclosed quote, …) carry the line in their message.
    throw dataError(`${path}: not a readable CSV file (${(err as Error).message})`);
  }
  if (!header) throw dataError(`${path}: the file is empty; it needs a header row and one row per example`);
  if (labels.length === 0) throw dataError(`${path}: no examples after the header`);
  const columns = header.filter((_, c) => c !== labelAt);
  const values = features.take();
  const count = labels.length;

  return {
    kind: 'site-data',
    source: path,
    count,
    async forModel(model: ModelInput, rules: DataRules): Promise<Dataset> {
      const shape = fixedShape(model, 'a CSV row');
      const size = shape.reduce((a, b) => a * b, 1);
      // The federation's named columns, in its order, wherever they are in this file; else every column in file order.
      const picked = rules.features.length > 0 ? rules.features.map((name) => {
        const at = columns.indexOf(name);
        if (at < 0) throw dataError(`${path}: no column ${quote(name)}, one of the federation's feature columns (${rules.features.slice(0, 20).join(', ')})`);
        return at;
      }) : null;
      const width = picked?.length ?? columns.length;
      if (width !== size) {
        const named = picked ? picked.map((c) => columns[c]!) : columns;
        throw dataError(`${path}: ${width} feature columns (${named.slice(0, 20).join(', ')}), the federation's model takes ${size} values per example (input [${shape.join(', ')}])`);
      }
      const toClass = labelIndex(rules, model.numClasses, path);
      const y = new Int32Array(count);
      for (let i = 0; i < count; i++) y[i] = toClass(labels[i]!, () => `${path} line ${lines[i]}`);
      const x = picked ? selectColumns(values, columns.length, picked) : values.slice();
      applyScaling(x, size, rules, path);
      return { features: x, labels: y, count, featureShape: shape, numClasses: model.numClasses };
    },
  };
}
