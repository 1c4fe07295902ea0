import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClaudeCodeProvider } from '../../../src/providers/claude-code/index.js';
import type { ClaudeCodeProviderOptions } from '../../../src/providers/claude-code/index.js';
import { ProviderError, isProviderError } from '../../../src/core/errors.js';
import { isModelProvider } from '../../../src/core/types.js';
import type { ChatChunk } from '../../../src/core/types.js';
import type { ClaudeCodeConfig } from '../../../src/config/types.js';
import { installFakeClaude, isAlive, waitGone } from '../../support/fake-claude.js';
import type { FakeClaude } from '../../support/fake-claude.js';

let fake: FakeClaude;
before(() => {
  fake = installFakeClaude();
});
after(() => {
  fake.cleanup();
});

function provider(mode: string, extra: ClaudeCodeProviderOptions = {}, env: NodeJS.ProcessEnv = {}): ClaudeCodeProvider {
  return new ClaudeCodeProvider({ command: fake.command, env: fake.env(mode, env), killGraceMs: 300, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

test('shape: a ModelProvider that needs no API key', () => {
  const p = new ClaudeCodeProvider();
  assert.equal(p.name, 'claude-code');
  assert.equal(p.requiresApiKey, false);
  assert.equal(p.command, 'claude');
  assert.equal(p.maxTurns, 1);
  assert.equal(p.timeoutMs, 300_000);
  assert.ok(isModelProvider(p));
});

test('fromConfig takes command, model, max turns and the timeout', () => {
  const config: ClaudeCodeConfig = { enabled: true, command: '/opt/claude', model: 'opus', timeoutSecs: 12, maxTurns: 3 };
  const p = ClaudeCodeProvider.fromConfig(config);
  assert.equal(p.command, '/opt/claude');
  assert.equal(p.model, 'opus');
  assert.equal(p.maxTurns, 3);
  assert.equal(p.timeoutMs, 12_000);
  assert.equal(ClaudeCodeProvider.fromConfig({ ...config, timeoutSecs: 0 }).timeoutMs, 0);
});

test('complete(): prompt on stdin, flags on the command line, result and metadata back', async () => {
  const p = provider('success', { model: 'sonnet', maxTurns: 2 });
  const out = await p.complete({ systemPrompt: 'Be brief.', history: [], currentMessage: 'What is 2+2?' });
  const rec = fake.record();
  assert.equal(rec.stdin, 'What is 2+2?');
  assert.deepEqual(rec.args, [
    '-p',
    '--output-format',
    'json',
    '--max-turns',
    '2',
    '--model',
    'sonnet',
    '--append-system-prompt',
    'Be brief.',
  ]);
  assert.equal(out.text, 'echo: What is 2+2?');
  const m = out.metadata;
  assert.equal(m.providerUsed, 'claude-code');
  // No `model` field: the one with the most output in modelUsage.
  assert.equal(m.model, 'claude-sonnet-4-5-20250929');
  assert.equal(m.promptTokens, 115);
  assert.equal(m.completionTokens, 7);
  assert.equal(m.tokensUsed, 122);
  assert.equal(m.doneReason, 'stop');
  assert.equal(m.timings?.totalMs, 1234);
  // The process is gone once the call returns.
  await waitGone([rec.pid], 2000);
});

test('complete(): history becomes a transcript; no --model or system flag when unset; context.model overrides', async () => {
  const p = provider('success');
  await p.complete({
    systemPrompt: '',
    history: [
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: 'Hello Ada.' },
    ],
    currentMessage: 'What is my name?',
  });
  let rec = fake.record();
  assert.deepEqual(rec.args, ['-p', '--output-format', 'json', '--max-turns', '1']);
  assert.match(rec.stdin, /<message role="user">\nMy name is Ada\.\n<\/message>/);
  assert.match(rec.stdin, /<message role="assistant">\nHello Ada\.\n<\/message>/);
  assert.ok(rec.stdin.endsWith('What is my name?'));
  assert.ok(rec.stdin.indexOf('My name is Ada.') < rec.stdin.indexOf('Hello Ada.'));

  const q = new ClaudeCodeProvider({ command: fake.command, env: fake.env('success_model'), model: 'sonnet' });
  const out = await q.complete({ systemPrompt: 'S', history: [], currentMessage: 'x', model: 'opus' });
  rec = fake.record();
  assert.equal(rec.args[rec.args.indexOf('--model') + 1], 'opus');
  assert.equal(out.metadata.model, 'claude-opus-4-1');
});

test('chat(): system messages merge into the system prompt; replace mode uses --system-prompt', async () => {
  const p = provider('success', { systemPromptMode: 'replace' });
  const res = await p.chat({
    messages: [
      { role: 'system', content: 'One.' },
      { role: 'system', content: 'Two.' },
      { role: 'user', content: 'hi' },
    ],
  });
  const rec = fake.record();
  assert.equal(rec.args[rec.args.indexOf('--system-prompt') + 1], 'One.\n\nTwo.');
  assert.equal(rec.args.includes('--append-system-prompt'), false);
  assert.equal(rec.stdin, 'hi');
  assert.equal(res.message.role, 'assistant');
  assert.equal(res.message.content, 'echo: hi');
  assert.equal(res.doneReason, 'stop');
  assert.equal(res.usage.totalTokens, 122);
});

test('chat(): a JSON array of messages (what --verbose prints) is read too', async () => {
  const res = await provider('verbose_array').chat({ messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(res.message.content, 'from array');
});

test('chat(): tools, images and format are refused as unsupported without starting the CLI', async () => {
  const p = provider('success');
  const tools = await rejection(
    p.chat({
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    }),
  );
  assert.equal(tools.code, 'unsupported');
  const images = await rejection(p.chat({ messages: [{ role: 'user', content: 'x', images: ['aGk='] }] }));
  assert.equal(images.code, 'unsupported');
  const format = await rejection(p.chat({ messages: [{ role: 'user', content: 'x' }], format: 'json' }));
  assert.equal(format.code, 'unsupported');
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x', images: ['aGk='] }] })), (e) =>
    isProviderError(e, 'unsupported'),
  );
  assert.throws(() => fake.record(), /ENOENT/);
});

test('error_max_turns with a partial result returns it, marked max_turns', async () => {
  const out = await provider('max_turns_partial', { maxTurns: 2 }).complete({
    systemPrompt: '',
    history: [],
    currentMessage: 'long task',
  });
  assert.equal(out.text, 'partial answer');
  assert.equal(out.metadata.doneReason, 'max_turns');
});

test('error_max_turns without a result is a clear error naming max_turns', async () => {
  const err = await rejection(
    provider('max_turns_empty', { maxTurns: 2 }).complete({ systemPrompt: '', history: [], currentMessage: 'x' }),
  );
  assert.equal(err.code, 'server_error');
  assert.match(err.message, /all 2 turns/);
  assert.match(err.message, /provider\.claude-code\.max_turns/);
});

test('an error result (is_error) is mapped by its text: a login problem is auth', async () => {
  const err = await rejection(provider('is_error_auth').chat({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(err.code, 'auth');
  assert.match(err.message, /Invalid API key/);
  assert.match(err.message, /log in/);
});

test('invalid JSON on a clean exit is a protocol error', async () => {
  const err = await rejection(provider('invalid_json').chat({ messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(err.code, 'protocol');
  assert.match(err.message, /printed no result/);
});

test("a non-zero exit is server_error with stderr's last line, and no key in it", async () => {
  const key = 'sk-ant-api03-SECRETSECRETSECRET1234567890';
  const err = await rejection(
    provider('exit_error', {}, { ANTHROPIC_API_KEY: key }).chat({ messages: [{ role: 'user', content: 'x' }] }),
  );
  assert.equal(err.code, 'server_error');
  assert.match(err.message, /exited with code 2: fatal: the thing broke/);
  assert.doesNotMatch(err.message, /starting/);
  for (const text of [err.message, err.providerMessage ?? '', JSON.stringify(err), String(err.stack)]) {
    assert.equal(text.includes(key), false);
    assert.equal(text.includes('SECRETSECRET'), false);
  }
});

test('ENOENT: the install hint names the command', async () => {
  const missing = join(tmpdir(), 'omega-no-such-dir', 'claude');
  const p = new ClaudeCodeProvider({ command: missing, env: { PATH: process.env.PATH } });
  const err = await rejection(p.complete({ systemPrompt: '', history: [], currentMessage: 'x' }));
  assert.equal(err.code, 'unavailable');
  assert.equal(err.retryable, true);
  assert.equal(
    err.message,
    `Claude Code CLI not found at ${missing}. Install it with \`npm install -g @anthropic-ai/claude-code\` or set provider.claude-code.command.`,
  );
  await assert.rejects(collect(p.chatStream({ messages: [{ role: 'user', content: 'x' }] })), (e) =>
    isProviderError(e, 'unavailable'),
  );
  assert.equal(await p.isAvailable(), false);
});

test('the command is looked up on PATH (of the configured environment)', async () => {
  const p = new ClaudeCodeProvider({ env: fake.env('success') });
  const out = await p.complete({ systemPrompt: '', history: [], currentMessage: 'via PATH' });
  assert.equal(out.text, 'echo: via PATH');
  const none = new ClaudeCodeProvider({ env: { PATH: join(tmpdir(), 'omega-no-such-dir') } });
  assert.equal(await none.isAvailable(), false);
});

test('isAvailable() and version() run `claude --version`', async () => {
  assert.equal(await provider('success').isAvailable(), true);
  assert.deepEqual(fake.record().args, ['--version']);
  assert.equal(await provider('success').version(), '2.0.14 (Claude Code)');
  assert.equal(await provider('version_fail').isAvailable(), false);
  const err = await rejection(provider('version_fail').version());
  assert.match(err.message, /exited with code 3: broken install/);
  // A hanging CLI is given up on within the timeout, and never throws.
  const start = Date.now();
  assert.equal(await provider('version_hang').isAvailable({ timeoutMs: 300 }), false);
  assert.ok(Date.now() - start < 5000);
  await waitGone([fake.record().pid]);
});

test('listModels(): the aliases, plus a configured full name, all remote', async () => {
  const models = await new ClaudeCodeProvider({ model: 'claude-opus-4-1' }).listModels();
  assert.deepEqual(
    models.map((m) => m.id),
    ['claude-code/claude-opus-4-1', 'claude-code/sonnet', 'claude-code/opus', 'claude-code/haiku'],
  );
  for (const m of models) {
    assert.equal(m.local, false);
    assert.equal(m.provider, 'claude-code');
    assert.equal(m.capabilities.chat, true);
  }
  assert.equal((await new ClaudeCodeProvider({ model: 'haiku' }).listModels()).length, 3);
});

test('timeout: the CLI, its child and its grandchild (which ignores SIGTERM) are all killed', async () => {
  // Long enough for the fake to start its child and grandchild even on a loaded machine.
  const p = provider('hang', { timeoutSecs: 2.5 });
  const call = rejection(p.complete({ systemPrompt: '', history: [], currentMessage: 'x' }));
  const rec = await fake.waitForPids();
  const err = await call;
  assert.equal(err.code, 'timeout');
  assert.equal(err.phase, 'request');
  assert.match(err.message, /2\.5 s/);
  assert.match(err.message, /provider\.claude-code\.timeout_secs/);
  assert.equal(isAlive(rec.pid), false, 'the CLI itself is gone when the call fails');
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});

test('CallOptions.timeouts.requestMs overrides timeout_secs', async () => {
  const p = provider('hang', { timeoutSecs: 300 });
  const call = rejection(p.chat({ messages: [{ role: 'user', content: 'x' }] }, { timeouts: { requestMs: 2500 } }));
  const rec = await fake.waitForPids();
  assert.equal((await call).code, 'timeout');
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});

test('abort: the run stops with aborted and the whole group is killed', async () => {
  const controller = new AbortController();
  // The limit is only a safety net: the abort comes long before it.
  const p = provider('hang', { timeoutSecs: 60 });
  const call = rejection(p.chat({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal }));
  let rec;
  try {
    rec = await fake.waitForPids();
    assert.equal(isAlive(rec.grandchild), true);
  } finally {
    controller.abort();
  }
  const err = await call;
  assert.equal(err.code, 'aborted');
  assert.equal(err.retryable, false);
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});

test('an already aborted signal starts nothing', async () => {
  const err = await rejection(
    provider('success').chat({ messages: [{ role: 'user', content: 'x' }] }, { signal: AbortSignal.abort() }),
  );
  assert.equal(err.code, 'aborted');
  assert.throws(() => fake.record(), /ENOENT/);
});

test('chatStream(): assistant messages as chunks (sub-agents and stray lines skipped), then a final chunk', async () => {
  const p = provider('stream', { model: 'sonnet' });
  const chunks = await collect(
    p.chatStream({ messages: [{ role: 'system', content: 'Sys.' }, { role: 'user', content: 'hi' }] }),
  );
  const rec = fake.record();
  assert.deepEqual(rec.args, [
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--max-turns',
    '1',
    '--model',
    'sonnet',
    '--append-system-prompt',
    'Sys.',
  ]);
  assert.equal(rec.stdin, 'hi');
  assert.deepEqual(
    chunks.map((c) => [c.content, c.thinking, c.done]),
    [
      ['Hello', undefined, false],
      ['\n\nWorld', 'hmm', false],
      ['', undefined, true],
    ],
  );
  const last = chunks.at(-1)!;
  assert.equal(last.doneReason, 'stop');
  assert.equal(last.usage?.completionTokens, 7);
  assert.equal(last.model, 'claude-sonnet-4-5-20250929');
  assert.equal(chunks[1]!.model, 'claude-sonnet-4-5-20250929');
  await waitGone([rec.pid], 2000);
});

test('chatStream(): a result without assistant events is the answer; max turns without text fails', async () => {
  const chunks = await collect(provider('stream_result_only').chatStream({ messages: [{ role: 'user', content: 'q' }] }));
  assert.deepEqual(
    chunks.map((c) => [c.content, c.done]),
    [['only the result', true]],
  );
  await assert.rejects(
    collect(provider('stream_max_turns_empty').chatStream({ messages: [{ role: 'user', content: 'q' }] })),
    (e) => isProviderError(e, 'server_error') && /max_turns/.test(e.message),
  );
  await assert.rejects(
    collect(provider('exit_error').chatStream({ messages: [{ role: 'user', content: 'q' }] })),
    (e) => isProviderError(e, 'server_error') && /the thing broke/.test(e.message),
  );
});

test('chatStream(): leaving the loop early kills the CLI and its group', async () => {
  const p = provider('stream_hang', { timeoutSecs: 60 });
  let first: ChatChunk | undefined;
  let rec: Awaited<ReturnType<FakeClaude['waitForPids']>> | undefined;
  for await (const chunk of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) {
    first = chunk;
    rec = await fake.waitForPids();
    assert.equal(isAlive(rec.grandchild), true);
    break;
  }
  assert.equal(first?.content, 'first');
  assert.ok(rec !== undefined);
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});

test('chatStream(): abort mid-stream fails with aborted and the text so far', async () => {
  const controller = new AbortController();
  const p = provider('stream_hang', { timeoutSecs: 60 });
  const it = p.chatStream({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal })[
    Symbol.asyncIterator
  ]();
  let rec;
  let pending;
  try {
    const first = await it.next();
    assert.equal(first.value?.content, 'first');
    rec = await fake.waitForPids();
    pending = it.next();
  } finally {
    controller.abort();
  }
  await assert.rejects(pending, (e) => isProviderError(e, 'aborted') && e.partialText === 'first');
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});

test('chatStream(): timeout mid-stream', async () => {
  const p = provider('stream_hang', { timeoutSecs: 2.5 });
  const seen: string[] = [];
  const pids = fake.waitForPids();
  await assert.rejects(
    (async () => {
      for await (const c of p.chatStream({ messages: [{ role: 'user', content: 'x' }] })) seen.push(c.content);
    })(),
    (e) => isProviderError(e, 'timeout') && e.partialText === 'first',
  );
  assert.deepEqual(seen, ['first']);
  const rec = await pids;
  await waitGone([rec.pid, rec.child, rec.grandchild]);
});
