/** Entry point of the `cpgkit` command. Returns the exit code. */
export function main(_argv: string[]): Promise<number> {
  return Promise.resolve(0);
}
