import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/providers/ollama/index.js';
import { ProviderError } from '../../../src/core/errors.js';
import type { ProviderErrorCode } from '../../../src/core/errors.js';
import { FakeOllama, chatLine, ndjson, unusedPort } from '../../support/fake-ollama.js';

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

function provider(extra: ConstructorParameters<typeof OllamaProvider>[0] = {}): OllamaProvider {
  return new OllamaProvider({ baseUrl: fake.url, env: {}, ...extra });
}

const MSG = { messages: [{ role: 'user' as const, content: 'hi' }] };

function expectError(code: ProviderErrorCode, check?: (e: ProviderError) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.provider, 'ollama');
    check?.(e);
    return true;
  };
}

test('connection refused: unavailable with the promised text, at once', async () => {
  const port = await unusedPort();
  // Refused must not wait for the connect limit.
  const p = new OllamaProvider({ baseUrl: `http://127.0.0.1:${port}`, env: {}, timeouts: { connectMs: 20_000 } });
  const start = Date.now();
  await assert.rejects(
    p.chat(MSG),
    expectError('unavailable', (e) => {
      assert.equal(e.message, `Ollama not running at http://127.0.0.1:${port}. Start it with \`ollama serve\`.`);
      assert.equal(e.retryable, true);
    }),
  );
  assert.ok(Date.now() - start < 10_000);
  // Every method maps it the same way.
  await assert.rejects(p.listModels(), expectError('unavailable'));
  await assert.rejects(p.version(), expectError('unavailable'));
  await assert.rejects(p.embed('m', 'x'), expectError('unavailable'));
  await assert.rejects(p.complete({ systemPrompt: '', history: [], currentMessage: 'x' }), expectError('unavailable'));
  await p.close();
});

test('when OLLAMA_HOST chose the address, the message says so', async () => {
  const port = await unusedPort();
  const p = new OllamaProvider({ env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
  await assert.rejects(
    p.chat(MSG),
    expectError('unavailable', (e) => {
      assert.match(e.message, new RegExp(`^Ollama not running at http://127\\.0\\.0\\.1:${port}\\. Start it with \`ollama serve\``));
      assert.match(e.message, /OLLAMA_HOST/);
    }),
  );
  await p.close();
});

test('DNS failure is unavailable too', async () => {
  const p = new OllamaProvider({ baseUrl: 'http://no-such-host.invalid:11434', env: {} });
  await assert.rejects(
    p.chat(MSG),
    expectError('unavailable', (e) => {
      // Defect 3: a name that does not resolve is not "Ollama not running"; the message says so and names base_url.
      assert.match(e.message, /^The host name 'no-such-host\.invalid' in http:\/\/no-such-host\.invalid:11434 could not be resolved/);
      assert.match(e.message, /provider\.ollama\.base_url/);
      assert.doesNotMatch(e.message, /not running|ollama serve/);
      assert.equal(e.baseUrlSource, 'config');
    }),
  );
  await p.close();
});

test('a host name from OLLAMA_HOST that does not resolve names OLLAMA_HOST', async () => {
  const p = new OllamaProvider({ env: { OLLAMA_HOST: 'no-such-host.invalid:11434' } });
  await assert.rejects(
    p.chat(MSG),
    expectError('unavailable', (e) => {
      assert.match(e.message, /could not be resolved.*correct OLLAMA_HOST/);
      assert.doesNotMatch(e.message, /not running|ollama serve/);
      assert.equal(e.baseUrlSource, 'env');
    }),
  );
  await p.close();
});

test('the same runner failure gets the same advice after a 200 as in an HTTP 500', async () => {
  const text = 'llama runner process has terminated: exit status 2';
  fake.once('POST', '/api/chat', { status: 500, body: { error: text } });
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('Once')) }, { write: ndjson({ error: text }) }] });
  const p = provider();
  await assert.rejects(p.chat(MSG), expectError('server_error', (e) => assert.match(e.message, /see the Ollama server log/)));
  await assert.rejects(
    (async () => {
      for await (const _ of p.chatStream(MSG)) void _;
    })(),
    expectError('server_error', (e) => {
      // Defect 2: the mid-response failure had no next step.
      assert.match(e.message, /^Ollama failed mid-response .*llama runner process has terminated.*; see the Ollama server log for details\.$/);
      assert.equal(e.partialText, 'Once');
    }),
  );
  await p.close();
});

test('errors carry the request as fields, so nobody parses a message', async () => {
  fake.once('POST', '/api/chat', { status: 404, body: { error: "model 'nope' not found" } });
  const p = provider();
  await assert.rejects(
    p.chat({ ...MSG, model: 'nope' }),
    expectError('model_not_found', (e) => {
      assert.equal(e.model, 'nope');
      assert.equal(e.baseUrl, fake.url);
      assert.equal(e.endpoint, 'POST /api/chat');
      assert.equal(e.baseUrlSource, 'config');
    }),
  );
  await p.close();
  const port = await unusedPort();
  const down = new OllamaProvider({ env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
  await assert.rejects(
    down.chat(MSG),
    expectError('unavailable', (e) => {
      assert.equal(e.baseUrl, `http://127.0.0.1:${port}`);
      assert.equal(e.baseUrlSource, 'env');
      assert.equal(e.model, down.model);
    }),
  );
  await down.close();
});

test('model not found: both of Ollama\'s wordings give the promised text', async () => {
  fake.once('POST', '/api/chat', { status: 404, body: { error: 'model "nope" not found, try pulling it first' } });
  fake.once('POST', '/api/chat', { status: 404, body: { error: "model 'nope' not found" } });
  fake.once('POST', '/api/embed', { status: 404, body: { error: 'model "nope" not found, try pulling it first' } });
  fake.once('POST', '/api/show', { status: 404, body: { error: "model 'nope' not found" } });
  const p = provider();
  const check = expectError('model_not_found', (e) => {
    assert.equal(e.message, "Model 'nope' not installed. Run `ollama pull nope`.");
    assert.equal(e.status, 404);
    assert.equal(e.retryable, false);
  });
  await assert.rejects(p.chat({ ...MSG, model: 'nope' }), check);
  await assert.rejects(collectAll(p.chatStream({ ...MSG, model: 'nope' })), check);
  await assert.rejects(p.embed('nope', 'text'), check);
  await assert.rejects(p.show('nope'), check);
  await p.close();
});

test('400 "does not support tools|thinking|chat" is unsupported', async () => {
  const texts = [
    ['registry.ollama.ai/library/llama2:latest does not support tools', 'tools'],
    ['registry.ollama.ai/library/test:latest does not support thinking', 'thinking'],
    ['"bert" does not support chat', 'chat'],
  ];
  const p = provider();
  for (const [text, what] of texts) {
    fake.once('POST', '/api/chat', { status: 400, body: { error: text } });
    await assert.rejects(
      p.chat({ ...MSG, model: 'm1' }),
      expectError('unsupported', (e) => {
        assert.match(e.message, new RegExp(`^Model 'm1' does not support ${what}`));
        assert.equal(e.providerMessage, text);
        assert.equal(e.retryable, false);
      }),
    );
  }
  await p.close();
});

test('a thinking level on an Ollama that takes only booleans is unsupported, with advice', async () => {
  fake.once('POST', '/api/chat', {
    status: 400,
    body: { error: 'json: cannot unmarshal string into Go struct field ChatRequest.think of type bool' },
  });
  const p = provider();
  await assert.rejects(
    p.chat({ ...MSG, think: 'high' }),
    expectError('unsupported', (e) => assert.match(e.message, /upgrade Ollama/)),
  );
  await p.close();
});

test('other 400s are bad_request with Ollama\'s text', async () => {
  fake.once('POST', '/api/chat', { status: 400, body: { error: 'illegal base64 data at input byte 4' } });
  const p = provider();
  await assert.rejects(
    p.chat(MSG),
    expectError('bad_request', (e) => {
      assert.equal(e.message, 'Ollama rejected the request: illegal base64 data at input byte 4.');
      assert.equal(e.status, 400);
      assert.equal(e.retryable, false);
    }),
  );
  await p.close();
});

test('503 is busy and retryable', async () => {
  fake.once('POST', '/api/chat', {
    status: 503,
    body: { error: 'server busy, please try again.  maximum pending requests exceeded' },
  });
  const p = provider();
  await assert.rejects(
    p.chat(MSG),
    expectError('busy', (e) => {
      assert.equal(e.retryable, true);
      assert.match(e.message, /maximum pending requests exceeded/);
    }),
  );
  await p.close();
});

test('500 is server_error with Ollama\'s text', async () => {
  const text = 'model requires more system memory (8.0 GiB) than is available (2.0 GiB)';
  fake.once('POST', '/api/chat', { status: 500, body: { error: text } });
  const p = provider();
  await assert.rejects(
    p.chat(MSG),
    expectError('server_error', (e) => {
      assert.ok(e.message.includes(text));
      assert.equal(e.providerMessage, text);
      assert.equal(e.status, 500);
    }),
  );
  await p.close();
});

test('text/plain router 404 and 405 give a readable message with the status', async () => {
  const p = provider();
  // Nothing is routed at /api/version here: the fake answers like gin.
  await assert.rejects(
    p.version(),
    expectError('protocol', (e) => {
      assert.match(e.message, /HTTP 404: 404 page not found/);
      assert.match(e.message, /GET \/api\/version/);
    }),
  );
  fake.once('GET', '/api/ps', { status: 405, headers: { 'content-type': 'text/plain' }, body: '405 method not allowed' });
  await assert.rejects(p.ps(), expectError('protocol', (e) => assert.match(e.message, /HTTP 405: 405 method not allowed/)));
  await p.close();
});

test("a proxy's HTML 502 page is summarised by its title", async () => {
  fake.once('POST', '/api/chat', {
    status: 502,
    headers: { 'content-type': 'text/html' },
    body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>',
  });
  const p = provider();
  await assert.rejects(
    p.chat(MSG),
    expectError('unavailable', (e) => {
      assert.match(e.message, /HTTP 502: 502 Bad Gateway/);
      assert.doesNotMatch(e.message, /<html>/);
    }),
  );
  await p.close();
});

test('403 with an empty body (Host/Origin check) is auth', async () => {
  fake.once('GET', '/api/tags', { status: 403, body: '' });
  const p = provider();
  await assert.rejects(p.listModels(), expectError('auth', (e) => assert.match(e.message, /HTTP 403/)));
  await p.close();
});

test('429 is rate_limited with Retry-After', async () => {
  fake.once('POST', '/api/chat', { status: 429, headers: { 'retry-after': '3' }, body: { error: 'slow down' } });
  const p = provider();
  await assert.rejects(p.chat(MSG), expectError('rate_limited', (e) => assert.equal(e.retryAfterMs, 3000)));
  await p.close();
});

test('malformed JSON is protocol', async () => {
  fake.once('GET', '/api/tags', { headers: { 'content-type': 'application/json' }, body: '{"models": [' });
  fake.once('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('ok')) + '{not json}\n' }] });
  fake.once('GET', '/api/version', { body: 'Ollama is running' });
  fake.once('POST', '/api/chat', { body: '<html>not json</html>' });
  const p = provider();
  await assert.rejects(p.listModels(), expectError('protocol', (e) => assert.match(e.message, /malformed JSON/)));
  await assert.rejects(
    collectAll(p.chatStream(MSG)),
    expectError('protocol', (e) => {
      assert.equal(e.partialText, 'ok');
      assert.equal(e.retryable, false);
    }),
  );
  await assert.rejects(p.version(), expectError('protocol'));
  await assert.rejects(p.chat(MSG), expectError('protocol'));
  await p.close();
});

test('a 200 with an error object outside a stream is still an error', async () => {
  fake.once('POST', '/api/embed', { body: { error: 'this model does not support embeddings' } });
  const p = provider();
  await assert.rejects(p.embed('m', 'x'), expectError('unsupported'));
  await p.close();
});

test('pull: an {"error"} line is a ProviderError with a clear message', async () => {
  fake.once('POST', '/api/pull', {
    steps: [{ write: ndjson({ status: 'pulling manifest' }, { error: 'pull model manifest: file does not exist' }) }],
  });
  fake.once('POST', '/api/pull', {
    steps: [
      {
        write: ndjson(
          { status: 'pulling manifest' },
          {
            error:
              'pull model manifest: Get "https://registry.ollama.ai/v2/library/llama3/manifests/latest": dial tcp: lookup registry.ollama.ai: no such host',
          },
        ),
      },
    ],
  });
  fake.once('POST', '/api/pull', { status: 400, body: { error: 'invalid model name' } });
  const p = provider();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const ev of p.pull('nosuchmodel')) seen.push(ev.status);
    })(),
    expectError('model_not_found', (e) => {
      assert.match(e.message, /'nosuchmodel' does not exist in the registry/);
      assert.equal(e.providerMessage, 'pull model manifest: file does not exist');
    }),
  );
  assert.deepEqual(seen, ['pulling manifest']);
  await assert.rejects(
    collectAll(p.pull('llama3')),
    expectError('unavailable', (e) => assert.match(e.message, /could not reach the model registry/)),
  );
  await assert.rejects(
    collectAll(p.pull('bad//name')),
    expectError('bad_request', (e) => assert.match(e.message, /not a valid model name/)),
  );
  await p.close();
});

async function collectAll<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
