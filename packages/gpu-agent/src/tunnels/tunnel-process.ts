// Runs one tunnel program for the agent's whole life: starts it, waits for its public address, and
// when it dies starts it again (asking for the same address where the program can), saying so.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { PublicAddress, TunnelProgram } from './programs.js';

/** starting: first run, no address yet; up: reachable; restarting: the program died, a new run is due. */
export type TunnelState = 'starting' | 'up' | 'restarting' | 'stopped';

export interface TunnelOptions {
  program: TunnelProgram;
  /** The program's path (see findTunnelProgram). */
  executable: string;
  /** Remembers the running program's pid, so an agent killed without cleaning up can end it next time. */
  pidFile: string;
  /** Lines for the agent's stderr. */
  log: (message: string) => void;
  /** The public address changed after a restart: the agent prints its new URL. */
  onAddressChange: (address: PublicAddress, previous: PublicAddress) => void;
  /** How long one run may take to report its address. @default 60000 */
  startTimeoutMs?: number;
}

/** Restart delays: quick at first (bore's relay frees the port within about a second), then slower. */
const RESTART_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000];
/** A run that stayed up this long resets the delays. */
const STABLE_MS = 60_000;
/** Kept to explain an exit. */
const TAIL_LINES = 20;

export class Tunnel {
  #state: TunnelState = 'starting';
  #address: PublicAddress | undefined;
  #child: ChildProcess | undefined;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  readonly #o: Required<TunnelOptions>;

  private constructor(options: TunnelOptions) {
    this.#o = { startTimeoutMs: 60_000, ...options };
  }

  /** Starts the program and resolves once it reports its address; rejects, with its output, if it cannot. */
  static async start(options: TunnelOptions): Promise<Tunnel> {
    const tunnel = new Tunnel(options);
    await tunnel.#killLeftover();
    try {
      tunnel.#address = await tunnel.#run();
    } catch (error) {
      tunnel.#state = 'stopped';
      throw error;
    }
    tunnel.#state = 'up';
    return tunnel;
  }

  get state(): TunnelState {
    return this.#state;
  }

  get address(): PublicAddress {
    return this.#address as PublicAddress;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Ends the program (its whole process group) and stops restarting it. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child) await killGroup(child);
    await rm(this.#o.pidFile, { force: true });
  }

  /** One run: resolves with the address it reports; afterwards its exit schedules the next run. */
  #run(): Promise<PublicAddress> {
    const { program, executable } = this.#o;
    const name = program.kind;
    const child = spawn(executable, program.args(this.#address, this.#failures), {
      // Its own process group: a Ctrl-C meant for the agent must not kill the tunnel before the agent
      // has shut down, and stop() ends everything the program started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', RUST_BACKTRACE: '0' },
    });
    this.#child = child;
    const tail: string[] = [];
    let problem: string | undefined;
    const startedAt = Date.now();
    let reported = false;
    // Written before anything else can happen: an asynchronous write (open, truncate, then write) left
    // a window in which the file was empty, and an agent killed in it left a tunnel no one would end.
    if (child.pid) {
      try {
        writeFileSync(this.#o.pidFile, `${child.pid}\n`, { mode: 0o600 });
      } catch (error) {
        this.#o.log(
          `tunnel: could not record ${name}'s pid in ${this.#o.pidFile}: ${(error as Error).message}`,
        );
      }
    }

    return new Promise<PublicAddress>((resolve, reject) => {
      const read = program.reader();
      const timer = setTimeout(() => {
        if (reported) return;
        const why = `${name} reported no public address within ${this.#o.startTimeoutMs / 1000} s`;
        fail(new Error(explain(why, problem, tail, program.hint)));
        killGroup(child).catch(() => undefined);
      }, this.#o.startTimeoutMs);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const onLine = (line: string) => {
        if (line.trim()) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
        }
        const reading = read(line);
        if (reading.problem) problem = reading.problem;
        if (!reading.address || reported) return;
        reported = true;
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          resolve(reading.address);
        }
      };
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', onLine);
      }
      child.once('error', (error) => fail(new Error(`could not start ${executable}: ${error.message}`)));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        if (!settled) {
          fail(
            new Error(
              explain(`${name} ${how} before it reported a public address`, problem, tail, program.hint),
            ),
          );
        }
        this.#afterExit(how, problem, Date.now() - startedAt);
      });
    });
  }

  #afterExit(how: string, problem: string | undefined, ranMs: number): void {
    if (this.#state === 'stopped' || this.#state === 'starting') return;
    const name = this.#o.program.kind;
    this.#failures = ranMs >= STABLE_MS ? 1 : this.#failures + 1;
    const delay = RESTART_DELAYS_MS[Math.min(this.#failures, RESTART_DELAYS_MS.length) - 1] as number;
    const previous = this.#address as PublicAddress;
    const wasUp = this.#state === 'up';
    this.#state = 'restarting';
    this.#o.log(
      `tunnel: ${name} ${how}${problem ? ` (${problem})` : ''}${wasUp ? '; clients are cut off until it is back' : ''}; restarting it in ${delay / 1000} s (${this.#o.program.restartNote})`,
    );
    this.#restartTimer = setTimeout(() => this.#restart(previous), delay);
  }

  #restart(previous: PublicAddress): void {
    if (this.#state === 'stopped') return;
    this.#run().then(
      (address) => {
        if (this.#state === 'stopped') return;
        this.#state = 'up';
        this.#address = address;
        const same = address.host === previous.host && address.port === previous.port;
        this.#o.log(
          `tunnel: ${this.#o.program.kind} is back at ${address.host}:${address.port}${same ? '; the URL is unchanged' : '; the URL has CHANGED'}`,
        );
        if (!same) this.#o.onAddressChange(address, previous);
      },
      // The failed run's exit handler has already logged it and scheduled the next try.
      () => undefined,
    );
  }

  /** An agent killed with SIGKILL leaves its tunnel running, holding the public port: end it. */
  async #killLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number((await readFile(this.#o.pidFile, 'utf8')).trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1) return;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline[0]?.endsWith(this.#o.program.kind)) return;
      process.kill(-pid, 'SIGKILL');
      this.#o.log(`tunnel: ended ${this.#o.program.kind} (pid ${pid}) left running by a previous agent`);
    } catch {
      // Gone already, or not Linux (/proc): nothing to do.
    }
  }
}

function explain(why: string, problem: string | undefined, tail: string[], hint: string | undefined): string {
  const output = tail.length ? `\n  its last output:\n    ${tail.join('\n    ')}` : '';
  return `${why}${problem ? `: ${problem}` : ''}${hint ? `\n  hint: ${hint}` : ''}${output}`;
}

/** SIGTERM to the process group, SIGKILL after 2 s; resolves when the program has exited. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const force = setTimeout(() => signal('SIGKILL'), 2_000);
  await exited;
  clearTimeout(force);
}
