/**
 * The dashboard's budget of rows and columns. Ink redraws the whole screen, scrollback included,
 * whenever a frame is as tall as the terminal, so a frame is never taller than `rows - 1`; every
 * pane gets a fixed share of that, and every line is cut to its pane's width.
 */
export interface DashboardLayout {
  /** The frame: the terminal's width, and one row less than its height. */
  width: number;
  height: number;
  /** Lines inside the GPU pane's border. */
  gpuRows: number;
  /** Rows for the panes between the GPU pane and the key line, borders included. */
  bodyRows: number;
  /** The jobs pane's width, borders included: fixed, whatever its rows hold. */
  jobsWidth: number;
  /** The selected job's pane's width, borders included. */
  detailWidth: number;
}

/** Lines a pane's border and padding take: the two border rows, or the two border columns and padding. */
export const BORDER_ROWS = 2;
export const BORDER_COLUMNS = 4;

/** The smallest terminal the dashboard is laid out for; a smaller one gets what fits, cut. */
export const MIN_COLUMNS = 80;
export const MIN_ROWS = 24;

/** Lines the GPU pane wants: two per GPU, the host, one per job process. */
export function gpuPaneLines(gpus: number, processes: number): number {
  return Math.max(1, gpus * 2) + 1 + processes;
}

/** The most lines the agents pane (several saved agents) takes; more agents are cut to "+N more". */
export const MAX_AGENT_LINES = 4;

/** Lines the agents pane takes for `agents` saved agents: none for one (the header says which). */
export function agentPaneLines(agents: number): number {
  return agents > 1 ? Math.min(agents, MAX_AGENT_LINES) : 0;
}

export function dashboardLayout(
  size: { columns: number; rows: number },
  wantedGpuLines: number,
  agentLines = 0,
): DashboardLayout {
  const width = Math.max(20, size.columns);
  const height = Math.max(6, size.rows - 1);
  // Header and key line take one row each, the agents pane its lines; the GPU pane up to 40% of the rest.
  const free = height - 2 - agentLines;
  const gpuRows = Math.max(1, Math.min(wantedGpuLines, Math.floor(free * 0.4) - BORDER_ROWS));
  const bodyRows = Math.max(3, free - gpuRows - BORDER_ROWS);
  const jobsWidth = Math.max(30, Math.min(60, Math.round(width * 0.38)));
  return { width, height, gpuRows, bodyRows, jobsWidth, detailWidth: width - jobsWidth };
}

/** The first of `count` rows to show in a window of `visible` rows so that row `selected` shows. */
export function windowStart(count: number, visible: number, selected: number, previous = 0): number {
  if (count <= visible) return 0;
  const start = Math.min(previous, count - visible);
  if (selected < start) return selected;
  if (selected >= start + visible) return selected - visible + 1;
  return start;
}
