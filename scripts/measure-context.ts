/**
 * Measures, against a running Ollama with a real model, the two numbers the context work
 * depends on: how far the calibrated token estimate is from the server's own count, and what a
 * reload costs when `num_ctx` changes.
 *
 * Usage: node --import tsx scripts/measure-context.ts <base-url> <model> [chunks=8] [chars=600]
 * Text comes from this repository's docs (English prose with code), cut into chunks: the first
 * half calibrates the estimator, the second half is estimated and compared with the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OllamaProvider } from '../src/providers/ollama/index.js';
import { DEFAULT_CHARS_PER_TOKEN } from '../src/core/context-fit.js';
import type { ChatMessage } from '../src/core/types.js';
import { REPO_ROOT, isMain } from './lib/paths.js';

interface Sample {
  estimate: number;
  uncalibrated: number;
  counted: number;
}

/** Runs the measurement and prints one line per step. */
export async function measure(baseUrl: string, model: string, chunks: number, chars: number): Promise<void> {
  const text = ['README.md', 'docs/gateway.md', 'docs/configuration.md']
    .map((f) => readFileSync(join(REPO_ROOT, f), 'utf8'))
    .join('\n');
  const provider = new OllamaProvider({ baseUrl, model, env: {}, options: { num_predict: 1, num_ctx: 4096 } });
  const step = Math.floor(text.length / chunks);
  const pieces = Array.from({ length: chunks }, (_, i) => text.slice(i * step, i * step + chars));
  const estimator = provider.tokenEstimator;
  const samples: Sample[] = [];
  try {
    for (const [i, piece] of pieces.entries()) {
      const messages: ChatMessage[] = [{ role: 'user', content: piece }];
      const estimate = estimator.prompt(messages, model);
      const uncalibrated = Math.ceil(piece.length / DEFAULT_CHARS_PER_TOKEN) + 8;
      const res = await provider.chat({ messages, model });
      const counted = res.usage.promptTokens ?? NaN;
      const phase = i < chunks / 2 ? 'calibrate' : 'test';
      if (phase === 'test') samples.push({ estimate, uncalibrated, counted });
      console.log(
        `${phase} ${i}: ${piece.length} chars, server ${counted} tokens, estimate ${estimate} (${pct(estimate, counted)}), ` +
          `uncalibrated ${uncalibrated} (${pct(uncalibrated, counted)}), now ${estimator.charsPerToken(model).toFixed(2)} chars/token`,
      );
    }
    const err = samples.map((s) => Math.abs(s.estimate - s.counted) / s.counted);
    const raw = samples.map((s) => Math.abs(s.uncalibrated - s.counted) / s.counted);
    console.log(`calibrated: mean |error| ${(100 * mean(err)).toFixed(1)}%, max ${(100 * Math.max(...err)).toFixed(1)}%`);
    console.log(`uncalibrated: mean |error| ${(100 * mean(raw)).toFixed(1)}%, max ${(100 * Math.max(...raw)).toFixed(1)}%`);
    for (const numCtx of [4096, 4096, 8192, 8192, 4096]) {
      const started = performance.now();
      const res = await provider.chat({ messages: [{ role: 'user', content: 'hi' }], model, options: { num_ctx: numCtx } });
      console.log(`num_ctx ${numCtx}: load ${Math.round(res.timings.loadMs ?? 0)} ms, wall ${Math.round(performance.now() - started)} ms`);
    }
  } finally {
    await provider.close();
  }
}

function pct(estimate: number, counted: number): string {
  const d = (100 * (estimate - counted)) / counted;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

if (isMain(import.meta.url)) {
  const [baseUrl, model, chunks = '8', chars = '600'] = process.argv.slice(2);
  if (baseUrl === undefined || model === undefined) {
    console.error('usage: node --import tsx scripts/measure-context.ts <base-url> <model> [chunks] [chars]');
    process.exit(2);
  }
  await measure(baseUrl, model, Number(chunks), Number(chars));
}
