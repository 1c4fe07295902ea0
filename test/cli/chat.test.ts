/**
 * `omega chat` end to end with piped input (stdin not a terminal).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { collect, runCli, spawnCli, startFakeOllama, tempHome, waitFor, writeConfig, type ScriptedOllama } from './helpers.js';

interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
}

const ANSWER = 'The sky is blue because of Rayleigh scattering.';

describe('omega chat', () => {
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
  beforeEach(() => {
    fake.requests.length = 0;
    fake.chat = { chunks: ['The sky ', 'is blue ', 'because of Rayleigh scattering.'] };
  });

  const chats = (): ChatBody[] => fake.requests.filter((r) => r.path === '/api/chat').map((r) => r.body as ChatBody);
  const turns = (body: ChatBody | undefined): string[][] =>
    (body?.messages ?? []).filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);

  it('answers each line, keeps the history, and obeys /model, /forget and /exit', async () => {
    const input = ['Hello', '/model tiny-tools', 'Second question', '/forget', 'Third', '/exit', 'never sent', ''].join('\n');
    const r = await runCli(['--config', config, 'chat'], { home: home.path, input });
    assert.equal(r.code, 0, r.stderr);
    const id = /conversation (chat-\d{8}-[0-9a-f]{6})/.exec(r.stderr)?.[1];
    assert.ok(id, `prints the new conversation id: ${r.stderr}`);

    const bodies = chats();
    assert.equal(bodies.length, 3);
    assert.equal(bodies[0]?.model, 'tiny');
    assert.deepEqual(turns(bodies[0]), [['user', 'Hello']]);
    assert.equal(bodies[1]?.model, 'tiny-tools');
    assert.deepEqual(turns(bodies[1]), [
      ['user', 'Hello'],
      ['assistant', ANSWER],
      ['user', 'Second question'],
    ]);
    assert.deepEqual(turns(bodies[2]), [['user', 'Third']], '/forget dropped the history');

    assert.equal(r.stdout.split(ANSWER).length - 1, 3, r.stdout);
    assert.match(r.stdout, /Using model tiny-tools/);
    assert.match(r.stdout, new RegExp(`Forgot 4 messages of conversation ${id}`));
    assert.ok(!r.stdout.includes('never sent'));
  });

  it('continues a conversation by id in a later session', async () => {
    const first = await runCli(['--config', config, 'chat', '--conversation', 'resume-me'], { home: home.path, input: 'Remember 42\n' });
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli(['--config', config, 'chat', '--conversation', 'resume-me'], {
      home: home.path,
      input: 'What number?\n',
    });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /Resuming conversation resume-me \(2 earlier messages\)/);
    assert.deepEqual(turns(chats().at(-1)), [
      ['user', 'Remember 42'],
      ['assistant', ANSWER],
      ['user', 'What number?'],
    ]);
  });

  it('prints /help and /models, and reports an unknown command without stopping', async () => {
    const r = await runCli(['--config', config, 'chat'], { home: home.path, input: '/help\n/models\n/nonsense\nHi\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/forget/);
    assert.match(r.stdout, /^tiny-tools:latest\s+ollama/m);
    assert.match(r.stderr, /^omega: unknown command \/nonsense; type \/help/m);
    assert.ok(r.stdout.includes(ANSWER));
  });

  it('/context shows the window in use and what the conversation fills of it', async () => {
    const r = await runCli(['--config', config, 'chat'], { home: home.path, input: '/context\nHi\n/context\n' });
    assert.equal(r.code, 0, r.stderr);
    const [before, after] = r.stdout.split(ANSWER);
    // tiny is trained for 2048 tokens and not loaded: the server default (4096), capped at 2048.
    assert.match(before!, /^Context window of ollama\/tiny: 2,048 tokens \(the server's default\); trained for 2,048\.$/m);
    assert.match(before!, /^Kept for the answer: 1,024 tokens\. History: 0 of 0 remembered messages would be sent/m);
    assert.match(after!, /History: 2 of 2 remembered messages would be sent/);
    assert.match(after!, /^Last answer: 7 prompt tokens, a 2,048-token window, 0 messages left out\.$/m);
  });

  it('reports a failed answer as one line and carries on; exits 1 at the end of piped input', async () => {
    const r = await runCli(['--config', config, 'chat'], { home: home.path, input: '/model missing\nHi\n/model tiny\nHi again\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^omega: .*ollama pull missing/m);
    assert.ok(r.stdout.includes(ANSWER), 'the next answer still came');
  });

  it('Ctrl-C stops the current answer, not the session', async () => {
    fake.chat = { chunks: ['Partial ', 'never sent'], stallAfter: 1 };
    const child = spawnCli(['--config', config, 'chat'], { home: home.path, stdinPipe: true });
    const result = collect(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer | string) => (out += String(d)));
    child.stdin?.write('Tell me a long story\n');
    await waitFor('the first part of the answer', () => out.includes('Partial'));
    fake.chat = { chunks: ['Second answer.'] };
    child.kill('SIGINT');
    child.stdin?.write('Something else\n');
    await waitFor('the next answer', () => out.includes('Second answer.'));
    child.stdin?.end();
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\(answer stopped\)/);
    assert.ok(!r.stdout.includes('never sent'));
    assert.equal(chats().length, 2);
  });
});
