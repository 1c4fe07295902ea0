/**
 * The Ollama provider's context rules without a server: version gates, `auto` sizing, the
 * silent-truncation test, capability checks and the overflow message; and the manager that
 * applies them, over a scripted API.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { ChatRequest } from '../../../src/core/types.js';
import {
  CONTEXT_STEP,
  SERVER_DEFAULT_CONTEXT,
  autoContext,
  capabilityError,
  looksTruncated,
  overflowError,
  requiredCapabilities,
  versionAtLeast,
} from '../../../src/providers/ollama/context.js';
import { ContextManager } from '../../../src/providers/ollama/context-manager.js';
import type { ContextApi } from '../../../src/providers/ollama/context-manager.js';
import type { ModelDetails, RunningModel } from '../../../src/providers/ollama/types.js';

describe('Ollama context rules', () => {
  it('knows which versions refuse an oversized prompt', () => {
    assert.equal(versionAtLeast('0.9.6', '0.12.6'), false);
    assert.equal(versionAtLeast('0.12.5', '0.12.6'), false);
    assert.equal(versionAtLeast('0.12.6', '0.12.6'), true);
    assert.equal(versionAtLeast('0.17.4', '0.12.6'), true);
    assert.equal(versionAtLeast('1.0', '0.12.6'), true);
    assert.equal(versionAtLeast('0.13.0-rc1', '0.12.6'), true);
    assert.equal(versionAtLeast('0.0.0', '0.12.6'), false, 'a development build is treated as old');
    assert.equal(versionAtLeast('unknown', '0.12.6'), false);
  });

  it('sizes num_ctx under auto: the server default while it suffices, then grows in steps, never shrinks, never past the limit', () => {
    assert.equal(autoContext(3000, undefined, 32_768), undefined, 'fits the server default: leave it');
    assert.equal(autoContext(5000, undefined, 32_768), 2 * CONTEXT_STEP);
    assert.equal(autoContext(5050 + 1024, undefined, 16_384), 8192, 'the worked example of docs/gateway.md');
    assert.equal(autoContext(5000, 8192, 32_768), 8192, 'fits the current window: keep it');
    assert.equal(autoContext(1000, 8192, 32_768), 8192, 'a short prompt does not shrink it (no reload)');
    assert.equal(autoContext(9000, 8192, 32_768), 12_288);
    assert.equal(autoContext(90_000, 8192, 32_768), 32_768, 'capped');
    assert.equal(autoContext(90_000, 40_000, 32_768), 32_768, 'a window loaded larger than the cap is not kept');
    assert.equal(autoContext(100, 8192, 512), 512, 'nor when the prompt is short');
    assert.equal(autoContext(100, undefined, 512), 512, 'a cap below the server default is honoured');
  });

  it('tells a silently truncated prompt', () => {
    // Ollama 0.9.6's runner keeps exactly num_ctx tokens of a longer prompt.
    assert.equal(looksTruncated({ promptEvalCount: 4096, allocated: 4096, estimate: 6600, calibrated: false }), true);
    assert.equal(looksTruncated({ promptEvalCount: 4096, allocated: 4096, estimate: 4000, calibrated: true }), false, 'our count says it fit');
    assert.equal(looksTruncated({ promptEvalCount: 2100, allocated: 4096, estimate: 6600, calibrated: true }), true, 'messages dropped by the server');
    assert.equal(looksTruncated({ promptEvalCount: 3900, allocated: 4096, estimate: 4300, calibrated: true }), false, 'within the estimate\'s error');
    assert.equal(looksTruncated({ promptEvalCount: 2100, allocated: 4096, estimate: 6600, calibrated: false }), false, 'an uncalibrated guess is not evidence');
    assert.equal(looksTruncated({ promptEvalCount: undefined, allocated: 4096, estimate: 9000, calibrated: true }), false);
  });

  it('names what a request needs and refuses what a model lacks', () => {
    const request: ChatRequest = {
      messages: [{ role: 'user', content: 'look', images: ['AAAA'] }],
      tools: [{ type: 'function', function: { name: 'f' } }],
      think: 'high',
    };
    assert.deepEqual(
      requiredCapabilities(request).map((n) => n.capability),
      ['tools', 'vision', 'thinking'],
    );
    assert.deepEqual(requiredCapabilities({ messages: [{ role: 'user', content: 'x' }], think: false, tools: [] }), []);
    const error = capabilityError('omega-gemma', ['completion'], requiredCapabilities(request));
    assert.ok(error instanceof ProviderError);
    assert.equal(error.code, 'unsupported');
    assert.equal(error.retryable, false);
    assert.equal(
      error.message,
      "Model 'omega-gemma' does not support tools (its capabilities: completion); send the request without tools, or use a model whose `ollama show omega-gemma` lists tools.",
    );
    assert.equal(capabilityError('m', ['completion', 'tools', 'vision', 'thinking'], requiredCapabilities(request)), undefined);
    assert.equal(capabilityError('m', undefined, requiredCapabilities(request)), undefined, 'a server that lists none is not second-guessed');
  });

  it('words context_overflow with the numbers and what to do', () => {
    const server = overflowError({ model: 'omega-gemma', contextLength: 4096, promptTokens: 6600, trained: 32_768, mode: 'server', explicit: false });
    assert.equal(server.code, 'context_overflow');
    assert.equal(server.retryable, false);
    assert.equal(
      server.message,
      "The prompt (about 6,600 tokens) is longer than the 4,096-token context window of 'omega-gemma'; shorten it, or raise options.num_ctx (the model was trained for 32,768), or let the provider size it with context: 'auto'.",
    );
    const capped = overflowError({ model: 'm', contextLength: 8192, promptTokens: 9000, trained: 32_768, mode: 'auto', limit: 8192, explicit: false });
    assert.match(capped.message, /raise maxContext \(now 8,192; the model was trained for 32,768\)/);
    const full = overflowError({ model: 'm', contextLength: 32_768, promptTokens: 40_000, trained: 32_768, mode: 'auto', limit: 32_768, explicit: false });
    assert.match(full.message, /already as large as the model allows\.$/);
  });
});

/** A scripted server API that counts its calls. */
function api(opts: { version?: string; capabilities?: string[]; trained?: number; loaded?: number; digest?: string } = {}) {
  const calls = { version: 0, digests: 0, show: 0, ps: 0 };
  let digest = opts.digest ?? 'sha256:aaa';
  const impl: ContextApi = {
    async version() {
      calls.version++;
      return opts.version ?? '0.17.4';
    },
    async digests() {
      calls.digests++;
      return new Map([['omega-gemma:latest', digest]]);
    },
    async show(model: string): Promise<ModelDetails> {
      calls.show++;
      const d: ModelDetails = { name: model, capabilities: opts.capabilities ?? ['completion'], modelInfo: {} };
      if (opts.trained !== undefined) d.contextWindow = opts.trained;
      return d;
    },
    async ps(): Promise<RunningModel[]> {
      calls.ps++;
      if (opts.loaded === undefined) return [];
      return [{ name: 'omega-gemma:latest', model: 'omega-gemma:latest', sizeBytes: 1, sizeVramBytes: 0, digest, expiresAt: '', contextLength: opts.loaded }];
    },
  };
  return { impl, calls, setDigest: (d: string) => (digest = d) };
}

const words = (n: number): string => 'word '.repeat(n);

describe('ContextManager', () => {
  it('asks the version once and sends truncate: false only to servers that accept it', async () => {
    const fresh = api({ version: '0.17.4' });
    const m = new ContextManager({ api: fresh.impl, logger: silentLogger });
    const a = await m.prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
    const b = await m.prepare({ messages: [{ role: 'user', content: 'hi' }], truncate: true }, 'omega-gemma');
    assert.equal(a.request.truncate, false);
    assert.equal(b.request.truncate, true, 'the caller\'s choice wins');
    assert.equal(fresh.calls.version, 1);
    assert.equal(fresh.calls.show, 0, 'a plain request costs no /api/show');

    const old = api({ version: '0.9.6' });
    const o = await new ContextManager({ api: old.impl, logger: silentLogger }).prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
    assert.equal(o.request.truncate, undefined);
  });

  it('refuses tools to a model without them, from /api/show cached by digest, re-read when the digest changes', async () => {
    const s = api({ capabilities: ['completion'] });
    const m = new ContextManager({ api: s.impl, logger: silentLogger });
    const request: ChatRequest = { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] };
    for (let i = 0; i < 3; i++) {
      await assert.rejects(m.prepare(request, 'omega-gemma'), (e: unknown) => e instanceof ProviderError && e.code === 'unsupported');
    }
    assert.equal(s.calls.show, 1);
    assert.equal(s.calls.digests, 1, 'the digest is trusted for a while');
    const refused = new ProviderError({ provider: 'ollama', code: 'server_error', status: 501, message: 'x', providerMessage: 'this model does not support embeddings' });
    const e = await m.embeddingRefused('omega-gemma', refused);
    assert.equal(e.code, 'unsupported');
    assert.equal(e.status, 501);
    assert.match(e.message, /^Model 'omega-gemma' cannot make embeddings \(its capabilities: completion\)/);
    assert.equal(s.calls.show, 1, 'from the cache');
  });

  it('under auto raises num_ctx for a long prompt, keeps it for shorter ones, and reports the window', async () => {
    const s = api({ trained: 32_768 });
    const m = new ContextManager({ api: s.impl, logger: silentLogger, mode: 'auto', maxContext: 16_384 });
    const short = await m.prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
    assert.equal(short.request.options?.num_ctx, undefined, 'the server default is enough');
    const long = await m.prepare({ messages: [{ role: 'user', content: words(1500) }], promptTokens: 6000 }, 'omega-gemma');
    assert.equal(long.request.options?.num_ctx, 8192);
    assert.equal(long.allocated, 8192);
    const after = await m.prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
    assert.equal(after.request.options?.num_ctx, 8192, 'sticky: no reload back to 4096');
    const huge = await m.prepare({ messages: [{ role: 'user', content: 'x' }], promptTokens: 60_000 }, 'omega-gemma');
    assert.equal(huge.request.options?.num_ctx, 16_384, 'never past max_context');
    assert.deepEqual(await m.windowFor('omega-gemma'), { tokens: 16_384, limit: 16_384, trained: 32_768, source: 'auto' });
    const explicit = await m.prepare({ messages: [{ role: 'user', content: 'x' }], options: { num_ctx: 2048 }, promptTokens: 60_000 }, 'omega-gemma');
    assert.equal(explicit.request.options?.num_ctx, 2048, 'an explicit num_ctx always wins');
  });

  it('starts auto from the window the model is loaded with, so it does not reload it', async () => {
    const s = api({ trained: 32_768, loaded: 8192 });
    const m = new ContextManager({ api: s.impl, logger: silentLogger, mode: 'auto' });
    const p = await m.prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
    assert.equal(p.request.options?.num_ctx, 8192);
  });

  it('reports the window: explicit options, the loaded model, or the server default capped by the trained length', async () => {
    assert.deepEqual(await new ContextManager({ api: api().impl, logger: silentLogger, defaultOptions: { num_ctx: 2048, num_predict: 256 } }).windowFor('omega-gemma'), {
      tokens: 2048,
      limit: 2048,
      source: 'options',
      answerTokens: 256,
    });
    assert.deepEqual(await new ContextManager({ api: api({ loaded: 8192, trained: 32_768 }).impl, logger: silentLogger }).windowFor('omega-gemma'), {
      tokens: 8192,
      limit: 8192,
      trained: 32_768,
      source: 'loaded',
    });
    assert.deepEqual(await new ContextManager({ api: api({ trained: 2048 }).impl, logger: silentLogger }).windowFor('omega-gemma'), {
      tokens: 2048,
      limit: 2048,
      trained: 2048,
      source: 'server-default',
    });
    assert.equal(SERVER_DEFAULT_CONTEXT, 4096);
  });

  it('marks a silently truncated answer on an old server and calibrates from an honest one', async () => {
    const m = new ContextManager({ api: api({ version: '0.9.6' }).impl, logger: silentLogger });
    const long = await m.prepare({ messages: [{ role: 'user', content: words(2000) }], promptTokens: 6600 }, 'omega-gemma');
    assert.equal(m.settle(long, 4096).truncated, true);
    assert.equal(m.estimator.isCalibrated('omega-gemma'), false, 'a cut count teaches nothing');
    const fine = await m.prepare({ messages: [{ role: 'user', content: words(200) }] }, 'omega-gemma');
    assert.equal(m.settle(fine, 208).truncated, false);
    assert.equal(m.estimator.charsPerToken('omega-gemma'), 1000 / 200);
  });

  it('under auto refuses unsent a prompt that surely exceeds the cap on a server that would cut it, and lets a newer server judge', async () => {
    const old = new ContextManager({ api: api({ version: '0.9.6', trained: 32_768 }).impl, logger: silentLogger, mode: 'auto', maxContext: 4096 });
    await assert.rejects(
      old.prepare({ messages: [{ role: 'user', content: 'x' }], promptTokens: 6000 }, 'omega-gemma'),
      (e: unknown) =>
        e instanceof ProviderError &&
        e.code === 'context_overflow' &&
        e.message.startsWith("The prompt (about 6,000 tokens) is longer than the 4,096-token context window of 'omega-gemma'; shorten it, or raise maxContext"),
    );
    const near = await old.prepare({ messages: [{ role: 'user', content: 'x' }], promptTokens: 4500 }, 'omega-gemma');
    assert.equal(near.request.options?.num_ctx, 4096, 'within the uncalibrated margin: sent, and judged afterwards');
    const fresh = new ContextManager({ api: api({ version: '0.17.4', trained: 32_768 }).impl, logger: silentLogger, mode: 'auto', maxContext: 4096 });
    const sent = await fresh.prepare({ messages: [{ role: 'user', content: 'x' }], promptTokens: 6000 }, 'omega-gemma');
    assert.equal(sent.request.options?.num_ctx, 4096);
    assert.equal(sent.request.truncate, false, 'the server refuses it exactly');
  });

  it('asks a server without /api/version once, and an unreachable one again', async () => {
    for (const [code, calls] of [['protocol', 1], ['unavailable', 2]] as const) {
      const s = api();
      let asked = 0;
      s.impl.version = async () => {
        asked++;
        throw new ProviderError({ provider: 'ollama', code, message: 'no version' });
      };
      const m = new ContextManager({ api: s.impl, logger: silentLogger });
      for (let i = 0; i < 2; i++) {
        const p = await m.prepare({ messages: [{ role: 'user', content: 'hi' }] }, 'omega-gemma');
        assert.equal(p.request.truncate, undefined, 'an unknown version gets nothing new');
      }
      assert.equal(asked, calls, code);
    }
  });
});

