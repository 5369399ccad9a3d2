#!/usr/bin/env node
// `npm run example:NAME [-- ARGS]`: run the example in examples/NAME the way its package.json's
// `start` script does (in the example's folder, ARGS appended), for a user who has only Node
// and npm. The first run installs the workspace (scripts/setup.mjs). Signals reach the example
// (Ctrl-C signals the whole process group; a signal sent to this process alone is passed on),
// and this process exits as the example did (saying so on stderr when that is not 0: npm reports
// a script stopped by Ctrl-C as exit 130 whatever the script's own exit code).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const dir = name ? join(root, 'examples', name) : '';
if (!name || !existsSync(join(dir, 'package.json'))) {
  console.error(`usage: node scripts/example.mjs NAME [ARGS...]: no example ${name ?? ''}`);
  process.exit(2);
}
const start = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts?.start;
if (typeof start !== 'string') {
  console.error(`examples/${name} has no start script`);
  process.exit(2);
}

execFileSync(process.execPath, [join(root, 'scripts', 'setup.mjs'), '--install-only'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});

// a start script is a plain command line: `node ARGS...` or `tsx ARGS...`
const [bin, ...startArgs] = start.split(' ');
const program = bin === 'node' ? process.execPath : join(root, 'node_modules', '.bin', bin);
const child = spawn(program, [...startArgs, ...args], { cwd: dir, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    if (code !== 0) console.error(`examples/${name} exited with code ${code}`);
    process.exit(code ?? 1);
  }
});
