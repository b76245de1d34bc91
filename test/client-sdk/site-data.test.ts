import { afterAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { csvData } from '../../client-sdk/data/csv.ts';
import { imageFolderData } from '../../client-sdk/data/images.ts';
import { openSiteData } from '../../client-sdk/data/open.ts';
import { dataRules, type DataRules } from '../../client-sdk/data/site-data.ts';
import { checkModelFitsSpec, dataSpecFromFlags } from '../../coordinator/cli/data-flags.ts';
import { configFromMessage, configMessage, parseFederationConfig, type FederationConfigInput } from '../../coordinator/federation-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'conclave-site-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const path = join(dir, `f${n++}.csv`);
  writeFileSync(path, text);
  return path;
}

const NONE: DataRules = { classes: [], scaling: { kind: 'none' }, features: [] };
const IRIS_CLASSES: DataRules = { classes: ['setosa', 'versicolor', 'virginica'], scaling: { kind: 'none' }, features: [] };

describe('CSV site data', () => {
  test('rows become features in column order, labels numbered as the federation names them, scaled by its min/max', async () => {
    const path = file('a,species,b\n1,virginica,10\n3,setosa,30\n"2",versicolor,20\n');
    const data = await csvData(path, { labelColumn: 'species' });
    expect(data.count).toBe(3);
    const ds = await data.forModel({ inputShape: [2], numClasses: 3 }, { ...IRIS_CLASSES, scaling: { kind: 'minmax', min: [1, 10], max: [3, 30] } });
    expect([...ds.features]).toEqual([0, 0, 1, 1, 0.5, 0.5]);
    expect([...ds.labels]).toEqual([2, 0, 1]);
    expect(ds).toMatchObject({ count: 3, featureShape: [2], numClasses: 3 });
    const standard = await data.forModel({ inputShape: [2], numClasses: 3 }, { ...IRIS_CLASSES, scaling: { kind: 'standard', mean: [2, 20], std: [2, 10] } });
    expect([...standard.features]).toEqual([-0.5, -1, 0.5, 1, 0, 0]);
  });

  test('without class names, labels must be the integers 0..K-1; the default label column is "label"', async () => {
    const data = await csvData(file('x,label\n0.5,1\n0.25,0\n'));
    const ds = await data.forModel({ inputShape: [1], numClasses: 2 }, NONE);
    expect([...ds.labels]).toEqual([1, 0]);
    await expect(data.forModel({ inputShape: [1], numClasses: 1 }, NONE)).rejects.toThrow(/line 2: label "1" is not a class of the federation's model .*integers 0\.\.0/);
    const named = await csvData(file('x,label\n0.5,cat\n'));
    await expect(named.forModel({ inputShape: [1], numClasses: 2 }, NONE)).rejects.toThrow(/f\d+\.csv line 2: label "cat" is not a class/);
  });

  test.each([
    ['a missing label column', 'a,b,y\n1,2,0\n', /f\d+\.csv: no label column "species" in the header \("a", "b", "y"\); name it with --label-column/],
    ['a ragged row', 'a,b,species\n1,2,setosa\n1,setosa\n', /f\d+\.csv line 3: 2 fields, the header has 3 \(a ragged row\)/],
    ['a longer row', 'a,b,species\n1,2,setosa,4\n', /f\d+\.csv line 2: 4 fields, the header has 3/],
    ['a missing value', 'a,b,species\n1,2,setosa\n1,,setosa\n', /f\d+\.csv line 3: missing value in column "b"/],
    ['a non-numeric value', 'a,b,species\n1,abc,setosa\n', /f\d+\.csv line 2: column "b" holds "abc", not a finite number/],
    ['an infinite value', 'a,b,species\n1,Infinity,setosa\n', /line 2: column "b" holds "Infinity", not a finite number/],
    ['a missing label', 'a,b,species\n1,2,\n', /f\d+\.csv line 2: the label \(column "species"\) is missing/],
    ['an empty file', '', /f\d+\.csv: the file is empty/],
    ['a header only', 'a,b,species\n', /f\d+\.csv: no examples after the header/],
    ['an unclosed quote', 'a,b,species\n1,"2,setosa\n', /f\d+\.csv: not a readable CSV file/],
  ])('%s is refused with the file and line, when the file is read', async (_, text, message) => {
    const err = await csvData(file(text), { labelColumn: 'species' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
  });

  test('what needs the model is refused when it is known: feature count, an unknown class, a scaling for other features, an open input size', async () => {
    const data = await csvData(file('a,b,c,d,e,species\n1,2,3,4,5,setosa\n1,2,3,4,5,tulip\n'), { labelColumn: 'species' });
    await expect(data.forModel({ inputShape: [4], numClasses: 3 }, IRIS_CLASSES))
      .rejects.toThrow(/f\d+\.csv: 5 feature columns \(a, b, c, d, e\), the federation's model takes 4 values per example \(input \[4\]\)/);
    await expect(data.forModel({ inputShape: [5], numClasses: 3 }, IRIS_CLASSES))
      .rejects.toThrow(/f\d+\.csv line 3: label "tulip" is not one of the federation's classes \(setosa, versicolor, virginica\)/);
    const first = await csvData(file('a,b,species\n1,2,setosa\n'), { labelColumn: 'species' });
    await expect(first.forModel({ inputShape: [2], numClasses: 3 }, { ...IRIS_CLASSES, scaling: { kind: 'minmax', min: [0, 0, 0], max: [1, 1, 1] } }))
      .rejects.toThrow(/scaling is stated for 3 features, this data has 2/);
    await expect(first.forModel({ inputShape: [null], numClasses: 3 }, IRIS_CLASSES)).rejects.toThrow(/no fixed size for a CSV row/);
    await expect(first.forModel({ inputShape: [2], numClasses: 4 }, IRIS_CLASSES)).rejects.toThrow(/names 3 classes but its model outputs 4/);
  });

  test('the federation\'s feature columns are taken by name, in its order, wherever they are in the file; other columns are ignored', async () => {
    const data = await csvData(file('id,b,species,a\n7,20,setosa,1\n8,40,versicolor,3\n'), { labelColumn: 'species' });
    const rules: DataRules = { ...IRIS_CLASSES, features: ['a', 'b'], scaling: { kind: 'minmax', min: [1, 20], max: [3, 40] } };
    const ds = await data.forModel({ inputShape: [2], numClasses: 3 }, rules);
    expect([...ds.features]).toEqual([0, 0, 1, 1]);
    await expect(data.forModel({ inputShape: [2], numClasses: 3 }, { ...rules, features: ['a', 'c'] }))
      .rejects.toThrow(/f\d+\.csv: no column "c", one of the federation's feature columns \(a, c\)/);
    await expect(data.forModel({ inputShape: [3], numClasses: 3 }, { ...IRIS_CLASSES, features: ['a', 'b'] }))
      .rejects.toThrow(/2 feature columns \(a, b\), the federation's model takes 3 values per example/);
  });

  test('a missing file or a folder given a label column is refused', async () => {
    await expect(openSiteData(join(dir, 'nope.csv'))).rejects.toThrow(/nope\.csv: cannot read it \(ENOENT/);
    await expect(openSiteData(dir, { labelColumn: 'y' })).rejects.toThrow(/is an image folder/);
  });
});

function png(path: string, width: number, height: number, rgba: (x: number, y: number) => [number, number, number, number]): void {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) image.data.set(rgba(x, y), (y * width + x) * 4);
  writeFileSync(path, PNG.sync.write(image));
}

function imageDir(name: string): string {
  const root = join(dir, name);
  mkdirSync(root);
  return root;
}

describe('image-folder site data', () => {
  test('one subfolder per class; PNG and JPEG are resized to the model input, grayscale as luma, in [0, 1]', async () => {
    const root = imageDir('digits');
    mkdirSync(join(root, 'cat'));
    mkdirSync(join(root, 'dog'));
    // 4×4 white left half, black right half: resized to 2×2, the left column is white, the right black.
    png(join(root, 'cat', 'a.png'), 4, 4, (x) => (x < 2 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    const rgb = { width: 2, height: 2, data: Buffer.from([255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255]) };
    writeFileSync(join(root, 'dog', 'b.jpg'), jpeg.encode(rgb, 100).data);
    const data = await imageFolderData(root);
    expect(data.count).toBe(2);
    const gray = await data.forModel({ inputShape: [2, 2, 1], numClasses: 2 }, { classes: ['cat', 'dog'], scaling: { kind: 'none' }, features: [] });
    expect([...gray.labels]).toEqual([0, 1]);
    expect([...gray.features.subarray(0, 4)]).toEqual([1, 0, 1, 0]);
    // Pure red as luma: 0.299 (JPEG at quality 100 is within a few levels).
    for (const v of gray.features.subarray(4)) expect(v).toBeCloseTo(0.299, 1);
    const colour = await data.forModel({ inputShape: [1, 1, 3], numClasses: 2 }, { classes: ['cat', 'dog'], scaling: { kind: 'none' }, features: [] });
    expect([...colour.features.subarray(0, 3)].map((v) => Math.round(v * 100) / 100)).toEqual([0.5, 0.5, 0.5]);
    expect(colour.features[3]).toBeGreaterThan(0.95);
    expect(colour.features[4]).toBeLessThan(0.05);
  });

  test('folder names must be the federation\'s classes, or 0..K-1 when it names none; the model must take [h, w, 1|3]', async () => {
    const root = imageDir('named');
    mkdirSync(join(root, 'bird'));
    png(join(root, 'bird', 'a.png'), 2, 2, () => [0, 0, 0, 255]);
    const data = await imageFolderData(root);
    await expect(data.forModel({ inputShape: [2, 2, 1], numClasses: 2 }, { classes: ['cat', 'dog'], scaling: { kind: 'none' }, features: [] }))
      .rejects.toThrow(/named\/bird \(class folder\): label "bird" is not one of the federation's classes \(cat, dog\)/);
    await expect(data.forModel({ inputShape: [2, 2, 1], numClasses: 2 }, NONE)).rejects.toThrow(/label "bird" is not a class of the federation's model/);
    await expect(data.forModel({ inputShape: [4], numClasses: 2 }, NONE)).rejects.toThrow(/model takes input \[4\]; images need a model input of \[height, width, 1 or 3 channels\]/);
  });

  test.each([
    ['an unreadable PNG', (root: string) => { mkdirSync(join(root, '0')); writeFileSync(join(root, '0', 'broken.png'), 'not a png'); }, /0\/broken\.png: unreadable image, it does not decode as PNG/],
    ['an unreadable JPEG', (root: string) => { mkdirSync(join(root, '0')); writeFileSync(join(root, '0', 'broken.jpeg'), Buffer.from([0xff, 0xd8, 0, 1, 2])); }, /0\/broken\.jpeg: unreadable image, it does not decode as JPEG/],
    ['a PNG claiming 200 megapixels', (root: string) => {
      mkdirSync(join(root, '0'));
      const header = Buffer.alloc(33);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]).copy(header);
      header.writeUInt32BE(20_000, 16);
      header.writeUInt32BE(10_000, 20);
      writeFileSync(join(root, '0', 'huge.png'), header);
    }, /0\/huge\.png: unreadable image, it does not decode as PNG \(20000×10000 pixels, more than 100 megapixels\)/],
    ['a file that is not an image', (root: string) => { mkdirSync(join(root, '0')); writeFileSync(join(root, '0', 'notes.txt'), 'x'); }, /0\/notes\.txt: not a PNG or JPEG file/],
    ['an empty class folder', (root: string) => mkdirSync(join(root, '0')), /0: the class folder holds no images/],
    ['an image outside a class folder', (root: string) => png(join(root, 'a.png'), 1, 1, () => [0, 0, 0, 255]), /a\.png: not a folder; an image folder holds one subfolder per class/],
    ['no class folders', () => undefined, /no class folders/],
  ])('%s is refused, naming it, when the folder is opened', async (_, make, message) => {
    const root = imageDir(`bad-${n++}`);
    make(root);
    const err = await imageFolderData(root).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
  });
});

describe('the federation states the data spec', () => {
  test('federation create flags: input shape, classes by name or count, scaling; bad combinations refused', () => {
    expect(dataSpecFromFlags({})).toEqual({ spec: undefined });
    expect(dataSpecFromFlags({ 'input-shape': '4', classes: 'a,b,c', 'feature-scaling': 'minmax', 'feature-min': '0,0,0,0', 'feature-max': '1,2,3,4' })).toEqual({
      inputShape: [4], numClasses: 3, spec: { classes: ['a', 'b', 'c'], scaling: { kind: 'minmax', min: [0, 0, 0, 0], max: [1, 2, 3, 4] }, features: [] },
    });
    expect(dataSpecFromFlags({ classes: '3', 'feature-columns': 'x, y' })).toMatchObject({ numClasses: 3, spec: { classes: [], scaling: { kind: 'none' }, features: ['x', 'y'] } });
    expect(() => dataSpecFromFlags({ 'feature-columns': 'x,x' })).toThrow(/feature column names must be distinct/);
    expect(() => dataSpecFromFlags({ 'input-shape': '4,x' })).toThrow(/--input-shape must be 1 to 3 positive integers/);
    expect(() => dataSpecFromFlags({ 'feature-scaling': 'minmax', 'feature-min': '0' })).toThrow(/--feature-max is required/);
    expect(() => dataSpecFromFlags({ 'feature-scaling': 'minmax', 'feature-min': '0,1', 'feature-max': '1,1' })).toThrow(/every max must be above its min/);
    expect(() => dataSpecFromFlags({ 'feature-scaling': 'standard', 'feature-mean': '0', 'feature-std': '0' })).toThrow(/every std must be positive/);
    expect(() => dataSpecFromFlags({ 'feature-scaling': 'none', 'feature-mean': '0' })).toThrow(/--feature-mean does not go with --feature-scaling none/);
    expect(() => dataSpecFromFlags({ 'feature-scaling': 'zscore' })).toThrow(/must be one of none, minmax, standard/);
    expect(() => dataSpecFromFlags({ classes: 'a,a' })).toThrow(/distinct/);
    expect(() => dataSpecFromFlags({ classes: '1' })).toThrow(/between 2 and 10000/);
    // The operator's own model must fit what the flags state.
    const iris = dataSpecFromFlags({ classes: 'a,b,c', 'feature-scaling': 'standard', 'feature-mean': '0,0,0,0', 'feature-std': '1,1,1,1' });
    expect(() => checkModelFitsSpec({ inputSize: 4, outputUnits: 3 }, iris)).not.toThrow();
    expect(() => checkModelFitsSpec({ inputSize: 4, outputUnits: 10 }, iris)).toThrow(/--classes states 3 classes, the model outputs 10/);
    expect(() => checkModelFitsSpec({ inputSize: 784, outputUnits: 3 }, iris)).toThrow(/lists 4 values per feature vector, the model takes 784 input values/);
    expect(() => checkModelFitsSpec({ inputSize: 4, outputUnits: 2 }, dataSpecFromFlags({ 'feature-columns': 'a,b,c' }))).toThrow(/--feature-columns names 3 columns, the model takes 4 input values/);
  });

  test('the spec survives the wire both ways, and the site checks what arrives', () => {
    const config: FederationConfigInput = {
      name: 'iris', model: 'mlp', rounds: 1, sitesPerRound: 1, minSites: 1, roundDeadlineMs: 1000, seed: 0, protection: 'none', privacy: null,
      training: { localEpochs: 1, batchSize: 8, learningRate: 0.01, optimizer: 'adam' },
      data: { classes: ['a', 'b'], scaling: { kind: 'standard', mean: [1, 2], std: [3, 4] }, features: ['x', 'y'] },
    };
    const msg = configMessage(config);
    expect(parseFederationConfig(configFromMessage(msg)).data).toEqual(config.data);
    expect(dataRules(msg.data)).toEqual(config.data);
    // Old configs and plans carry none: integer labels, no scaling.
    const { data: _, ...old } = config;
    expect(parseFederationConfig(configFromMessage(configMessage(old))).data).toBeUndefined();
    expect(dataRules(null)).toEqual(NONE);
    expect(() => dataRules({ classes: [], features: [], scaling: { kind: 'minmax', min: [1], max: [0], mean: [], std: [] } })).toThrow(/feature scaling "minmax" is malformed/);
    expect(() => parseFederationConfig({ ...config, data: { classes: [], scaling: { kind: 'minmax', min: [0, 0], max: [1] } } })).toThrow(/min and max must list one value per feature/);
    expect(() => parseFederationConfig({ ...config, data: { classes: [], scaling: { kind: 'minmax', min: [0], max: [1] }, features: ['x', 'y'] } })).toThrow(/one value per named feature column/);
    expect(() => dataRules({ classes: [], features: ['x', 'x'], scaling: null })).toThrow(/invalid feature columns/);
  });
});
