import type { Command } from 'commander';
import { EXIT } from '../cli-error.js';
import { runningLocalAgent, startLocalAgent, stopLocalAgent } from '../config/local-agent.js';
import {
  defaultContextName,
  readProfile,
  redactUrl,
  removeContextsWhere,
  writeProfile,
} from '../config/profile.js';
import { loadTerminalUi } from '../terminal-ui.js';
import { formatBytes, formatPercent } from '../view/format.js';
import {
  connectAgent,
  connectTo,
  type GlobalOptions,
  interruptSignal,
  mergedOptions,
  outputMode,
  printJson,
  printLine,
  withAgent,
} from './context.js';
import { wholeNumber } from './option-values.js';

export function registerAgentCommands(program: Command): void {
  program
    .command('up')
    .description('start the embedded local agent in the background and use it')
    .option('--json', 'the connection as JSON')
    .addHelpText('after', '\nExample:\n  gpulink up && gpulink info')
    .action(async (o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      const profile = await startLocalAgent({ onWait: (m) => process.stderr.write(`${m}\n`) });
      const context = defaultContextName(profile);
      if (outputMode(g) === 'json') printJson({ url: redactUrl(profile.url), local: profile.local, context });
      else
        printLine(
          `local agent running (pid ${profile.local?.pid}) at ${redactUrl(profile.url)}; current context '${context}'`,
        );
    });

  program
    .command('down')
    .description('stop the embedded local agent')
    .option('--json', 'whether one was stopped, as JSON')
    .addHelpText('after', '\nExample:\n  gpulink down')
    .action(async (o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      const stopped = await stopLocalAgent();
      // Contexts of other agents stay; those of the local agent go with it (its next start has a new port).
      await removeContextsWhere((p) => Boolean(p.local) || p.url === stopped?.url);
      if (outputMode(g) === 'json') printJson({ stopped: stopped !== undefined });
      else printLine(stopped ? 'local agent stopped' : 'no local agent was running');
    });

  program
    .command('connect <URL>')
    .description('check an agent URL and save it as a named context, made current (mode 0600)')
    .option('--name <name>', 'the context to save it as (default: its host and port)')
    .option('--json', 'the agent connected to, as JSON (its URL without the token)')
    .addHelpText(
      'after',
      '\nExamples:\n  gpulink connect "gpulink://TOKEN@bore.pub:41234?fp=..."\n  gpulink connect "gpulink://TOKEN@gpu-box:50051?fp=..." --name desk',
    )
    .action(async (url: string, o: GlobalOptions & { name?: string }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await using agent = await connectTo(url);
      // The local agent's own URL keeps the context local, so that `gpulink down` still clears it.
      const local = await runningLocalAgent();
      const profile = local?.url === url ? local : { url };
      const context = await writeProfile(profile, g.name ?? defaultContextName(profile));
      const { hostname, agentVersion } = agent.info;
      if (outputMode(g) === 'json') printJson({ url: agent.displayUrl, hostname, agentVersion, context });
      else
        printLine(
          `connected to ${hostname} (${agent.displayUrl}); saved as context '${context}', now current`,
        );
    });

  program
    .command('info')
    .description("the agent's versions, CUDA/cuDNN and GPUs")
    .option('--json', 'as JSON')
    .option('--show-token', 'print the full URL with its token')
    .addHelpText('after', '\nExample:\n  gpulink info')
    .action(async (o: GlobalOptions & { showToken?: boolean }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const info = await agent.getInfo();
        if (outputMode(g) === 'json') return printJson(info);
        const url = g.showToken ? ((await readProfile())?.url ?? agent.displayUrl) : agent.displayUrl;
        printLine(
          `agent      ${info.agentVersion} on ${info.hostname} (${info.platform}), protocol revision ${info.protocolRevision}`,
        );
        printLine(`url        ${url}`);
        printLine(`python     ${info.pythonVersion ?? '-'} (${info.pythonExecutable})`);
        printLine(`torch      ${info.torchVersion ?? 'missing'}   fastai ${info.fastaiVersion ?? 'missing'}`);
        printLine(
          `cuda       ${info.cudaAvailable ? `yes, CUDA ${info.cudaVersion}` : 'no'}   cuDNN ${info.cudaAvailable && info.cudnnEnabled ? (info.cudnnVersion ?? 'yes') : 'no'}`,
        );
        for (const gpu of info.gpus)
          printLine(`gpu ${gpu.index}      ${gpu.name}, ${formatBytes(gpu.memoryTotalBytes)}`);
        if (info.gpus.length === 0) printLine('gpus       none: jobs train on the CPU');
        if (info.environmentError) printLine(`problem    ${info.environmentError}`);
      });
    });

  program
    .command('doctor')
    .description("check the agent's training environment, with a fix for each problem")
    .option('--json', 'one JSON object per check')
    .addHelpText('after', '\nExample:\n  gpulink doctor')
    .action(async (o: GlobalOptions, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const report = await agent.checkEnvironment();
        if (outputMode(g) === 'json') {
          for (const c of report.checks) printJson(c);
        } else {
          for (const c of report.checks) {
            printLine(`${c.status.toUpperCase().padEnd(4)}  ${c.title}: ${c.detail}`);
            if (c.fixHint) printLine(`      fix: ${c.fixHint}`);
          }
        }
        if (report.overall === 'fail') process.exitCode = 1;
      });
    });

  program
    .command('stats')
    .description(
      "the agent machine's GPU memory and use, host RAM and CPU, and each job's memory; --watch refreshes",
    )
    .option('--watch', 'keep refreshing')
    .option('--interval <ms>', 'milliseconds between samples', wholeNumber(1), 1000)
    .option('--json', 'NDJSON samples')
    .addHelpText(
      'after',
      '\nWith --watch in a terminal: full screen, q or Ctrl-C quits. Piped: one line per sample.\n\nExamples:\n  gpulink stats --watch\n  gpulink stats --json --interval 500 | head -5',
    )
    .action(async (o: GlobalOptions & { watch?: boolean; interval: number }, cmd: Command) => {
      const g = mergedOptions(o, cmd);
      await withAgent(g, async (agent) => {
        const mode = outputMode(g);
        if (g.watch && mode === 'interactive') {
          const { runStatsWatch } = await loadTerminalUi();
          const how = await runStatsWatch(agent, g.interval, () => connectAgent(g));
          if (how === 'ctrl-c') process.exitCode = EXIT.interrupted;
          return;
        }
        for await (const s of agent.stats({ intervalMs: g.interval, signal: interruptSignal() })) {
          if (mode === 'json') printJson(s);
          else {
            printLine(`${s.time.toISOString()}  GPUs: ${s.gpus.length}`);
            printLine(
              `host RAM free: ${formatBytes(s.host.memoryAvailableBytes)} of ${formatBytes(s.host.memoryTotalBytes)}  CPU ${formatPercent(s.host.cpuPercent)}`,
            );
            for (const p of s.processes) printLine(`process size (${p.jobId}): ${formatBytes(p.rssBytes)}`);
            for (const x of s.gpus) {
              printLine(
                `GPU ${x.index} ${x.name}: RAM free ${formatBytes(x.memoryFreeBytes)} | used ${formatBytes(x.memoryUsedBytes)} | util ${formatPercent(x.utilizationGpuPercent)} | total ${formatBytes(x.memoryTotalBytes)}`,
              );
            }
          }
          if (!g.watch) break;
        }
      });
    });
}
