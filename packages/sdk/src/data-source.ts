// Where a task's files come from and how images get their labels: the DataSource and VisionLabels
// options every task builder takes (job-options.ts), mapped to the wire in job-spec.ts.

type Only<T, K extends keyof T> = Pick<T, K> & { [P in Exclude<keyof T, K>]?: never };

interface DataSourceKeys {
  datasetId: string;
  agentPath: string;
  url: string;
  fastaiUrl: string;
}

/**
 * Where a task's files come from: exactly one of an uploaded dataset, a folder on the agent's machine,
 * an archive URL the agent downloads, or a fastai `URLs` name. `subdir` picks a folder inside it.
 *
 * @example
 * ```ts
 * import type { DataSource } from '@gpulink/sdk';
 * const uploaded: DataSource = { datasetId: 'ds_3f2a' };
 * const mnist: DataSource = { fastaiUrl: 'MNIST_SAMPLE' };
 * const pets: DataSource = { fastaiUrl: 'PETS', subdir: 'images' };
 * ```
 */
export type DataSource = (
  | Only<DataSourceKeys, 'datasetId'>
  | Only<DataSourceKeys, 'agentPath'>
  | Only<DataSourceKeys, 'url'>
  | Only<DataSourceKeys, 'fastaiUrl'>
) & {
  /** A folder inside the source to use as the root, e.g. "images". Relative, no "..". */
  subdir?: string;
};

interface LabelKeys {
  folder: FolderLabels;
  fileNameRegex: string;
  csv: CsvLabels;
}

/**
 * Labels from folder names: `root/<label>/<image>`, or `root/train/<label>/...` and `root/valid/<label>/...`.
 *
 * @example
 * ```ts
 * const labels = { folder: { trainDir: 'train', validDir: 'valid' } };
 * ```
 */
export interface FolderLabels {
  /** Folder holding the training images. @default the root (then `validPct` splits off validation) */
  trainDir?: string;
  /** Folder holding the validation images. @default split by `validPct` */
  validDir?: string;
}

/**
 * Labels from a CSV file inside the dataset.
 *
 * @example
 * ```ts
 * const labels = { csv: { path: 'labels.csv', fileColumn: 'name', labelColumn: 'label' } };
 * ```
 */
export interface CsvLabels {
  /** Path of the CSV inside the dataset, e.g. "labels.csv". */
  path: string;
  /** Column of image paths relative to `imageDir`. @default the first column */
  fileColumn?: string;
  /** Column holding the label. @default the second column */
  labelColumn?: string;
  /** Boolean column marking validation rows. @default split by `validPct` */
  validColumn?: string;
  /** Folder the file paths are relative to. @default the dataset root */
  imageDir?: string;
}

/**
 * How images get their labels: parent folder names, a regular expression on the file name whose first
 * group is the label, or a CSV file.
 *
 * @example
 * ```ts
 * import type { VisionLabels } from '@gpulink/sdk';
 * const byFolder: VisionLabels = { folder: {} };
 * const pets: VisionLabels = { fileNameRegex: '^(.*)_\\d+\\.jpg$' };
 * ```
 */
export type VisionLabels =
  | Only<LabelKeys, 'folder'>
  | Only<LabelKeys, 'fileNameRegex'>
  | Only<LabelKeys, 'csv'>;
