import { randomBytes } from 'node:crypto';

/** Ids that sort by creation time: "job_" + 10 base-36 digits of milliseconds + 8 random hex digits. */
export function newJobId(now = Date.now()): string {
  return `job_${now.toString(36).padStart(10, '0')}${randomBytes(4).toString('hex')}`;
}

export const JOB_ID_PATTERN = /^job_[0-9a-z]{10}[0-9a-f]{8}$/;
