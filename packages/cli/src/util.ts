/** A wrong argument or flag: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

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
