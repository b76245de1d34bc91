/**
 * Image-folder site data: DIR/<class>/<image>, one subfolder per class (its name is the label),
 * PNG decoded with pngjs and JPEG with jpeg-js (both pure JavaScript, nothing to compile). Every
 * image is decoded once when the folder is opened, so an unreadable file is found before the site
 * connects; the pixels are decoded again and resized to the model's [height, width, channels]
 * (bilinear; 1 channel = luma, 3 = RGB, alpha dropped, values in [0, 1]) once the model is known,
 * so at most one full-size image is held at a time.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { Dataset } from './dataset.ts';
import { applyScaling, dataError, fixedShape, labelIndex, quote, type DataRules, type ModelInput, type SiteData } from './site-data.ts';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** jpeg-js' own guards against decompression bombs, kept at its defaults made explicit; PNGs are held to the same resolution. */
const JPEG_LIMITS = { maxResolutionInMP: 100, maxMemoryUsageInMB: 512 };
const MAX_PIXELS = JPEG_LIMITS.maxResolutionInMP * 1e6;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** pngjs inflates the whole image: a tiny file claiming a huge size is refused from its header first. */
function checkPngSize(bytes: Buffer): void {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return; // pngjs says what is wrong
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width * height > MAX_PIXELS) throw new Error(`${width}×${height} pixels, more than ${JPEG_LIMITS.maxResolutionInMP} megapixels`);
}

interface Rgba { width: number; height: number; data: Uint8Array }

function decode(path: string): Rgba {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw dataError(`${path}: cannot read it (${(err as Error).message})`);
  }
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.png') checkPngSize(bytes);
    const image = ext === '.png'
      ? PNG.sync.read(bytes)
      : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, ...JPEG_LIMITS });
    if (!(image.width > 0 && image.height > 0) || image.data.length < image.width * image.height * 4) throw new Error('no pixels');
    return { width: image.width, height: image.height, data: image.data };
  } catch (err) {
    throw dataError(`${path}: unreadable image, it does not decode as ${ext === '.png' ? 'PNG' : 'JPEG'} (${(err as Error).message})`);
  }
}

/** Bilinear resize of RGBA pixels to height × width × channels (1: luma, 3: RGB), scaled to [0, 1], written at `out[offset…]`. */
function resizeInto(src: Rgba, height: number, width: number, channels: 1 | 3, out: Float32Array, offset: number): void {
  const sy = src.height / height;
  const sx = src.width / width;
  const at = (x: number, y: number, c: number) => src.data[(y * src.width + x) * 4 + c]!;
  let o = offset;
  for (let y = 0; y < height; y++) {
    // Sample at pixel centres, clamped to the edges.
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, src.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), src.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const wx = fx - x0;
      const sample = (c: number) => (at(x0, y0, c) * (1 - wx) + at(x1, y0, c) * wx) * (1 - wy) + (at(x0, y1, c) * (1 - wx) + at(x1, y1, c) * wx) * wy;
      if (channels === 1) {
        out[o++] = (0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2)) / 255;
      } else {
        out[o++] = sample(0) / 255;
        out[o++] = sample(1) / 255;
        out[o++] = sample(2) / 255;
      }
    }
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith('.')).sort();
  } catch (err) {
    throw dataError(`${dir}: cannot list it (${(err as Error).message})`);
  }
}

/** Reads and checks DIR: one subfolder per class, each holding at least one PNG or JPEG that decodes. */
export async function imageFolderData(dir: string): Promise<SiteData> {
  const folders = list(dir);
  const images: { path: string; label: string }[] = [];
  for (const folder of folders) {
    const classDir = join(dir, folder);
    let isDir: boolean;
    try {
      isDir = statSync(classDir).isDirectory();
    } catch (err) {
      throw dataError(`${classDir}: cannot read it (${(err as Error).message})`);
    }
    if (!isDir) {
      throw dataError(`${classDir}: not a folder; an image folder holds one subfolder per class (${join(dir, '<class>', '<image>.png')})`);
    }
    const files = list(classDir);
    if (files.length === 0) throw dataError(`${classDir}: the class folder holds no images`);
    for (const file of files) {
      const path = join(classDir, file);
      if (!EXTENSIONS.has(extname(file).toLowerCase())) throw dataError(`${path}: not a PNG or JPEG file (.png, .jpg, .jpeg)`);
      decode(path);
      images.push({ path, label: folder });
    }
  }
  if (images.length === 0) throw dataError(`${dir}: no class folders; an image folder holds one subfolder per class`);

  return {
    kind: 'site-data',
    source: dir,
    count: images.length,
    async forModel(model: ModelInput, rules: DataRules): Promise<Dataset> {
      const shape = fixedShape(model, 'an image');
      const [height, width, channels] = shape;
      if (shape.length !== 3 || (channels !== 1 && channels !== 3)) {
        throw dataError(`${dir}: the federation's model takes input [${shape.join(', ')}]; images need a model input of [height, width, 1 or 3 channels]`);
      }
      const toClass = labelIndex(rules, model.numClasses, dir);
      const size = height! * width! * channels;
      const features = new Float32Array(images.length * size);
      const labels = new Int32Array(images.length);
      images.forEach(({ path, label }, i) => {
        labels[i] = toClass(label, () => `${join(dir, label)} (class folder)`);
        resizeInto(decode(path), height!, width!, channels, features, i * size);
      });
      applyScaling(features, size, rules, dir);
      return { features, labels, count: images.length, featureShape: shape, numClasses: model.numClasses };
    },
  };
}
