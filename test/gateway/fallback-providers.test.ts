/**
 * Fallback across real provider implementations: the gateway builds Ollama, OpenAI and
 * Anthropic from config (no injected fakes), each pointed at a loopback server speaking its
 * wire format, and the metadata and the audit trail must say who answered after whom.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ProviderError } from '../../src/core/errors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { FAKE_KEY, FakeAnthropic, answerWith, errorBody } from '../support/fake-anthropic.js';
import { FakeOllama, unusedPort } from '../support/fake-ollama.js';
import { FakeOpenAI, sseScript, textStream } from '../support/fake-openai.js';
import { tempDir, testConfig } from './helpers.js';

const OPENAI_KEY = 'sk-proj-fallbacktest0123456789abcdef';

describe('gateway fallback across providers', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let ollama: FakeOllama;
  let deadOllamaUrl: string;
  const dir = tempDir('omega-fallback-');

  before(async () => {
    [openai, anthropic, ollama] = await Promise.all([FakeOpenAI.start(), FakeAnthropic.start(), FakeOllama.start()]);
    deadOllamaUrl = `http://127.0.0.1:${await unusedPort()}`;
  });
  after(async () => {
    await Promise.all([openai.server.close(), anthropic.close(), ollama.close()]);
  });

  function open(name: string, ollamaUrl: string, fallback: ('openai' | 'anthropic')[]): { gateway: Gateway; memory: SqliteMemory } {
    const config = testConfig({ fallback, enabled: ['ollama', 'openai', 'anthropic'], ollamaUrl });
    config.provider.openai = { ...config.provider.openai, apiKey: OPENAI_KEY, baseUrl: openai.url, model: 'gpt-test' };
    config.provider.anthropic = { ...config.provider.anthropic, apiKey: FAKE_KEY, baseUrl: anthropic.url, model: 'claude-test' };
    const memory = SqliteMemory.open(join(dir.path, `${name}.db`));
    return { gateway: new Gateway({ config, memory }), memory };
  }

  it('Ollama not running: OpenAI answers, and the metadata and audit say so', async () => {
    openai.once('POST', '/chat/completions', sseScript(textStream(['From ', 'OpenAI'], { model: 'gpt-test', usage: [9, 2] })));
    const { gateway, memory } = open('down', deadOllamaUrl, ['openai', 'anthropic']);
    try {
      const reply = await gateway.handle({ channel: 'test', conversationId: 'c1', sender: 'me', text: 'hello' });
      assert.equal(reply.text, 'From OpenAI');
      assert.equal(reply.metadata.providerUsed, 'openai');
      assert.deepEqual(reply.metadata.fallbackFrom, ['ollama']);
      const audit = memory.listAudit({ conversationId: 'c1' });
      assert.deepEqual(
        audit.map((a) => [a.provider, a.outcome]),
        [
          ['ollama', 'unavailable'],
          ['openai', 'ok'],
        ],
      );
      assert.deepEqual(
        memory.history('c1', 10).map((m) => [m.role, m.content]),
        [
          ['user', 'hello'],
          ['assistant', 'From OpenAI'],
        ],
      );
    } finally {
      await gateway.close();
    }
  });

  it('Ollama busy (503) and OpenAI rate-limited (429): Anthropic answers third', async () => {
    ollama.once('POST', '/api/chat', { status: 503, body: { error: 'server busy, please try again.  maximum pending requests exceeded' } });
    openai.once('POST', '/chat/completions', {
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
    });
    anthropic.once('POST', '/v1/messages', answerWith({ blocks: [{ text: ['From Claude'] }], inputTokens: 5, outputTokens: 3 }));
    const { gateway, memory } = open('busy', ollama.url, ['openai', 'anthropic']);
    try {
      const reply = await gateway.handle({ channel: 'test', conversationId: 'c2', sender: 'me', text: 'hi' });
      assert.equal(reply.text, 'From Claude');
      assert.equal(reply.metadata.providerUsed, 'anthropic');
      assert.deepEqual(reply.metadata.fallbackFrom, ['ollama', 'openai']);
      assert.deepEqual(
        memory.listAudit({ conversationId: 'c2' }).map((a) => [a.provider, a.outcome]),
        [
          ['ollama', 'busy'],
          ['openai', 'rate_limited'],
          ['anthropic', 'ok'],
        ],
      );
    } finally {
      await gateway.close();
    }
  });

  it('a bad key at the fallback is not retried elsewhere, stores nothing, and never leaks the key', async () => {
    openai.once('POST', '/chat/completions', {
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${OPENAI_KEY}.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    });
    anthropic.once('POST', '/v1/messages', { status: 500, body: errorBody('api_error', 'must not be reached') });
    const before = anthropic.requests.length;
    const { gateway, memory } = open('auth', deadOllamaUrl, ['openai', 'anthropic']);
    try {
      await assert.rejects(
        gateway.handle({ channel: 'test', conversationId: 'c3', sender: 'me', text: 'hi' }),
        (e: unknown) => e instanceof ProviderError && e.code === 'auth' && e.provider === 'openai' && !e.message.includes(OPENAI_KEY),
      );
      assert.equal(anthropic.requests.length, before, 'auth is not a reason to try the next provider');
      assert.deepEqual(memory.history('c3', 10), []);
      const audit = memory.listAudit({ conversationId: 'c3' });
      assert.deepEqual(
        audit.map((a) => [a.provider, a.outcome]),
        [
          ['ollama', 'unavailable'],
          ['openai', 'auth'],
        ],
      );
      assert.equal(JSON.stringify(audit).includes(OPENAI_KEY), false);
    } finally {
      await gateway.close();
    }
  });
});
