import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeAnthropic, answerEvents, answerWith } from '../../support/fake-anthropic.js';
import type { Script } from '../../support/fake-anthropic.js';
import { installFakeClaude } from '../../support/fake-claude.js';

const CHILD = fileURLToPath(new URL('../../support/cloud-leak-child.ts', import.meta.url));

test('a process that used the Anthropic and Claude Code providers exits on its own', async () => {
  const fake = await FakeAnthropic.start();
  const claude = installFakeClaude();
  fake.route('GET', '/v1/models', { body: { data: [], has_more: false } });
  fake.route('POST', '/v1/messages', (req) => {
    const content = (req.json as { messages: { content: string }[] }).messages[0]!.content;
    if (content === 'hang') return { steps: [{ write: answerEvents({ blocks: [{ text: ['x'] }] }).slice(0, 4).join('') }, { hang: true }] };
    return (answerWith({ blocks: [{ text: ['Hello', ' there'] }] }) as (r: typeof req) => Script)(req);
  });
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, fake.url, claude.command], {
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
      }, 60_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.notEqual(code, null, `the child did not exit on its own; output: ${out} ${err}`);
    assert.equal(code, 0, err);
    const report = JSON.parse(out.trim()) as Record<string, unknown>;
    assert.deepEqual(report, {
      available: true,
      answer: 'Hello there',
      pending: report.pending,
      claudeAvailable: true,
      claude: 'echo: x',
      timeout: 'timeout',
      aborted: 'aborted',
    });
    assert.match(String(report.pending), /^rejected: .*closed/);
    await fake.waitFor(() => fake.requests.filter((r) => r.closedEarly).length >= 1, 5000, 'the hung request to close');
  } finally {
    await fake.close();
    claude.cleanup();
  }
});
