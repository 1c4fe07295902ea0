/**
 * One process of the embedded-engine benchmark: it loads Omega's EmbeddedProvider (from dist/
 * when built, so the figures are the shipped code's) and answers runs on request over the fork
 * channel. A fresh child per cold sample makes "cold" mean what a user meets: importing
 * node-llama-cpp, starting llama.cpp and loading the model, then reading the prompt.
 */
import { performance } from 'node:perf_hooks';
import { resourceUsage } from 'node:process';
import type { EmbeddedProvider as Provider } from '../src/providers/embedded/index.js';

/** What the parent asks for. */
export interface ChildRequest {
  type: 'run';
  prompt: string;
  numPredict: number;
}

/** One measured answer. */
export interface ChildRun {
  /** Request start to the first text chunk. */
  ttftMs: number;
  /** Generated tokens. */
  tokens: number;
  /** (tokens − 1) over the time from the first to the last token: the decode rate seen by a client. */
  tokensPerSec: number;
  /** The engine's own eval rate (timings.tokensPerSecond). */
  engineTokensPerSec: number;
  text: string;
  /** Resident set size now and its peak so far, in bytes. */
  rss: number;
  maxRss: number;
  /** RSS before the first model load (Node, Omega and node-llama-cpp's JS loaded). */
  rssBeforeLoad: number;
}

const modelsDir = process.env.OMEGA_BENCH_MODELS_DIR ?? '';
const model = process.env.OMEGA_BENCH_MODEL ?? '';
const moduleUrl = process.env.OMEGA_BENCH_EMBEDDED_URL ?? new URL('../src/providers/embedded/index.js', import.meta.url).href;

const { EmbeddedProvider } = (await import(moduleUrl)) as { EmbeddedProvider: typeof Provider };
const provider = new EmbeddedProvider({ modelsDir, keepAliveMs: -1 });
let rssBeforeLoad = process.memoryUsage().rss;
let first = true;

async function run(req: ChildRequest): Promise<ChildRun> {
  if (first) rssBeforeLoad = process.memoryUsage().rss;
  first = false;
  const t0 = performance.now();
  let firstAt: number | undefined;
  let lastAt = t0;
  let text = '';
  let tokens = 0;
  let engine = Number.NaN;
  for await (const chunk of provider.chatStream({
    model,
    messages: [{ role: 'user', content: req.prompt }],
    options: { temperature: 0, seed: 42, num_predict: req.numPredict },
  })) {
    if (chunk.content !== '') {
      firstAt ??= performance.now();
      lastAt = performance.now();
      text += chunk.content;
    }
    if (chunk.done) {
      tokens = chunk.usage?.completionTokens ?? 0;
      engine = chunk.timings?.tokensPerSecond ?? Number.NaN;
    }
  }
  const start = firstAt ?? lastAt;
  return {
    ttftMs: start - t0,
    tokens,
    tokensPerSec: tokens > 1 && lastAt > start ? (tokens - 1) / ((lastAt - start) / 1000) : Number.NaN,
    engineTokensPerSec: engine,
    text,
    rss: process.memoryUsage().rss,
    maxRss: resourceUsage().maxRSS * 1024,
    rssBeforeLoad,
  };
}

process.on('message', (msg: ChildRequest | { type: 'exit' }) => {
  if (msg.type === 'exit') {
    void provider.close().then(() => process.exit(0));
    return;
  }
  run(msg).then(
    (result) => process.send?.({ ok: true, result }),
    (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.send?.({ ready: true });
