import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Script } from '../../support/fake-ollama.js';
import { FakeOllama, chatLine, chatText, ndjson } from '../../support/fake-ollama.js';

const CHILD = fileURLToPath(new URL('../../support/leak-child.ts', import.meta.url));

test('a process that used the provider exits on its own right after close()', async () => {
  const fake = await FakeOllama.start();
  fake.route('GET', '/api/tags', { body: { models: [{ name: 'llama3:latest', digest: 'd' }] } });
  fake.route('POST', '/api/show', { body: { capabilities: ['completion'] } });
  fake.route('POST', '/api/chat', (req) => {
    const content = (req.json as { messages: { content: string }[] }).messages[0]!.content;
    if (content === 'hang') return { steps: [{ write: ndjson(chatLine('x')) }, { hang: true }] };
    return (chatText(['Hello', ' there']) as (r: typeof req) => Script)(req);
  });
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, fake.url], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.notEqual(code, null, `the child did not exit on its own; output: ${out} ${err}`);
    assert.equal(code, 0, err);
    const report = JSON.parse(out.trim()) as { available: boolean; models: number; answer: string; pending: string };
    assert.equal(report.available, true);
    assert.equal(report.models, 1);
    assert.equal(report.answer, 'Hello there');
    assert.match(report.pending, /^rejected: .*closed/);
    // The hanging stream's connection was closed by the child, not left for the server to time out.
    await fake.waitFor(() => fake.requests.filter((r) => r.closedEarly).length >= 1, 5000, 'the hung request to close');
  } finally {
    await fake.close();
  }
});

