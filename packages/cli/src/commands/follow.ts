import type { Job } from '@gpulink/sdk';
import { summaryLines } from '../view/job-lines.js';
import { createFollowLines, createJobOutput } from '../view/job-output.js';
import { emptyJobView, type JobView, reduceJobView } from '../view/job-view.js';
import { type OutputMode, printJson, printLine } from './context.js';

export interface FollowPlainOptions {
  afterSeq?: number;
  replayOnly?: boolean;
  signal?: AbortSignal;
  /** Print the job's output (`gpulink logs`) instead of its events. */
  logsOnly?: boolean;
  /** End with the model's line (default); false where the command saves the model and says so. */
  modelLine?: boolean;
}

/**
 * Follows a job to its end: NDJSON events with --json, plain lines otherwise (the Ink view is in
 * ui/FollowJob.tsx), with a progress line every 10 s of training. Returns the final view.
 */
export async function followJobPlain(
  job: Job,
  mode: Exclude<OutputMode, 'interactive'>,
  options: FollowPlainOptions = {},
): Promise<JobView> {
  let view = emptyJobView(job.id);
  const lines = options.logsOnly ? createJobOutput() : createFollowLines();
  for await (const event of job.events({
    afterSeq: options.afterSeq ?? 0,
    replayOnly: options.replayOnly,
    signal: options.signal,
  })) {
    view = reduceJobView(view, event);
    if (mode === 'plain') for (const line of lines(event, view)) printLine(line);
    else if (!options.logsOnly || event.type === 'log') printJson(event);
  }
  if (mode === 'plain' && !options.logsOnly)
    for (const line of summaryLines(view, { model: options.modelLine })) printLine(line);
  return view;
}
