/**
 * An error as the JSON modes print it (`--json`, `-w json`): one object on stderr,
 * `{"error": {name, code, outcome, message, exitCode, cause?}}`.
 * @module
 */
import { CpgError } from '@cpgkit/core';

/** The JSON form of `e`, which ended the command with `exitCode`. */
export function errorJson(e: Error, exitCode: number): { error: Record<string, unknown> } {
  const cause = e.cause instanceof Error ? e.cause : undefined;
  return {
    error: {
      name: e.name,
      code: e instanceof CpgError ? e.code : 'CPGKIT_ERROR',
      outcome: e instanceof CpgError ? e.outcome : 'unknown',
      message: e.message,
      exitCode,
      ...(cause === undefined
        ? {}
        : {
            cause: {
              name: cause.name,
              ...(cause instanceof CpgError ? { code: cause.code } : {}),
              message: cause.message,
            },
          }),
    },
  };
}
