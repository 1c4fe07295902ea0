/**
 * `omega ask` end to end: the CLI as a subprocess against a scripted fake Ollama.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  closedPort,
  collect,
  runCli,
  runCliWithPipedStdin,
  spawnCli,
  startFakeOllama,
  tempHome,
  waitFor,
  writeConfig,
  type ScriptedOllama,
} from './helpers.js';

interface ChatBody {
  model: string;
  stream?: boolean;
  think?: boolean;
  messages: { role: string; content: string }[];
}

describe('omega ask', () => {
  let fake: ScriptedOllama;
  let home: ReturnType<typeof tempHome>;
  let config: string;

  before(async () => {
    fake = await startFakeOllama();
    home = tempHome();
    config = writeConfig(home.path, { baseUrl: fake.url });
  });
  after(async () => {
    await fake.close();
    home.remove();
  });

  const lastChat = (): ChatBody => {
    const request = fake.requests.filter((r) => r.path === '/api/chat').at(-1);
    assert.ok(request, 'the CLI sent a chat request');
    return request.body as ChatBody;
  };
  const reset = (): void => {
    fake.requests.length = 0;
    fake.chat = { chunks: ['The sky ', 'is blue ', 'because of Rayleigh scattering.'] };
  };

  it('streams the answer to stdout, ends it with a newline and exits 0', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', 'Why', 'is', 'the', 'sky', 'blue?'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'The sky is blue because of Rayleigh scattering.\n');
    assert.equal(r.stderr, '');
    const body = lastChat();
    assert.notEqual(body.stream, false);
    assert.equal(body.model, 'tiny');
    assert.deepEqual(body.messages.at(-1), { role: 'user', content: 'Why is the sky blue?' });
  });

  it('prints tokens before the answer is complete, and Ctrl-C cancels with exit 130', async () => {
    reset();
    fake.chat = { chunks: ['First words ', 'never sent'], stallAfter: 1 };
    const child = spawnCli(['--config', config, 'ask', 'Tell me a story'], { home: home.path });
    const result = collect(child);
    let seen = '';
    child.stdout?.on('data', (d: Buffer | string) => (seen += String(d)));
    // The server is holding the rest of the answer back: what arrived was streamed.
    await waitFor('the first streamed token', () => seen.includes('First words'));
    child.kill('SIGINT');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.stdout.startsWith('First words'));
    assert.ok(!r.stdout.includes('never sent'));
    assert.ok(!r.stderr.includes('at '), `no stack trace: ${r.stderr}`);
  });

  it('--json prints one object with text and metadata', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', '--json', 'Why?'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { text: string; metadata: Record<string, unknown> };
    assert.equal(parsed.text, 'The sky is blue because of Rayleigh scattering.');
    assert.equal(parsed.metadata.providerUsed, 'ollama');
    assert.equal(parsed.metadata.model, 'tiny');
    assert.equal(typeof parsed.metadata.processingTimeMs, 'number');
    assert.equal(parsed.metadata.promptTokens, 7);
    assert.deepEqual(Object.keys(parsed).sort(), ['metadata', 'text']);
  });

  it('--no-stream asks for the whole answer at once, and Ctrl-C still cancels it', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', '--no-stream', 'Why?'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'The sky is blue because of Rayleigh scattering.\n');
    assert.equal(lastChat().stream, false);

    fake.chat = { chunks: ['never sent'], stallAfter: 0 };
    const child = spawnCli(['--config', config, 'ask', '--no-stream', 'Tell me a story'], { home: home.path });
    const result = collect(child);
    await waitFor('the server to hold the request', () => fake.stalls > 0);
    child.kill('SIGINT');
    const stopped = await result;
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.equal(stopped.stdout, '');
  });

  it('a timeout names the library option in the message and the CLI adds the config key', async () => {
    reset();
    fake.chat = { chunks: ['First words ', 'never sent'], stallAfter: 1 };
    const own = writeConfig(home.path, { baseUrl: fake.url, name: 'idle.toml', extra: '[provider.ollama.timeouts]\nidle = 0.3\n' });
    const r = await runCli(['--config', own, 'ask', 'Tell me a story'], { home: home.path });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /sent nothing for 300 ms in the middle of a response; if the model is just slow, raise timeouts\.idleMs\./);
    assert.match(r.stderr, /In config\.toml that is provider\.ollama\.timeouts\.idle\./);
  });

  it('reads the prompt from stdin when none is given', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask'], { home: home.path, input: 'Why is the sea blue?\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastChat().messages.at(-1), { role: 'user', content: 'Why is the sea blue?' });
  });

  it('reads the prompt from stdin when it is `-`', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', '-'], { home: home.path, input: 'line one\nline two\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastChat().messages.at(-1), { role: 'user', content: 'line one\nline two' });
  });

  it('puts piped stdin after a prompt given as arguments', async () => {
    reset();
    const r = await runCliWithPipedStdin('diff --git a/x b/x\n', ['--config', config, 'ask', 'Review this:'], { home: home.path });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastChat().messages.at(-1), { role: 'user', content: 'Review this:\n\ndiff --git a/x b/x' });
  });

  it('refuses --think to a model without the thinking capability before sending anything', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', '--model', 'tiny', '--think', 'Why?'], { home: home.path });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Model 'tiny' does not support thinking \(think\) \(its capabilities: completion\)/);
    assert.equal(fake.requests.filter((q) => q.path === '/api/chat').length, 0, 'no chat request, so no model load');
  });

  it('leaves out the oldest turns of a long conversation to fit the window, and says so on stderr', async () => {
    reset();
    // Its own home: the conversation is stored, and other tests check that a one-off ask stores nothing.
    const own = tempHome();
    after(() => own.remove());
    const ownConfig = writeConfig(own.path, { baseUrl: fake.url });
    // tiny is trained for 2048 tokens: the window is 2048, 1024 of it kept for the answer.
    const long = (i: number): string => `turn ${i} ${'lorem ipsum '.repeat(120)}`;
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['--config', ownConfig, 'ask', '--model', 'tiny', '--conversation', 'long-one', long(i)], { home: own.path });
      assert.equal(r.code, 0, r.stderr);
    }
    const sent = lastChat().messages;
    assert.equal(sent.at(-1)?.content, long(2));
    assert.ok(!sent.some((m) => m.content === long(0)), 'the oldest turn was left out');
    const r = await runCli(['--config', ownConfig, 'ask', '--model', 'tiny', '--conversation', 'long-one', '--json', 'and?'], { home: own.path });
    assert.equal(r.code, 0, r.stderr);
    const metadata = (JSON.parse(r.stdout) as { metadata: { messagesLeftOut: number; contextWindow: number } }).metadata;
    assert.ok(metadata.messagesLeftOut >= 2);
    assert.equal(metadata.contextWindow, 2048);
    assert.match(
      r.stderr,
      new RegExp(`note: left out the ${metadata.messagesLeftOut} oldest messages of this conversation to fit the 2048-token context window of ollama/tiny`),
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  });

  it('passes --model, --system and --think, and shows thinking on stderr only', async () => {
    reset();
    fake.chat = { thinking: ['Hmm, ', 'light scatters.'], chunks: ['Blue.'] };
    // The provider checks the thinking capability before sending think.
    const tools = fake.models.find((m) => m.name === 'tiny-tools:latest')!;
    const capabilities = tools.capabilities;
    tools.capabilities = [...capabilities, 'thinking'];
    const r = await runCli(['--config', config, 'ask', '--model', 'tiny-tools', '--system', 'Be brief.', '--think', 'Why?'], {
      home: home.path,
    }).finally(() => (tools.capabilities = capabilities));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Blue.\n');
    assert.match(r.stderr, /Hmm, light scatters\./);
    const body = lastChat();
    assert.equal(body.model, 'tiny-tools');
    assert.equal(body.think, true);
    assert.deepEqual(body.messages[0], { role: 'system', content: 'Be brief.' });
  });

  it('does not print the thinking a model produces by default (Ollama >= 0.12.4) unless --show-thinking', async () => {
    reset();
    fake.chat = { thinking: ['Unasked ', 'reasoning.'], chunks: ['Blue.'] };
    const quiet = await runCli(['--config', config, 'ask', 'Why?'], { home: home.path });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, 'Blue.\n');
    assert.doesNotMatch(quiet.stderr, /Unasked reasoning/);
    assert.equal('think' in lastChat(), false, 'no flag sends no think');

    reset();
    fake.chat = { thinking: ['Unasked ', 'reasoning.'], chunks: ['Blue.'] };
    const shown = await runCli(['--config', config, 'ask', '--show-thinking', 'Why?'], { home: home.path });
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout, 'Blue.\n');
    assert.match(shown.stderr, /Unasked reasoning\./);
    assert.equal('think' in lastChat(), false, '--show-thinking only shows, it does not ask');
  });

  it('remembers nothing without --conversation, and continues a conversation with it', async () => {
    reset();
    const db = join(home.path, 'memory.db');
    const once = await runCli(['--config', config, 'ask', 'One-off question'], { home: home.path });
    assert.equal(once.code, 0, once.stderr);
    assert.equal(existsSync(db), false, 'a one-off ask opens no database');

    const first = await runCli(['--config', config, 'ask', '--conversation', 'trip', 'Plan a day in Lisbon'], { home: home.path });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(existsSync(db), true);
    const second = await runCli(['--config', config, 'ask', '--conversation', 'trip', 'And the next day?'], { home: home.path });
    assert.equal(second.code, 0, second.stderr);
    const messages = lastChat().messages.filter((m) => m.role !== 'system');
    assert.deepEqual(
      messages.map((m) => [m.role, m.content]),
      [
        ['user', 'Plan a day in Lisbon'],
        ['assistant', 'The sky is blue because of Rayleigh scattering.'],
        ['user', 'And the next day?'],
      ],
    );
  });

  it('says how to get a model that is not installed (exit 1)', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask', '--model', 'nope', 'Hi'], { home: home.path });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(r.stderr, /^omega: .*ollama pull nope/);
  });

  it('is a usage error (exit 2) to give no prompt at all', async () => {
    reset();
    const r = await runCli(['--config', config, 'ask'], { home: home.path, input: '' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^omega: No prompt given/);
    assert.equal(fake.requests.length, 0);
  });
});

describe('omega ask with no Ollama running', () => {
  it('says exactly what to do in one line and exits 1', async () => {
    const home = tempHome();
    try {
      const port = await closedPort();
      // Zero-config, the README's quick start: Ollama found through OLLAMA_HOST or not at all.
      const r = await runCli(['ask', 'Why is the sky blue?'], { home: home.path, env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^omega: Ollama not running at http://127\\.0\\.0\\.1:${port}\\b`));
      assert.match(r.stderr, /`ollama serve`/);
      assert.match(r.stderr, /OLLAMA_HOST/);
    } finally {
      home.remove();
    }
  });
});
