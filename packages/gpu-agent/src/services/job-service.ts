import type { JobServiceServer, SubmitJobRequest } from '@gpulink/proto';
import type { JobManager } from '../jobs/job-manager.js';
import { type OpenStreams, serverStream, unary } from '../rpc/handlers.js';
import { invalidArgument } from '../rpc/status-error.js';

/** SubmitJob requests carry the unknown fields the agent found in their bytes (see server.ts). */
export type SubmitJobRequestWithUnknown = SubmitJobRequest & { unknownFields?: string[] };

const MAX_PAGE = 1000;

export function createJobService(jobs: JobManager, open: OpenStreams): JobServiceServer {
  return {
    submitJob: unary(async (req: SubmitJobRequestWithUnknown) => {
      if (!req.spec) throw invalidArgument('spec: required');
      return { job: await jobs.submit(req.spec, req.idempotencyKey, req.unknownFields) };
    }),
    getJob: unary(async (req) => ({ job: jobs.get(req.jobId) })),
    listJobs: unary(async (req) => {
      const size = req.pageSize || 50;
      if (size > MAX_PAGE) throw invalidArgument(`page_size: at most ${MAX_PAGE}`);
      const all = jobs.list({ states: req.states, tags: req.tags });
      let start = 0;
      if (req.pageToken) {
        const after = Buffer.from(req.pageToken, 'base64url').toString('utf8');
        if (!/^job_/.test(after)) throw invalidArgument('page_token: not a token from ListJobs');
        // Jobs are newest first and ids sort by creation time: the page starts after the token's job.
        const next = all.findIndex((j) => j.id < after);
        start = next < 0 ? all.length : next;
      }
      const page = all.slice(start, start + size);
      const last = page.at(-1);
      const more = start + size < all.length;
      return { jobs: page, nextPageToken: more && last ? Buffer.from(last.id).toString('base64url') : '' };
    }),
    cancelJob: unary(async (req) => ({ job: await jobs.cancel(req.jobId, req.reason) })),
    resumeJob: unary(async (req) => ({ job: await jobs.resume(req.jobId) })),
    deleteJob: unary(async (req) => {
      await jobs.delete(req.jobId);
      return {};
    }),
    watchJob: serverStream(open, async (req, send, signal) => {
      const { jobId, afterSeq, replayOnly, maxMessageBytes } = req;
      await jobs.watch(jobId, afterSeq, replayOnly, (events) => send({ events }), signal, maxMessageBytes);
    }),
  };
}
