import type { Job } from '@gpulink/sdk';
import { describeEvent, summaryLines } from '../view/job-lines.js';
import { emptyJobView, type JobView, reduceJobView } from '../view/job-view.js';
import { type OutputMode, printJson, printLine } from './context.js';

/**
 * Follows a job to its end: NDJSON events with --json, plain lines otherwise (the Ink view is in
 * ui/FollowJob.tsx). Returns the final view.
 */
export async function followJobPlain(
  job: Job,
  mode: Exclude<OutputMode, 'interactive'>,
  options: { afterSeq?: number; replayOnly?: boolean; signal?: AbortSignal; logsOnly?: boolean } = {},
): Promise<JobView> {
  let view = emptyJobView(job.id);
  for await (const event of job.events({
    afterSeq: options.afterSeq ?? 0,
    replayOnly: options.replayOnly,
    signal: options.signal,
  })) {
    view = reduceJobView(view, event);
    if (mode === 'json') {
      if (!options.logsOnly || event.type === 'log') printJson(event);
    } else if (options.logsOnly) {
      if (event.type === 'log') printLine(event.text);
    } else {
      const line = describeEvent(event, view);
      if (line !== undefined) printLine(line);
    }
  }
  if (mode === 'plain' && !options.logsOnly) for (const line of summaryLines(view)) printLine(line);
  return view;
}
