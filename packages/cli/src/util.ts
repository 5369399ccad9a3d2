import { Option } from 'commander';
import { duration, formatDuration, type BareUnit } from './durations.js';
import { UsageError } from './errors.js';

export { UsageError };

/** Registers one subcommand on the program; `setExit` sets the process exit code. */
export type RegisterCommand = (
  program: import('commander').Command,
  setExit: (code: number) => void,
) => void;

/** Parse a positive integer flag. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new UsageError(`${flag} wants a positive integer, got '${value}'`);
    return n;
  };
}

/**
 * The environment variables that give flags their defaults, like etcdctl's `ETCDCTL_*`: a flag
 * on the command line wins over its variable, which wins over the built-in default.
 */
export const ENV = {
  group: 'CPGKIT_GROUP',
  timeout: 'CPGKIT_TIMEOUT',
  data: 'CPGKIT_DATA',
  durability: 'CPGKIT_DURABILITY',
  http: 'CPGKIT_HTTP',
  logFormat: 'CPGKIT_LOG_FORMAT',
  consistency: 'CPGKIT_CONSISTENCY',
  writeOut: 'CPGKIT_WRITE_OUT',
} as const;

/** `--group <group>`, required, defaulting to `$CPGKIT_GROUP`. */
export function groupOption(description: string): Option {
  return new Option('--group <group>', description).env(ENV.group).makeOptionMandatory();
}

/**
 * `--timeout <duration>` in milliseconds (`500ms`, `5s`, `2m`; a bare number in `bare` units),
 * defaulting to `$CPGKIT_TIMEOUT`, then to `defaultMs`.
 */
export function timeoutOption(
  description: string,
  bare: BareUnit,
  defaultMs?: number,
  flags = '--timeout <duration>',
): Option {
  const o = new Option(flags, description).env(ENV.timeout).argParser(duration('--timeout', bare));
  return defaultMs === undefined ? o : o.default(defaultMs, formatDuration(defaultMs));
}

/** `--grace <duration>`: after SIGTERM, how long the child gets before SIGKILL (default 5 s). */
export function graceOption(): Option {
  return new Option(
    '--grace <duration>',
    'after SIGTERM, wait this long before SIGKILL (bare: seconds)',
  )
    .argParser(duration('--grace', 's'))
    .default(5000, '5s');
}
