// The wire mapping of the parts every task shares (data sources, labels, learning rates, fit
// methods and tabular procs), and the small helpers the task mapping in job-spec.ts builds on.
// Internal to the SDK: nothing here is exported to users.
import {
  type DatasetRef,
  FitMethod as FitMethodProto,
  type LearningRate,
  TabularProc as TabularProcProto,
  type VisionLabels as VisionLabelsProto,
} from '@gpulink/proto';
import type { DataSource, VisionLabels } from './data-source.js';
import { GpulinkError } from './errors.js';
import { type FitMethod, fitMethods, fitMethodValue, type TabularProc } from './job-options.js';

export function invalid(field: string, problem: string): GpulinkError {
  return new GpulinkError('INVALID_ARGUMENT', `${field}: ${problem}`);
}

export function exactlyOne<K extends string>(
  value: object | undefined,
  keys: readonly K[],
  field: string,
): K {
  if (typeof value !== 'object' || value === null) {
    throw invalid(field, `expected an object with one of ${keys.join(', ')}`);
  }
  const present = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  const [only] = present;
  if (present.length !== 1 || only === undefined) {
    throw invalid(
      field,
      present.length === 0 ? `expected one of ${keys.join(', ')}` : `give only one of ${present.join(', ')}`,
    );
  }
  return only;
}

const sourceKeys = ['datasetId', 'agentPath', 'url', 'fastaiUrl'] as const;

export function toDatasetRef(source: DataSource, field: string): DatasetRef {
  const key = exactlyOne(source, sourceKeys, field);
  const value = source[key];
  if (typeof value !== 'string' || value === '')
    throw invalid(`${field}.${key}`, 'expected a non-empty string');
  return { source: { $case: key, value }, subdir: source.subdir ?? '' };
}

export function fromDatasetRef(ref: DatasetRef | undefined): DataSource {
  const subdir = ref?.subdir ? { subdir: ref.subdir } : {};
  switch (ref?.source?.$case) {
    case 'datasetId':
      return { datasetId: ref.source.value, ...subdir };
    case 'agentPath':
      return { agentPath: ref.source.value, ...subdir };
    case 'url':
      return { url: ref.source.value, ...subdir };
    case 'fastaiUrl':
      return { fastaiUrl: ref.source.value, ...subdir };
    default:
      // A ref from a newer agent with a source this SDK does not know: an empty agent path reads
      // truthfully as "not a source we can name" without inventing one.
      return { agentPath: '', ...subdir };
  }
}

export function toLearningRate(lr: number | 'find' | undefined, field: string): LearningRate | undefined {
  if (lr === undefined) return undefined;
  if (lr === 'find') return { value: { $case: 'find', value: true } };
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) {
    throw invalid(field, `expected a positive number or 'find', got ${String(lr)}`);
  }
  return { value: { $case: 'fixed', value: lr } };
}

export function fromLearningRate(lr: LearningRate | undefined): number | 'find' | undefined {
  if (lr?.value?.$case === 'fixed') return lr.value.value;
  if (lr?.value?.$case === 'find') return 'find';
  return undefined;
}

export function toFitMethod(method: FitMethod | undefined, field: string): FitMethodProto {
  if (method === undefined) return FitMethodProto.FIT_METHOD_UNSPECIFIED;
  const value = fitMethodValue(method);
  if (value === undefined) throw invalid(field, `expected one of ${fitMethods.join(', ')}`);
  return value;
}

export const fromFitMethod = (method: FitMethodProto): FitMethod | undefined =>
  fitMethods.find((name) => fitMethodValue(name) === method);

export const tabularProcs: Record<TabularProc, TabularProcProto> = {
  categorify: TabularProcProto.TABULAR_PROC_CATEGORIFY,
  fillMissing: TabularProcProto.TABULAR_PROC_FILL_MISSING,
  normalize: TabularProcProto.TABULAR_PROC_NORMALIZE,
};

export function toLabels(labels: VisionLabels | undefined, field: string): VisionLabelsProto | undefined {
  if (labels === undefined) return undefined;
  const key = exactlyOne(labels, ['folder', 'fileNameRegex', 'csv'] as const, field);
  if (key === 'folder') {
    const f = labels.folder ?? {};
    return { method: { $case: 'folder', value: { trainDir: f.trainDir ?? '', validDir: f.validDir ?? '' } } };
  }
  if (key === 'fileNameRegex') {
    return { method: { $case: 'fileNameRegex', value: { pattern: labels.fileNameRegex ?? '' } } };
  }
  const c = labels.csv;
  if (!c?.path) throw invalid(`${field}.csv.path`, 'expected the CSV file inside the dataset');
  return {
    method: {
      $case: 'csv',
      value: {
        csvPath: c.path,
        fileColumn: c.fileColumn ?? '',
        labelColumn: c.labelColumn ?? '',
        validColumn: c.validColumn ?? '',
        imageDir: c.imageDir ?? '',
      },
    },
  };
}

export function fromLabels(labels: VisionLabelsProto | undefined): VisionLabels | undefined {
  const m = labels?.method;
  if (m?.$case === 'folder') {
    return {
      folder: defined({ trainDir: m.value.trainDir || undefined, validDir: m.value.validDir || undefined }),
    };
  }
  if (m?.$case === 'fileNameRegex') return { fileNameRegex: m.value.pattern };
  if (m?.$case === 'csv') {
    return {
      csv: defined({
        path: m.value.csvPath,
        fileColumn: m.value.fileColumn || undefined,
        labelColumn: m.value.labelColumn || undefined,
        validColumn: m.value.validColumn || undefined,
        imageDir: m.value.imageDir || undefined,
      }),
    };
  }
  return undefined;
}

/** Drops keys whose value is undefined, so reverse-mapped options compare equal to what was given. */
export function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}
