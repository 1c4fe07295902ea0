/**
 * The memory-store section of `npm run bench` (`npm run bench -- memory-store`): SQLite vs
 * PostgreSQL as the gateway's memory, at concurrency 1 and 32.
 *
 * - Stored exchanges/s: `saveExchange` (user message, answer and audit row in one transaction)
 *   straight on the store, spread over 64 conversations.
 * - Added latency per request: `Gateway.handle` on a named conversation with an instant
 *   in-process provider, with the store minus without memory; what remains is reading the
 *   history and storing the exchange.
 *
 * PostgreSQL is a throwaway local cluster (test/support/postgres-harness.ts) with its durable
 * defaults (fsync and synchronous_commit on); SQLite is a WAL file with synchronous=NORMAL, as
 * Omega opens it. Each figure is the median of several runs with min–max. Loaded from src/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo, ModelProvider, OutgoingMessage } from '../src/core/types.js';
import { Gateway } from '../src/gateway/gateway.js';
import { PostgresMemory } from '../src/gateway/memory/postgres.js';
import { SqliteStore } from '../src/gateway/memory/sqlite.js';
import type { ExchangeInput, MemoryStore } from '../src/gateway/memory/store.js';
import { defaultConfig } from '../src/config/load.js';
import { createDatabase, startPostgres } from '../test/support/postgres-harness.js';
import type { PostgresServer } from '../test/support/postgres-harness.js';
import { fmt, summarize } from './stats.js';
import type { ReportBlock, Summary } from './stats.js';

/** How much work each measurement does. */
export interface MemoryStoreConfig {
  /** Exchanges stored per run, by concurrency. */
  exchanges: { c1: number; c32: number };
  /** Gateway requests per run, by concurrency. */
  requests: { c1: number; c32: number };
  runs: number;
}

/** One backend at one concurrency. */
export interface MemoryStoreRow {
  backend: 'sqlite' | 'postgres';
  concurrency: number;
  /** Stored exchanges per second. */
  exchangesPerSec: Summary;
  /** Mean time per gateway request with this memory minus without memory, in ms. */
  addedMs: Summary;
}

/** The section's result. */
export interface MemoryStoreSection {
  config: MemoryStoreConfig;
  rows: MemoryStoreRow[];
  /** Mean time per gateway request without memory, by concurrency (the baseline of addedMs). */
  baselineMs: Record<string, Summary>;
  note: string;
}

/** A provider that answers at once, so the request's time is the gateway's and the memory's. */
class InstantProvider implements ModelProvider {
  readonly name = 'ollama';
  readonly requiresApiKey = false;
  readonly model = 'bench-model';

  async complete(): Promise<OutgoingMessage> {
    throw new Error('not used');
  }

  async isAvailable(): Promise<boolean> {
    return true;
  }

  async listModels(): Promise<ModelInfo[]> {
    return [];
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    return {
      message: { role: 'assistant', content: `answer to ${request.messages.length} messages` },
      model: 'bench-model',
      doneReason: 'stop',
      usage: { promptTokens: 40, completionTokens: 8 },
      timings: {},
      processingTimeMs: 0,
    };
  }

  async *chatStream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const r = await this.chat(request);
    yield { content: r.message.content, done: true, model: r.model, doneReason: 'stop', usage: r.usage };
  }

  async close(): Promise<void> {}
}

function exchangeOf(i: number): ExchangeInput {
  const conversationId = `bench-${i % 64}`;
  return {
    conversationId,
    channel: 'bench',
    sender: 'bench',
    user: { role: 'user', content: `question ${i} `.repeat(8) },
    assistant: { role: 'assistant', content: `answer ${i} `.repeat(40) },
    metadata: { providerUsed: 'ollama', model: 'bench-model', processingTimeMs: 3, promptTokens: 40, completionTokens: 8 },
    userTokens: { tokens: 20, source: 'estimate' },
    assistantTokens: { tokens: 8, source: 'server' },
    audit: { channel: 'bench', conversationId, sender: 'bench', provider: 'ollama', model: 'bench-model', outcome: 'ok', durationMs: 3 },
  };
}

/** Runs `total` calls of `fn`, `concurrency` at a time; returns the elapsed milliseconds. */
async function drive(total: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return performance.now() - started;
}

async function gatewayMs(memory: MemoryStore | null, total: number, concurrency: number, round: number): Promise<number> {
  const config = defaultConfig({});
  // A short history keeps the read the same size whatever the run length.
  config.memory.maxContextMessages = 10;
  const gateway = new Gateway({ config, memory, providers: { ollama: new InstantProvider() } });
  const ms = await drive(total, concurrency, (i) =>
    gateway.handle({ channel: 'bench', conversationId: `gw-${round}-${i % 64}`, sender: 'bench', text: `question ${i}` }),
  );
  // The gateway owns the store it was given; closing is the caller's (it is reused).
  return (ms * concurrency) / total;
}

/** Runs the section; `progress` gets one line per measurement. */
export async function runMemoryStore(cfg: MemoryStoreConfig, errors: string[], progress: (line: string) => void): Promise<MemoryStoreSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omega-bench-memstore-'));
  let server: PostgresServer | undefined;
  const rows: MemoryStoreRow[] = [];
  const baselineMs: Record<string, Summary> = {};
  try {
    server = await startPostgres({ durable: true });
    progress(`memory-store: PostgreSQL on ${server.host}:${server.port}`);
    let dbs = 0;
    const open = async (backend: 'sqlite' | 'postgres'): Promise<MemoryStore> =>
      backend === 'sqlite'
        ? SqliteStore.open(join(dir, `bench-${++dbs}.db`))
        : PostgresMemory.open({ url: await createDatabase(server!.url, 'omega_bench'), poolSize: 10 });

    for (const concurrency of [1, 32]) {
      const exchanges = concurrency === 1 ? cfg.exchanges.c1 : cfg.exchanges.c32;
      const requests = concurrency === 1 ? cfg.requests.c1 : cfg.requests.c32;
      const base: number[] = [];
      const rates: Record<string, number[]> = { sqlite: [], postgres: [] };
      const added: Record<string, number[]> = { sqlite: [], postgres: [] };
      for (let run = 0; run < cfg.runs; run++) {
        base.push(await gatewayMs(null, requests, concurrency, run));
        // Alternate which backend goes first, so a slow moment of the machine hits both.
        for (const backend of run % 2 === 0 ? (['sqlite', 'postgres'] as const) : (['postgres', 'sqlite'] as const)) {
          const store = await open(backend);
          try {
            for (let i = 0; i < 20; i++) await store.saveExchange(exchangeOf(i));
            const ms = await drive(exchanges, concurrency, (i) => store.saveExchange(exchangeOf(i)));
            rates[backend]!.push((exchanges / ms) * 1000);
            added[backend]!.push((await gatewayMs(store, requests, concurrency, run)) - (base.at(-1) ?? 0));
          } finally {
            await store.close();
          }
        }
      }
      baselineMs[`c${concurrency}`] = summarize(base);
      for (const backend of ['sqlite', 'postgres'] as const) {
        const row: MemoryStoreRow = { backend, concurrency, exchangesPerSec: summarize(rates[backend]!), addedMs: summarize(added[backend]!) };
        rows.push(row);
        progress(
          `memory-store: ${backend} c=${concurrency}: ${fmt(row.exchangesPerSec.median)} exchanges/s, +${fmt(row.addedMs.median, 3)} ms per request`,
        );
      }
    }
  } catch (error) {
    errors.push(`memory-store: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    config: cfg,
    rows,
    baselineMs,
    note:
      'PostgreSQL: a local throwaway cluster with durable defaults (fsync, synchronous_commit on), pool of 10. SQLite: WAL, synchronous=NORMAL (no fsync per commit). ' +
      'Added latency: mean time per Gateway.handle with the store minus without memory, instant in-process provider, history of up to 10 messages. ' +
      'This section loads Omega from src/ through tsx whatever the report says above.',
  };
}

/** The section as a table block for the bench report. */
export function memoryStoreBlock(s: MemoryStoreSection): ReportBlock {
  const range = (x: Summary, digits: number): string => `${fmt(x.min, digits)}–${fmt(x.max, digits)}`;
  return {
    title: `Memory store: SQLite vs PostgreSQL (${s.config.runs} runs each, median and min–max)`,
    head: ['backend', 'concurrency', 'exchanges/s', 'min–max', 'added ms/request', 'min–max'],
    rows: s.rows.map((r) => [
      r.backend,
      String(r.concurrency),
      fmt(r.exchangesPerSec.median),
      range(r.exchangesPerSec, 0),
      fmt(r.addedMs.median, 3),
      range(r.addedMs, 3),
    ]),
    align: ['l', 'r', 'r', 'r', 'r', 'r'],
    note: s.note,
  };
}
