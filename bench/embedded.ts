/**
 * `npm run bench -- embedded`: the embedded engine (node-llama-cpp in Omega's process) against
 * Ollama itself, on the same model files, prompt, seed and thread count. The real small model is
 * imported into a temp store by a real `ollama create` with `PARAMETER num_thread`, which both
 * engines obey. Warm runs alternate between the two; cold samples unload Ollama's model and
 * start a fresh embedded process. Figures: decode tokens/s as a client sees it, time to first
 * token cold and warm, and resident memory (Ollama's runner process against the embedded
 * process).
 */
import { fork, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type * as Harness from '../test/support/ollama-harness.js';
import type { ChildRequest, ChildRun } from './embedded-child.js';
import { fmt, median, rotate, summarize } from './stats.js';
import type { ReportBlock, Summary } from './stats.js';

/** The section's knobs. */
export interface EmbeddedBenchConfig {
  numPredict: number;
  warmup: number;
  runs: number;
  cold: number;
}

/** One engine's figures. */
export interface EngineFigure {
  /** Decode rate seen by the client: (tokens − 1) / (last token − first token). */
  tokensPerSec: Summary;
  /** The engine's own rate (Ollama's eval_count / eval_duration; the provider's timings). */
  engineTokensPerSec: number;
  ttftWarmMs: Summary;
  ttftColdMs: Summary;
  /** Peak resident memory of the process that holds the model, in bytes (Ollama: its runner). */
  peakRss: number;
  /** The distinct token counts generated. */
  tokens: number[];
}

/** The section's result. */
export interface EmbeddedResult {
  ollamaVersion: string;
  model: string;
  threads: number;
  numPredict: number;
  prompt: string;
  warmup: number;
  runs: number;
  cold: number;
  ollama: EngineFigure;
  embedded: EngineFigure;
  /** median(embedded tokens/s) / median(Ollama tokens/s). */
  ratio: number;
  /** Characters the two greedy answers share from the start, and the longer answer's length. */
  commonPrefix: number;
  answerLength: number;
  /** RSS of the embedded process before its first model load (Node, tsx, Omega, node-llama-cpp's JS). */
  embeddedBaseRss: number;
}

const MODEL = 'omega-bench-embedded';
const PROMPT = 'Write a short story about a lighthouse keeper who finds a message in a bottle.';
const SEED = 42;

interface OllamaRun {
  ttftMs: number;
  tokens: number;
  tokensPerSec: number;
  engineTokensPerSec: number;
  text: string;
}

async function ollamaRun(url: string, numPredict: number): Promise<OllamaRun> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], stream: true, options: { temperature: 0, seed: SEED, num_predict: numPredict } }),
  });
  if (!res.ok || res.body === null) throw new Error(`Ollama answered HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let firstAt: number | undefined;
  let lastAt = t0;
  let text = '';
  let final: { eval_count?: number; eval_duration?: number } = {};
  for await (const part of res.body) {
    buffer += decoder.decode(part as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue;
      const obj = JSON.parse(line) as { message?: { content?: string }; done?: boolean; eval_count?: number; eval_duration?: number; error?: string };
      if (obj.error !== undefined) throw new Error(`Ollama: ${obj.error}`);
      const content = obj.message?.content ?? '';
      if (content !== '') {
        firstAt ??= performance.now();
        lastAt = performance.now();
        text += content;
      }
      if (obj.done === true) final = obj;
    }
  }
  const tokens = final.eval_count ?? 0;
  const start = firstAt ?? lastAt;
  return {
    ttftMs: start - t0,
    tokens,
    tokensPerSec: tokens > 1 && lastAt > start ? (tokens - 1) / ((lastAt - start) / 1000) : Number.NaN,
    engineTokensPerSec: final.eval_duration ? tokens / (final.eval_duration / 1e9) : Number.NaN,
    text,
  };
}

async function unloadOllama(url: string): Promise<void> {
  await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: MODEL, keep_alive: 0 }) }).then((r) => r.text());
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ps = (await (await fetch(`${url}/api/ps`)).json()) as { models: unknown[] };
    if (ps.models.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('Ollama did not unload the model within 30 s');
}

/** Peak RSS (VmHWM) of the Ollama runner that has a blob of `store` open, in bytes. */
function runnerPeakRss(store: string): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('runner') || !cmd.includes(store)) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      if (kb !== undefined) return Number(kb) * 1024;
    } catch {
      // the process ended while being read
    }
  }
  return Number.NaN;
}

/** A running embedded child. */
interface Child {
  process: ChildProcess;
  run(req: ChildRequest): Promise<ChildRun>;
  close(): Promise<void>;
}

async function startChild(env: NodeJS.ProcessEnv): Promise<Child> {
  const child = fork(fileURLToPath(new URL('./embedded-child.ts', import.meta.url)), [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the embedded bench child exited (${code}) before it was ready`)));
  });
  const run = (req: ChildRequest): Promise<ChildRun> =>
    new Promise((resolve, reject) => {
      child.once('message', (msg: { ok: boolean; result?: ChildRun; error?: string }) => (msg.ok && msg.result ? resolve(msg.result) : reject(new Error(msg.error))));
      child.send(req);
    });
  const close = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ type: 'exit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { process: child, run, close };
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Runs the section: starts its own Ollama on a temp store, measures, always stops everything. */
export async function runEmbedded(cfg: EmbeddedBenchConfig, progress: (msg: string) => void, embeddedUrl: string): Promise<EmbeddedResult> {
  const threads = Number(process.env.OMEGA_BENCH_EMBEDDED_THREADS ?? 2);
  const harness = (await import(new URL('../test/support/ollama-harness.js', import.meta.url).href)) as typeof Harness;
  const { ensureGemmaModel } = await import('../scripts/get-model.js');
  const gguf = (await ensureGemmaModel({ log: (line) => progress(`embedded: ${line}`) })).path;
  const dir = mkdtempSync(join(tmpdir(), 'omega-bench-embedded-'));
  const store = join(dir, 'models');
  const server = await harness.startOllama({ createModels: false, env: { OLLAMA_MODELS: store }, log: (line) => progress(`embedded: ${line}`) });
  const children: Child[] = [];
  try {
    writeFileSync(join(dir, 'Modelfile'), `FROM ${gguf}\nPARAMETER num_thread ${threads}\n`);
    const created = spawnSync(server.bin, ['create', MODEL, '-f', join(dir, 'Modelfile')], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, OLLAMA_HOST: server.host },
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (created.status !== 0) throw new Error(`ollama create failed: ${created.stderr}`);
    const ollamaVersion = ((await (await fetch(`${server.url}/api/version`)).json()) as { version: string }).version;
    const childEnv = { ...process.env, OMEGA_BENCH_MODELS_DIR: store, OMEGA_BENCH_MODEL: MODEL, OMEGA_BENCH_EMBEDDED_URL: embeddedUrl };
    const req: ChildRequest = { type: 'run', prompt: PROMPT, numPredict: cfg.numPredict };

    // Cold: a fresh embedded process, and Ollama with its model unloaded.
    const cold = { ollama: [] as number[], embedded: [] as number[] };
    for (let i = 0; i < cfg.cold; i++) {
      for (const name of rotate(['ollama', 'embedded'] as const, i)) {
        progress(`embedded: cold ${i + 1}/${cfg.cold} ${name}`);
        if (name === 'ollama') {
          await unloadOllama(server.url);
          cold.ollama.push((await ollamaRun(server.url, cfg.numPredict)).ttftMs);
        } else {
          const child = await startChild(childEnv);
          try {
            cold.embedded.push((await child.run(req)).ttftMs);
          } finally {
            await child.close();
          }
        }
      }
    }

    // Warm: one long-lived embedded process, alternating with Ollama.
    const child = await startChild(childEnv);
    children.push(child);
    const warm = { ollama: [] as OllamaRun[], embedded: [] as ChildRun[] };
    for (let round = 0; round < cfg.warmup + cfg.runs; round++) {
      const counted = round >= cfg.warmup;
      progress(`embedded: ${counted ? `run ${round - cfg.warmup + 1}/${cfg.runs}` : `warm-up ${round + 1}/${cfg.warmup}`}`);
      for (const name of rotate(['ollama', 'embedded'] as const, round)) {
        if (name === 'ollama') {
          const r = await ollamaRun(server.url, cfg.numPredict);
          if (counted) warm.ollama.push(r);
        } else {
          const r = await child.run(req);
          if (counted) warm.embedded.push(r);
        }
      }
    }
    const lastEmbedded = warm.embedded[warm.embedded.length - 1];
    const ollamaFig: EngineFigure = {
      tokensPerSec: summarize(warm.ollama.map((r) => r.tokensPerSec)),
      engineTokensPerSec: median(warm.ollama.map((r) => r.engineTokensPerSec)),
      ttftWarmMs: summarize(warm.ollama.map((r) => r.ttftMs)),
      ttftColdMs: summarize(cold.ollama),
      peakRss: runnerPeakRss(store),
      tokens: [...new Set(warm.ollama.map((r) => r.tokens))],
    };
    const embeddedFig: EngineFigure = {
      tokensPerSec: summarize(warm.embedded.map((r) => r.tokensPerSec)),
      engineTokensPerSec: median(warm.embedded.map((r) => r.engineTokensPerSec)),
      ttftWarmMs: summarize(warm.embedded.map((r) => r.ttftMs)),
      ttftColdMs: summarize(cold.embedded),
      peakRss: lastEmbedded?.maxRss ?? Number.NaN,
      tokens: [...new Set(warm.embedded.map((r) => r.tokens))],
    };
    const a = warm.ollama[0]?.text ?? '';
    const b = warm.embedded[0]?.text ?? '';
    return {
      ollamaVersion,
      model: `${MODEL} (Gemma 3 270M Q4_K_M)`,
      threads,
      numPredict: cfg.numPredict,
      prompt: PROMPT,
      warmup: cfg.warmup,
      runs: cfg.runs,
      cold: cfg.cold,
      ollama: ollamaFig,
      embedded: embeddedFig,
      ratio: embeddedFig.tokensPerSec.median / ollamaFig.tokensPerSec.median,
      commonPrefix: commonPrefix(a, b),
      answerLength: Math.max(a.length, b.length),
      embeddedBaseRss: lastEmbedded?.rssBeforeLoad ?? Number.NaN,
    };
  } finally {
    for (const c of children) await c.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The section as report blocks. */
export function embeddedBlocks(x: EmbeddedResult): ReportBlock[] {
  const mib = (b: number): string => fmt(b / 2 ** 20, 0);
  const row = (name: 'ollama' | 'embedded'): string[] => {
    const f = x[name];
    return [
      name === 'ollama' ? `Ollama ${x.ollamaVersion}` : 'Omega embedded (node-llama-cpp 3.21.1)',
      fmt(f.tokensPerSec.median, 1),
      `${fmt(f.tokensPerSec.min, 1)} – ${fmt(f.tokensPerSec.max, 1)}`,
      fmt(f.engineTokensPerSec, 1),
      `${fmt(f.ttftColdMs.median)} (${fmt(f.ttftColdMs.min)} – ${fmt(f.ttftColdMs.max)})`,
      `${fmt(f.ttftWarmMs.median)} (${fmt(f.ttftWarmMs.min)} – ${fmt(f.ttftWarmMs.max)})`,
      mib(f.peakRss),
      f.tokens.join('/'),
    ];
  };
  return [
    {
      title: `Embedded engine vs Ollama, ${x.model}, ${x.threads} threads, num_predict ${x.numPredict}, seed 42, temperature 0: median of ${x.runs} alternating warm runs, ${x.cold} cold`,
      head: ['engine', 'tokens/s', 'min – max', 'engine tokens/s', 'TTFT cold ms', 'TTFT warm ms', 'peak RSS MiB', 'tokens'],
      rows: [row('ollama'), row('embedded')],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      note:
        `Embedded vs Ollama tokens/s: ${fmt(x.ratio, 2)}x (goal >= 0.90x). Tokens/s is the decode rate a client sees, (tokens - 1) / (last token - first token). ` +
        `Cold TTFT: Ollama with its model unloaded (runner start and load); embedded in a fresh process (importing node-llama-cpp, starting llama.cpp, loading the model). ` +
        `Peak RSS: Ollama's runner process; the embedded process including Node, tsx and Omega (${mib(x.embeddedBaseRss)} MiB before the model loaded). ` +
        `The greedy answers share their first ${x.commonPrefix} of ${x.answerLength} characters. ` +
        `This Ollama is built from source with -march=x86-64-v3; node-llama-cpp runs its prebuilt linux-x64 binary.`,
    },
  ];
}
