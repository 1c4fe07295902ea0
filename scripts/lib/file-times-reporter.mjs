/**
 * A node:test reporter that writes one JSON line per test file: `{"file","ms","ok"}`.
 *
 * scripts/test.ts adds it next to the normal reporter so that it can state how long the
 * integration files took without parsing human-oriented output. Plain JavaScript because
 * Node 20 loads reporters before `--import tsx` can teach it TypeScript.
 *
 * @param {AsyncIterable<import('node:test/reporters').TestEvent>} source
 * @returns {AsyncGenerator<string>}
 */
export default async function* fileTimesReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:complete') continue;
    const { name, file, nesting, details } = event.data;
    if (nesting !== 0 || file === undefined || name !== file) continue;
    yield `${JSON.stringify({ file, ms: details.duration_ms, ok: details.passed })}\n`;
  }
}
