import { CpgError, type Outcome } from '@cpgkit/core';

/** A wrong argument or flag: printed without a stack, exit code 2. Nothing was sent. */
export class UsageError extends CpgError {
  override name = 'UsageError';
  override readonly code: string = 'CPGKIT_USAGE';
  protected override get defaultOutcome(): Outcome {
    return 'not-applied';
  }
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
