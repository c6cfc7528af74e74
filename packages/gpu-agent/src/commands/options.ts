// What the agent's subcommands share: the exit code for usage errors, value parsers that commander
// reports as usage errors, and the options more than one subcommand takes.
import { InvalidArgumentError, Option } from 'commander';
import { defaultPython } from '../paths.js';
import { defaultStateDir } from '../state/state-dir.js';

/** Exit code of a usage error (a bad flag or value), as in the CLI; 1 is a failure while running. */
export const EXIT_USAGE = 2;

/** A TCP port, 0..65535 (0: an ephemeral one). */
export function portNumber(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError(`${value} is not a port number`);
  return port;
}

/** A parser for a whole number in `min..max`. */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max)
      throw new InvalidArgumentError(`${min}..${max}, got ${value}`);
    return n;
  };
}

/** A number of seconds >= 0, fractions allowed. */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`a number of seconds >= 0, got ${value}`);
  }
  return n;
}

export const stateDirOption = () =>
  new Option('--state-dir <dir>', "the agent's token, certificate, jobs and datasets").default(
    defaultStateDir(),
    '~/.local/share/gpulink/agent, or under $XDG_DATA_HOME',
  );

export const pythonOption = () =>
  new Option('--python <path>', 'the Python that runs the worker').default(
    defaultPython(),
    "$GPULINK_PYTHON, else the worker's virtualenv, else python3",
  );

export const jsonOption = () => new Option('--json', 'machine-readable output (JSON) on stdout');
