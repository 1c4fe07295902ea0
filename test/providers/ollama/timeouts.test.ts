import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { ProviderError } from '../../../src/core/errors.js';
import type { ProviderErrorCode } from '../../../src/core/errors.js';
import { FakeOllama, chatLine, doneLine, ndjson } from '../../support/fake-ollama.js';
import type { ChatChunk } from '../../../src/core/types.js';
import type { Step } from '../../support/fake-ollama.js';

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

const MSG = { messages: [{ role: 'user' as const, content: 'hi' }] };

function provider(extra: ConstructorParameters<typeof OllamaProvider>[0] = {}): OllamaProvider {
  return new OllamaProvider({ baseUrl: fake.url, env: {}, ...extra });
}

function expectError(code: ProviderErrorCode, check?: (e: ProviderError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  };
}

/** A connector that never connects, so a request stays in the connect phase. */
const hangingConnector = () => undefined;

function slowStream(n: number, gapMs: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < n; i++) steps.push({ write: ndjson(chatLine(`${i} `)) }, { delay: gapMs });
  steps.push({ write: ndjson(doneLine()) });
  return steps;
}

test('connect timeout: its own message naming timeouts.connectMs (provider.ollama.timeouts.connect in config)', async () => {
  const p = provider({ timeouts: { connectMs: 100 }, connect: hangingConnector });
  await assert.rejects(
    p.chat(MSG),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'connect');
      assert.match(e.message, /within 100 ms/);
      assert.match(e.message, /raise timeouts\.connectMs/);
      assert.deepEqual(e.setting, { option: 'timeouts.connectMs', configKey: 'provider.ollama.timeouts.connect' });
      assert.equal(e.retryable, true);
    }),
  );
  await p.close();
});

test('load timeout: the model may still be loading', async () => {
  fake.once('POST', '/api/chat', { delayMs: 3000, steps: [{ write: ndjson(doneLine()) }] });
  fake.once('POST', '/api/chat', { delayMs: 3000, body: doneLine() });
  const p = provider({ timeouts: { loadMs: 150 } });
  await assert.rejects(
    collect(p.chatStream(MSG)),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'load');
      assert.match(e.message, /did not start answering within 150 ms; the model may still be loading/);
      assert.match(e.message, /raise timeouts\.loadMs/);
      assert.deepEqual(e.setting, { option: 'timeouts.loadMs', configKey: 'provider.ollama.timeouts.load' });
    }),
  );
  // Non-streamed, the load phase also covers writing the answer, and the message says so.
  await assert.rejects(
    p.chat(MSG),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'load');
      assert.match(e.message, /loading or writing a long answer/);
      assert.match(e.message, /raise timeouts\.loadMs/);
      assert.deepEqual(e.setting, { option: 'timeouts.loadMs', configKey: 'provider.ollama.timeouts.load' });
    }),
  );
  await p.close();
});

test('the idle timer does not run while waiting for the first byte', async () => {
  // The headers come late (as during a cold model load); only our load timer governs this.
  fake.once('POST', '/api/chat', { delayMs: 400, steps: [{ write: ndjson(chatLine('late'), doneLine()) }] });
  const p = provider({ timeouts: { loadMs: 2000, idleMs: 100 } });
  const chunks = await collect(p.chatStream(MSG));
  assert.equal(chunks[0]!.content, 'late');
  await p.close();
});

test('idle timeout mid-stream keeps the partial text', async () => {
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('so far')) }, { delay: 3000 }, { write: ndjson(doneLine()) }] });
  const p = provider({ timeouts: { idleMs: 150 } });
  await assert.rejects(
    collect(p.chatStream(MSG)),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'idle');
      assert.equal(e.partialText, 'so far');
      assert.match(e.message, /raise timeouts\.idleMs/);
      assert.deepEqual(e.setting, { option: 'timeouts.idleMs', configKey: 'provider.ollama.timeouts.idle' });
    }),
  );
  await p.close();
});

test('whole-request timeout', async () => {
  fake.once('POST', '/api/chat', { steps: slowStream(100, 20) });
  const p = provider({ timeouts: { requestMs: 200, idleMs: 1000 } });
  await assert.rejects(
    collect(p.chatStream(MSG)),
    expectError('timeout', (e) => {
      assert.equal(e.phase, 'request');
      assert.match(e.message, /raise timeouts\.requestMs/);
      assert.deepEqual(e.setting, { option: 'timeouts.requestMs', configKey: 'provider.ollama.timeouts.request' });
    }),
  );
  await p.close();
});

test('per-call timeouts override the provider\'s', async () => {
  fake.once('POST', '/api/chat', { delayMs: 3000, steps: [{ write: ndjson(doneLine()) }] });
  const p = provider();
  await assert.rejects(p.chat(MSG, { timeouts: { loadMs: 100 } }), expectError('timeout', (e) => assert.equal(e.phase, 'load')));
  await p.close();
});

test('cancel before the connection exists', async () => {
  const p = provider({ connect: hangingConnector });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(
    p.chat(MSG, { signal: ac.signal }),
    expectError('aborted', (e) => assert.equal(e.retryable, false)),
  );
  await p.close();
});

test('cancel before the first byte (a non-streamed call waiting on a load)', async () => {
  fake.once('POST', '/api/chat', { delayMs: 5000, steps: [{ write: ndjson(doneLine()) }] });
  const p = provider();
  const ac = new AbortController();
  const first = fake.requestsTo('/api/chat').length;
  const pending = p.chat(MSG, { signal: ac.signal });
  await fake.waitFor(() => fake.requestsTo('/api/chat').length > first, 2000, 'the request');
  ac.abort();
  await assert.rejects(pending, expectError('aborted', (e) => assert.equal(e.retryable, false)));
  const req = fake.requestsTo('/api/chat')[first]!;
  await fake.waitFor(() => req.closedEarly, 2000, 'the server to see the client go');
  await p.close();
});

test('cancel mid-stream stops that stream only', async () => {
  fake.once('POST', '/api/chat', { steps: slowStream(50, 20) });
  fake.once('POST', '/api/chat', { steps: slowStream(5, 20) });
  const p = provider();
  const ac = new AbortController();
  const seen: string[] = [];
  const cancelled = (async () => {
    for await (const c of p.chatStream(MSG, { signal: ac.signal })) {
      seen.push(c.content);
      if (seen.length === 2) ac.abort();
    }
  })();
  const other = collect(p.chatStream(MSG));
  await assert.rejects(
    cancelled,
    expectError('aborted', (e) => assert.equal(e.partialText, '0 1 ')),
  );
  assert.deepEqual(seen, ['0 ', '1 ']);
  assert.equal((await other).map((c) => c.content).join(''), '0 1 2 3 4 ');
  await p.close();
});

test('cancel a non-streamed JSON call (listModels)', async () => {
  fake.once('GET', '/api/tags', { delayMs: 5000, body: { models: [] } });
  const p = provider();
  await assert.rejects(p.listModels({ signal: AbortSignal.timeout(50) }), expectError('aborted'));
  await p.close();
});

test('an already-aborted signal fails at once without a request', async () => {
  const p = provider();
  const before = fake.requests.length;
  await assert.rejects(p.chat(MSG, { signal: AbortSignal.abort() }), expectError('aborted'));
  assert.equal(fake.requests.length, before);
  await p.close();
});

test('close() fails calls in flight with aborted and the provider refuses new ones', async () => {
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('x')) }, { hang: true }] });
  const p = provider();
  const it = p.chatStream(MSG)[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.content, 'x');
  const next = it.next();
  await p.close();
  await assert.rejects(next, expectError('aborted', (e) => assert.match(e.message, /closed/)));
  await assert.rejects(p.chat(MSG), expectError('aborted'));
  assert.equal(await p.isAvailable(), false);
});

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}
