/**
 * Running a cpgkit program inside one node of the `scripts/cluster` cluster, as the demo and
 * the examples' real-corosync tests do: `bash scripts/cluster exec N node --import tsx
 * --conditions=@cpgkit/source ENTRY ARGS...`, from the repository root.
 * @module
 */

/**
 * The arguments of `bash` that run `entry` (a TypeScript file, run from source) with `args`
 * inside node `node`'s network namespace.
 * @example
 * ```ts
 * spawn('bash', clusterExecArgs(1, 'examples/locks/src/main.ts', ['--corosync']), { cwd: root });
 * ```
 */
export function clusterExecArgs(
  node: number,
  entry: string,
  args: readonly string[] = [],
): string[] {
  return [
    'scripts/cluster',
    'exec',
    String(node),
    process.execPath,
    '--import',
    'tsx',
    '--conditions=@cpgkit/source',
    entry,
    ...args,
  ];
}
