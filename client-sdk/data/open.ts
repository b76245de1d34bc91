import { stat } from 'node:fs/promises';
import { csvData, type CsvDataOptions } from './csv.ts';
import { imageFolderData } from './images.ts';
import { dataError, type SiteData } from './site-data.ts';

/** A site's data at `path`: a folder is an image folder (one subfolder per class), a file a CSV with a header. */
export async function openSiteData(path: string, options: CsvDataOptions = {}): Promise<SiteData> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw dataError(`${path}: cannot read it (${(err as Error).message})`);
  }
  if (isDir && options.labelColumn !== undefined) throw dataError(`${path} is an image folder: its labels are its subfolders' names, a label column does not apply`);
  return isDir ? imageFolderData(path) : csvData(path, options);
}
