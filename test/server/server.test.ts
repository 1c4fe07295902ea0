/**
 * `omega serve` against a scripted fake Ollama (a real loopback server) and scripted fake
 * providers: wire shapes of the three front ends, errors in each front end's shape, faults
 * (upstream down, dying mid-stream, client hang-up, 1000 concurrent streams, bad and oversized
 * bodies, missing tokens), CORS, the Host check, metrics and the drain on shutdown.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { FakeOllama, chatLine, chatText, doneLine, ndjson } from '../support/fake-ollama.js';
import { FakeModelProvider, testConfig } from '../gateway/helpers.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import { OmegaServer } from '../../src/server/server.js';
import { ServerGateway } from '../../src/server/gateway-adapter.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseServerSection } from '../../src/config/server.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer } from './helpers.js';

const CHAT = { model: 'llama3', messages: [{ role: 'user', content: 'Hi' }] };

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function withFake(): Promise<FakeOllama> {
  const fake = await FakeOllama.start();
  return fake;
}

describe('omega serve: front-end wire shapes over a fake Ollama', () => {
  test('Ollama /api/chat streams NDJSON with the final metrics, relayed or translated alike', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['Hel', 'lo']));
    const config = testConfig({ ollamaUrl: fake.url });
    config.provider.ollama.options = { num_predict: 7 };
    const s = await startServer({ config });
    // `llama3` is relayed byte for byte; `ollama/llama3` goes through the provider contract.
    for (const model of ['llama3', 'ollama/llama3']) {
      const res = await post(`${s.url}/api/chat`, { ...CHAT, model, options: { temperature: 0 } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
      const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => (l.message as { content: string }).content),
        ['Hel', 'lo', ''],
        model,
      );
      const last = lines.at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.done_reason, 'stop');
      assert.equal(last.eval_count, 20);
      assert.equal(last.total_duration, 2_000_000_000);
      assert.match(String(last.created_at), /^\d{4}-\d\d-\d\dT.*Z$/);
    }
    assert.equal(JSON.parse((await (await post(`${s.url}/api/chat`, { ...CHAT, model: 'ollama/llama3' })).text()).split('\n')[0]!).model, 'ollama/llama3', 'the model is echoed as sent');
    // Both ways the upstream got the bare model and the provider's options under the client's.
    for (const r of fake.requestsTo('/api/chat').slice(0, 2)) {
      const sent = r.json as { model: string; stream?: boolean; options: Record<string, unknown> };
      assert.equal(sent.model, 'llama3');
      assert.notEqual(sent.stream, false);
      assert.deepEqual(sent.options, { num_predict: 7, temperature: 0 });
    }
  });

  test('tool calls and thinking reach each front end in its own shape', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    const lines = [
      chatLine('', { message: { role: 'assistant', content: '', thinking: 'Let me see.' } }),
      chatLine('', { message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] } }),
      doneLine(),
    ];
    fake.route('POST', '/api/chat', (req) => ((req.json as { stream?: boolean }).stream === false ? { body: { ...doneLine(), message: { role: 'assistant', content: '', thinking: 'Let me see.', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] } } } : { steps: [{ write: ndjson(...lines) }] }));
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

    const o = (await (await post(`${s.url}/api/chat`, { ...CHAT, stream: false, tools })).json()) as { message: { thinking: string; tool_calls: unknown[] } };
    assert.equal(o.message.thinking, 'Let me see.');
    assert.deepEqual(o.message.tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    assert.deepEqual((fake.requestsTo('/api/chat')[0]!.json as { tools: unknown }).tools, tools);

    const oa = (await (await post(`${s.url}/v1/chat/completions`, { ...CHAT, tools })).json()) as {
      choices: { finish_reason: string; message: { reasoning: string; tool_calls: { id: string; type: string; function: { name: string; arguments: string } }[] } }[];
    };
    assert.equal(oa.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(oa.choices[0]!.message.reasoning, 'Let me see.');
    const call = oa.choices[0]!.message.tool_calls[0]!;
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

    const sse = await (await post(`${s.url}/v1/chat/completions`, { ...CHAT, tools, stream: true })).text();
    assert.match(sse, /"delta":\{"reasoning":"Let me see\."\}/);
    assert.match(sse, /"tool_calls":\[\{"index":0,"id":"call_[0-9a-f]+","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Paris\\"\}"\}\}\]/);
    assert.match(sse, /"finish_reason":"tool_calls"/);

    const an = await (await post(`${s.url}/v1/messages`, { ...CHAT, max_tokens: 50, tools: [{ name: 'get_weather', input_schema: { type: 'object' } }], stream: true })).text();
    const events = [...an.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(events, [
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.match(an, /"content_block":\{"type":"thinking","thinking":"","signature":""\}/);
    assert.match(an, /"delta":\{"type":"input_json_delta","partial_json":"\{\\"city\\":\\"Paris\\"\}"\}/);
    assert.match(an, /"stop_reason":"tool_use"/);
  });

  test('OpenAI stream ends with usage (include_usage) and [DONE]; response_format becomes format', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['{"a":', '1}']));
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const text = await (
      await post(`${s.url}/v1/chat/completions`, { ...CHAT, stream: true, stream_options: { include_usage: true }, max_tokens: 9, response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } })
    ).text();
    const events = text.trim().split('\n\n');
    assert.equal(events.at(-1), 'data: [DONE]');
    const usage = JSON.parse(events.at(-2)!.slice(6)) as { choices: unknown[]; usage: Record<string, number> };
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 });
    const sent = fake.requestsTo('/api/chat')[0]!.json as { format: unknown; options: { num_predict: number } };
    assert.deepEqual(sent.format, schema);
    assert.equal(sent.options.num_predict, 9);
  });

  test('provider/model routing, aliases and unknown providers', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['ok']));
    const claude = new FakeModelProvider('anthropic', [{ answer: 'from claude' }]);
    const config = testConfig({ ollamaUrl: fake.url, enabled: ['ollama', 'anthropic'] });
    const s = await startServer({ config, providers: { anthropic: claude }, server: { aliases: { 'gpt-4o-mini': 'ollama/llama3.2', sonnet: 'anthropic/claude-x' } } });
    await post(`${s.url}/v1/chat/completions`, { ...CHAT, model: 'gpt-4o-mini' });
    assert.equal((fake.requestsTo('/api/chat')[0]!.json as { model: string }).model, 'llama3.2');
    const r = (await (await post(`${s.url}/v1/chat/completions`, { ...CHAT, model: 'sonnet' })).json()) as { choices: { message: { content: string } }[]; model: string };
    assert.equal(r.choices[0]!.message.content, 'from claude');
    assert.equal(r.model, 'sonnet');
    assert.equal(claude.requests[0]!.model, 'claude-x');
    const off = await post(`${s.url}/v1/chat/completions`, { ...CHAT, model: 'openai/gpt-4o' });
    assert.equal(off.status, 404);
    const body = (await off.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'not_found_error');
    assert.match(body.error.message, /openai provider is disabled/);
  });
});

describe('omega serve: faults', () => {
  test('upstream down: the fallback provider answers, and the metadata says so', async () => {
    const claude = new FakeModelProvider('anthropic', [{ answer: 'fallback answer' }, { chunks: ['a', 'b'] }]);
    const config = testConfig({ ollamaUrl: 'http://127.0.0.1:9', enabled: ['ollama', 'anthropic'], fallback: ['anthropic'] });
    const s = await startServer({ config, providers: { anthropic: claude } });
    const res = await post(`${s.url}/v1/chat/completions`, CHAT);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-omega-provider'), 'anthropic');
    assert.equal(res.headers.get('x-omega-fallback-from'), 'ollama');
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]!.message.content, 'fallback answer');
    // Streams fall back too, before the first byte.
    const stream = await post(`${s.url}/api/chat`, CHAT);
    assert.equal(stream.headers.get('x-omega-provider'), 'anthropic');
    assert.match(await stream.text(), /"content":"a"/);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /omega_server_fallbacks_total\{from="ollama",to="anthropic"\} 2/);
  });

  test('upstream down without a fallback: 503 in each front end\'s shape', async () => {
    const s = await startServer({ config: testConfig({ ollamaUrl: 'http://127.0.0.1:9' }) });
    const o = await post(`${s.url}/api/chat`, CHAT);
    assert.equal(o.status, 503);
    assert.match(((await o.json()) as { error: string }).error, /127\.0\.0\.1:9/);
    const oa = await post(`${s.url}/v1/chat/completions`, CHAT);
    assert.equal(oa.status, 503);
    assert.equal(((await oa.json()) as { error: { type: string; code: string } }).error.code, 'unavailable');
    const an = await post(`${s.url}/v1/messages`, { ...CHAT, max_tokens: 5 });
    assert.equal(an.status, 503);
    assert.deepEqual(Object.keys((await an.json()) as object), ['type', 'error']);
  });

  test('upstream dies mid-stream: the partial text, then the error in protocol', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('partial ')) }, { delay: 20 }, { reset: true }] });
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const o = await (await post(`${s.url}/api/chat`, CHAT)).text();
    const lines = o.trim().split('\n').map((l) => JSON.parse(l) as { message?: { content: string }; error?: string });
    assert.equal(lines[0]!.message!.content, 'partial ');
    assert.ok(typeof lines.at(-1)!.error === 'string' && lines.at(-1)!.error!.length > 0);
    const oa = await (await post(`${s.url}/v1/chat/completions`, { ...CHAT, stream: true })).text();
    assert.match(oa, /"content":"partial "/);
    assert.match(oa, /event: error\ndata: \{"error":\{"message":/);
    assert.doesNotMatch(oa, /\[DONE\]/);
    const an = await (await post(`${s.url}/v1/messages`, { ...CHAT, max_tokens: 5, stream: true })).text();
    assert.match(an, /"text":"partial "/);
    assert.match(an, /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":/);
  });

  test('a client hang-up cancels the upstream request at once and is audited as aborted', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('first ')) }, { hang: true }] });
    const memory = SqliteMemory.open(':memory:');
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }), memory });
    const controller = new AbortController();
    const r2 = await fetch(`${s.url}/api/chat`, { method: 'POST', body: JSON.stringify(CHAT), headers: { 'x-omega-conversation': 'c1' }, signal: controller.signal });
    const reader = r2.body!.getReader();
    await reader.read();
    controller.abort();
    await fake.waitFor(() => fake.requestsTo('/api/chat').every((r) => r.over), 2000, 'the upstream requests to be closed');
    assert.ok(fake.requestsTo('/api/chat').some((r) => r.closedEarly));
    await new Promise((r) => setTimeout(r, 50));
    const rows = memory.listAudit({ conversationId: 'c1' });
    assert.equal(rows.at(-1)?.outcome, 'aborted');
    assert.equal(memory.messages('c1').at(-1)?.content, 'first ');
    // Without a conversation the request is relayed byte for byte: the hang-up cancels it just the same.
    const plain = new AbortController();
    const r3 = await fetch(`${s.url}/api/chat`, { method: 'POST', body: JSON.stringify(CHAT), signal: plain.signal });
    await r3.body!.getReader().read();
    plain.abort();
    await fake.waitFor(() => fake.requestsTo('/api/chat').length === 2 && fake.requestsTo('/api/chat')[1]!.closedEarly, 2000, 'the relayed request to be cancelled');
    await new Promise((r) => setTimeout(r, 50));
    const relayed = memory.listAudit({ limit: 10 }).filter((r) => r.conversationId.startsWith('req-'));
    assert.equal(relayed.at(-1)?.outcome, 'aborted');
    assert.equal(relayed.at(-1)?.channel, 'serve:ollama');
    assert.equal(s.server.inFlightCount, 0);
  });

  test('1000 concurrent streams through the server all complete', { timeout: 60_000 }, async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['a', 'b', 'c']));
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
    t.after(() => agent.destroy());
    const one = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = http.request(`${s.url}/api/chat`, { method: 'POST', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve(text));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify(CHAT));
      });
    const started = performance.now();
    const bodies = await Promise.all(Array.from({ length: 1000 }, one));
    const texts = bodies.map((b) =>
      b
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { message: { content: string } }).message.content)
        .join(''),
    );
    assert.equal(texts.filter((x) => x === 'abc').length, 1000);
    assert.ok(performance.now() - started < 50_000);
    assert.equal(s.server.inFlightCount, 0);
  });

  test('bad JSON, an empty body and an oversized body: 400/400/413 in each front end\'s shape', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }), server: { bodyLimitBytes: 1024 } });
    const bad = await post(`${s.url}/api/chat`, '{"model":');
    assert.equal(bad.status, 400);
    assert.equal(typeof ((await bad.json()) as { error: string }).error, 'string');
    const empty = await post(`${s.url}/api/chat`, '');
    assert.deepEqual(await empty.json(), { error: 'missing request body' });
    const oaBad = await post(`${s.url}/v1/chat/completions`, 'nope');
    assert.equal(((await oaBad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    const big = { ...CHAT, messages: [{ role: 'user', content: 'x'.repeat(5000) }] };
    for (const [path, check] of [
      ['/api/chat', (b: unknown) => assert.match((b as { error: string }).error, /larger than/)],
      ['/v1/chat/completions', (b: unknown) => assert.equal((b as { error: { code: string } }).error.code, 'body_too_large')],
      ['/v1/messages', (b: unknown) => assert.equal((b as { error: { type: string } }).error.type, 'request_too_large')],
    ] as const) {
      const res = await post(`${s.url}${path}`, big);
      assert.equal(res.status, 413, path);
      check(await res.json());
    }
    // A body that lies about its size (chunked, no content-length) is cut off as well.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${s.url}/api/chat`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"model":"x","pad":"');
      req.write('y'.repeat(4000));
      req.end('"}');
    });
    assert.equal(chunked, 413);
    assert.equal(fake.requests.length, 0, 'nothing reached the upstream');
  });

  test('request heads over 32 KiB are refused with 431', async () => {
    const s = await startServer({ config: testConfig() });
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${s.url}/api/tags`, { headers: { 'x-big': 'x'.repeat(40 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 431);
  });

  test('with tokens: every request without a valid one is 401 in its front end\'s shape', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['ok']));
    const token = 'secret-token-123456';
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }), server: { tokens: [token], tokensSource: 'env' } });
    const none = await post(`${s.url}/api/chat`, { ...CHAT, stream: false });
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { error: string }).error, /token/);
    const wrong = await post(`${s.url}/v1/chat/completions`, CHAT, { authorization: 'Bearer secret-token-12345X' });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: { type: string } }).error.type, 'authentication_error');
    const an = await post(`${s.url}/v1/messages`, { ...CHAT, max_tokens: 5 });
    assert.deepEqual(((await an.json()) as { error: { type: string } }).error.type, 'authentication_error');
    assert.equal((await fetch(`${s.url}/api/tags`)).status, 401);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'liveness needs no token');
    const ok = await post(`${s.url}/api/chat`, { ...CHAT, stream: false }, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    const key = await post(`${s.url}/v1/messages`, { ...CHAT, max_tokens: 5 }, { 'x-api-key': token });
    assert.equal(key.status, 200, 'the Anthropic SDK sends x-api-key');
    assert.equal(fake.requestsTo('/api/chat').length, 2);
  });

  test('off loopback the server refuses to start without tokens', async () => {
    const gateway = new ServerGateway(new Gateway({ config: testConfig() }), silentLogger);
    const server = new OmegaServer({ gateway, config: { ...parseServerSection(undefined, { env: {} }), listen: { host: '0.0.0.0', port: 0 } }, logger: silentLogger });
    await assert.rejects(server.listen(), /Refusing to listen on 0\.0\.0\.0[^;]*without tokens; set OMEGA_SERVER_TOKENS/);
    await gateway.close();
  });

  test('CORS is off by default and follows the allow-list; a foreign Host is refused', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    const plain = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const res = await fetch(`${plain.url}/healthz`, { headers: { origin: 'http://evil.example' } });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${plain.url}/api/chat`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 403);
    const cors = await startServer({ config: testConfig({ ollamaUrl: fake.url }), server: { corsOrigins: ['http://localhost:3000'] } });
    const ok = await fetch(`${cors.url}/api/chat`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    const rebinding = await new Promise<number>((resolve, reject) => {
      http.get(`${plain.url}/api/tags`, { headers: { host: 'attacker.example:11435' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(rebinding, 403);
  });

  test('/metrics counts requests, errors, tokens and in-flight; /readyz reflects the providers', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', chatText(['x']));
    fake.route('GET', '/api/tags', { body: { models: [] } });
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    await (await post(`${s.url}/api/chat`, CHAT)).text();
    await (await post(`${s.url}/api/chat`, '{')).text();
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /omega_server_requests_total\{front_end="ollama",provider="ollama",model="llama3",status="200"\} 1/);
    assert.match(text, /omega_server_errors_total\{front_end="ollama",code="invalid_json"\} 1/);
    assert.match(text, /omega_server_tokens_total\{direction="out",provider="ollama",model="llama3"\} 20/);
    assert.match(text, /omega_server_time_to_first_byte_seconds_count\{front_end="ollama"\} 2/);
    assert.match(text, /omega_server_in_flight_requests\{front_end="meta"\} 1/);
    const ready = await fetch(`${s.url}/readyz`);
    assert.equal(ready.status, 200);
    const down = await startServer({ config: testConfig({ ollamaUrl: 'http://127.0.0.1:9' }) });
    const notReady = await fetch(`${down.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: 'unavailable', providers: { ollama: false } });
  });

  test('shutdown lets an in-flight stream finish, refuses new work, then cancels what outlives the drain', async (t) => {
    const fake = await withFake();
    t.after(() => fake.close());
    fake.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('a')) }, { delay: 300 }, { write: ndjson(chatLine('b'), doneLine()) }] });
    const s = await startServer({ config: testConfig({ ollamaUrl: fake.url }) });
    const res = await post(`${s.url}/api/chat`, CHAT);
    const body = res.text();
    await fake.waitFor(() => fake.requests.length === 1);
    const stopped = s.server.shutdown(5000);
    const text = await body;
    assert.match(text, /"done":true/, 'the stream finished');
    await stopped;
    await assert.rejects(fetch(`${s.url}/healthz`));

    const fake2 = await withFake();
    t.after(() => fake2.close());
    fake2.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('a')) }, { hang: true }] });
    const s2 = await startServer({ config: testConfig({ ollamaUrl: fake2.url }) });
    const res2 = await post(`${s2.url}/api/chat`, CHAT);
    const body2 = res2.text();
    await fake2.waitFor(() => fake2.requests.length === 1);
    const t0 = performance.now();
    await s2.server.shutdown(100);
    assert.ok(performance.now() - t0 < 3000);
    const text2 = await body2.catch(() => '');
    assert.doesNotMatch(text2, /"done":true/);
    await fake2.waitFor(() => fake2.requests[0]!.closedEarly, 2000, 'the upstream to be cancelled');
  });
});
