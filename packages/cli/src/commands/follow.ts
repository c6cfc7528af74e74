import type { Job, JobEvent } from '@gpulink/sdk';
import { summaryLines } from '../view/job-lines.js';
import { createFollowLines, createJobOutput } from '../view/job-output.js';
import { emptyJobView, type JobView, reduceJobView } from '../view/job-view.js';
import { type LineSelection, SelectedLines } from '../view/line-selection.js';
import { type OutputMode, printJson, printLine } from './context.js';

export interface FollowPlainOptions {
  afterSeq?: number;
  replayOnly?: boolean;
  signal?: AbortSignal;
  /** Print the job's output (`gpulink logs`) instead of its events. */
  logsOnly?: boolean;
  /** End with the model's line (default); false where the command saves the model and says so. */
  modelLine?: boolean;
  /** Which lines to print (`logs --tail/--since`); every event still counts in the view. */
  select?: LineSelection;
}

/**
 * Follows a job to its end: NDJSON events with --json, plain lines otherwise (the Ink view is in
 * ui/FollowJob.tsx). Returns the final view.
 */
export async function followJobPlain(
  job: Job,
  mode: Exclude<OutputMode, 'interactive'>,
  options: FollowPlainOptions = {},
): Promise<JobView> {
  let view = emptyJobView(job.id);
  const lines = options.logsOnly ? createJobOutput() : createFollowLines();
  /** What an event prints, if anything: JSON records or lines. */
  const output = (event: JobEvent): Array<() => void> => {
    if (mode === 'json') return !options.logsOnly || event.type === 'log' ? [() => printJson(event)] : [];
    return lines(event, view).map((line) => () => printLine(line));
  };
  const selected = new SelectedLines<() => void>(options.select ?? {});
  let afterSeq = options.afterSeq ?? 0;
  // With --tail, the last lines are only known once the log so far is read: read it, print them,
  // then follow from where it ended.
  const tail = options.select?.tail !== undefined;
  for (const replayOnly of tail && !options.replayOnly ? [true, false] : [options.replayOnly]) {
    for await (const event of job.events({ afterSeq, replayOnly, signal: options.signal })) {
      view = reduceJobView(view, event);
      afterSeq = event.seq;
      for (const print of output(event)) selected.offer(event.time, print);
      if (!tail || !replayOnly) for (const p of selected.take()) p();
    }
    for (const p of selected.take()) p();
  }
  if (mode === 'plain' && !options.logsOnly)
    for (const line of summaryLines(view, { model: options.modelLine })) printLine(line);
  return view;
}
