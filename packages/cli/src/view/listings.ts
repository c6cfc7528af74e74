// The columns of each listing: jobs, artifacts, datasets.
import type { ArtifactInfo, DatasetInfo, JobInfo } from '@gpulink/sdk';
import { formatAge, formatBytes, formatNumber } from './format.js';
import type { Listing } from './listing.js';

const epochs = (j: JobInfo) =>
  // lr_find, predict and scripts that never fit have no epochs to count.
  j.totalEpochs || j.completedEpochs ? `${j.completedEpochs}/${j.totalEpochs || '?'}` : '-';

export const jobListing: Listing<JobInfo> = {
  id: (j) => j.id,
  columns: ['ID', 'STATE', 'NAME', 'EPOCHS', 'ACCURACY', 'CREATED'],
  row: (j) => [
    j.id,
    j.state,
    j.name || j.task.type,
    epochs(j),
    formatNumber(j.lastEpoch?.metrics.accuracy),
    formatAge(j.createdAt),
  ],
  wideColumns: ['TASK', 'DEVICE', 'ATTEMPT', 'VALID LOSS', 'ARTIFACTS', 'TAGS'],
  wideRow: (j) => [
    j.task.type,
    j.device || '-',
    String(j.attempt),
    formatNumber(j.lastEpoch?.validLoss),
    String(j.artifacts.length),
    j.tags.join(',') || '-',
  ],
  empty: 'no jobs yet: try `gpulink demo`',
};

export const artifactListing: Listing<ArtifactInfo> = {
  id: (a) => a.name,
  columns: ['NAME', 'KIND', 'SIZE', 'CREATED'],
  row: (a) => [a.name, a.kind, formatBytes(a.sizeBytes), formatAge(a.createdAt)],
  wideColumns: ['BYTES', 'SHA256'],
  wideRow: (a) => [String(a.sizeBytes), a.sha256],
  empty: 'no artifacts',
};

export const datasetListing: Listing<DatasetInfo> = {
  id: (d) => d.id,
  columns: ['ID', 'FILES', 'SIZE', 'NAME'],
  row: (d) => [d.id, String(d.fileCount), formatBytes(d.sizeBytes), d.name],
  wideColumns: ['BYTES', 'CREATED'],
  wideRow: (d) => [String(d.sizeBytes), formatAge(d.createdAt)],
  empty: 'no datasets yet: `gpulink data push DIR` uploads one',
};
