#!/usr/bin/env node
/**
 * Entry point of the `omega` executable.
 */
import { processIO } from './context.js';
import { run } from './program.js';

// `omega ask ... | head -1`: the reader went away, which is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await run(process.argv.slice(2), processIO());
process.exitCode = code;

// Everything is closed by now, so Node exits by itself. Should some handle still be open
// (a bug), exit anyway rather than leave a finished command hanging in a script. The test
// suite sets OMEGA_STRICT_EXIT=1 so that such a leak hangs the test instead of hiding.
if (process.env.OMEGA_STRICT_EXIT !== '1') setTimeout(() => {
  if (process.argv.includes('--verbose')) {
    process.stderr.write(`omega: debug: forcing exit; still open: ${process.getActiveResourcesInfo().join(', ')}\n`);
  }
  process.exit(code);
}, 1000).unref();
