/**
 * The end-to-end figure: a real `ollama serve` with the project's generated tiny model
 * (started by the integration-test harness), tokens per second through `OllamaProvider`
 * against a raw HTTP loop, alternating, with the same seed and `num_predict`.
 */
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { MESSAGES, loadOmega, rawStream } from './clients.js';
import type * as Harness from '../test/support/ollama-harness.js';
import { median, rotate, summarize } from './stats.js';
import type { ChatChunk } from '../src/core/types.js';
import type { Summary } from './stats.js';

/** One client's figure against the real server. */
export interface RealClientFigure {
  samples: number[];
  summary: Summary;
  ratio: number;
  /** The distinct generated-token counts seen (one value when every run generated the same). */
  tokens: number[];
  /** Median of (client wall time − the server's total_duration), in ms: what the client and the loopback added. */
  overheadMs: number;
  /** Median of the server's eval rate (eval_count / eval_duration) during this client's runs. */
  serverTokensPerSec: number;
}

/** The real-Ollama section of the report. */
export interface RealResult {
  ollamaVersion: string;
  model: string;
  numPredict: number;
  seed: number;
  warmup: number;
  runs: number;
  clients: { raw: RealClientFigure; omega: RealClientFigure };
  /** Whether both clients produced the identical text in every run. */
  sameText: boolean;
}

/** One measured call. */
interface RealRun {
  tps: number;
  text: string;
  tokens: number;
  overheadMs: number;
  serverTps: number;
}

const SEED = 42;

/** Starts the harness's Ollama, measures, and always stops it. */
export async function runReal(
  cfg: { numPredict: number; warmup: number; runs: number },
  omegaUrl: string,
  progress: (msg: string) => void,
): Promise<RealResult> {
  // Loaded only when this part runs: it pulls in the Ollama build script and node:test hooks.
  const harness = (await import(new URL('../test/support/ollama-harness.js', import.meta.url).href)) as typeof Harness;
  const server = await harness.startOllama({ log: (line) => progress(`real Ollama: ${line}`) });
  const model = server.models.plain;
  const agent = new Agent();
  let provider: InstanceType<Awaited<ReturnType<typeof loadOmega>>['OllamaProvider']> | undefined;
  try {
    const { OllamaProvider } = await loadOmega(omegaUrl);
    const omega = new OllamaProvider({ baseUrl: server.url, model });
    provider = omega;
    const ollamaVersion = await omega.version();
    const options = { seed: SEED, temperature: 0, num_predict: cfg.numPredict };
    const runsOf = { raw: [] as RealRun[], omega: [] as RealRun[] };
    let sameText = true;

    const runRaw = async (): Promise<RealRun> => {
      const r = await rawStream(agent, server.url, model, { body: { options }, keepText: true });
      const evalCount = Number(r.last?.eval_count ?? 0);
      const evalNs = Number(r.last?.eval_duration ?? 0);
      const totalNs = Number(r.last?.total_duration ?? 0);
      return {
        tps: evalCount / (r.totalMs / 1000),
        text: r.text ?? '',
        tokens: evalCount,
        overheadMs: r.totalMs - totalNs / 1e6,
        serverTps: evalNs > 0 ? evalCount / (evalNs / 1e9) : Number.NaN,
      };
    };
    const runOmega = async (): Promise<RealRun> => {
      const t0 = performance.now();
      let text = '';
      let last: ChatChunk | undefined;
      for await (const chunk of omega.chatStream({ model, messages: MESSAGES, options })) {
        text += chunk.content;
        if (chunk.done) last = chunk;
      }
      const ms = performance.now() - t0;
      const count = last?.usage?.completionTokens ?? 0;
      return {
        tps: count / (ms / 1000),
        text,
        tokens: count,
        overheadMs: ms - (last?.timings?.totalMs ?? Number.NaN),
        serverTps: last?.timings?.tokensPerSecond ?? Number.NaN,
      };
    };

    for (let round = 0; round < cfg.warmup + cfg.runs; round++) {
      const counted = round >= cfg.warmup;
      progress(`real Ollama: ${counted ? `run ${round - cfg.warmup + 1}/${cfg.runs}` : `warm-up ${round + 1}/${cfg.warmup}`}`);
      const texts: string[] = [];
      for (const name of rotate(['raw', 'omega'] as const, round)) {
        const r = name === 'raw' ? await runRaw() : await runOmega();
        texts.push(r.text);
        if (counted) runsOf[name].push(r);
      }
      if (counted && texts[0] !== texts[1]) sameText = false;
    }
    const rawMedian = median(runsOf.raw.map((r) => r.tps));
    const fig = (name: 'raw' | 'omega'): RealClientFigure => {
      const rs = runsOf[name];
      const summary = summarize(rs.map((r) => r.tps));
      return {
        samples: rs.map((r) => Math.round(r.tps)),
        summary,
        ratio: summary.median / rawMedian,
        tokens: [...new Set(rs.map((r) => r.tokens))],
        overheadMs: median(rs.map((r) => r.overheadMs)),
        serverTokensPerSec: median(rs.map((r) => r.serverTps)),
      };
    };
    return {
      ollamaVersion,
      model,
      numPredict: cfg.numPredict,
      seed: SEED,
      warmup: cfg.warmup,
      runs: cfg.runs,
      clients: { raw: fig('raw'), omega: fig('omega') },
      sameText,
    };
  } finally {
    await agent.close();
    await provider?.close();
    await server.stop();
  }
}
