/**
 * The "gateways" section of `npm run bench`: the same synthetic server reached directly, through
 * `omega serve`, through LiteLLM's proxy and through Portkey's gateway, measured side by side in
 * one run by one client process (bench/gw-worker.ts) with the same calls: streamed chunks/s,
 * the time to first chunk each gateway adds, non-streamed req/s at concurrency 32, and the
 * gateway's resident memory with 1000 streams open. Ratios are against the direct row that speaks
 * the same protocol to the client, taken in the same run. See docs/benchmarks.md.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { message, startIpcWorker } from './ipc.js';
import type { IpcWorker } from './ipc.js';
import type { GatewayCall, GatewayTarget, LoadResult, ManyResult } from './gw-client.js';
import type { GwReply, GwRequest } from './gw-worker.js';
import { startLitellm, startOmega, startPortkey, tempDir, treeCpuMs, treeRss } from './peers.js';
import type { RunningGateway, StartedGateway, Unavailable } from './peers.js';
import type { BenchServer } from './spawn.js';
import { fmt, median, mib, pushTo, range, rotate, summarize } from './stats.js';
import type { ReportBlock, Summary } from './stats.js';
import { expectedText } from './synthetic.js';

/** How much of each figure to take. */
export interface GatewayConfig {
  /**
   * Streamed: `chunks` per call; warm-up calls until `warmupMs` has passed (at least one); `runs`
   * counted, except that a row stops after 3 once its counted calls have taken `rowBudgetMs`
   * (a gateway a thousand times slower than direct would otherwise take the whole run).
   */
  stream: { chunks: number; warmupMs: number; runs: number; rowBudgetMs: number };
  /** Added time to first chunk: `pairs` of (direct, gateway) calls after `warmup` pairs. */
  ttfb: { tokens: number; warmup: number; pairs: number };
  /** Non-streamed: runs of `durationMs` (or `maxRequests`) at `concurrency`, after one warm-up run of `warmupMs`. */
  single: { tokens: number; concurrency: number; durationMs: number; warmupMs: number; maxRequests: number; runs: number };
  /** Memory: `streams` slow streams at once, one chunk every `intervalMs`, `chunks` each. */
  memory: { streams: number; intervalMs: number; chunks: number };
}

/** The rows, in table order. */
export const ROWS = ['direct-ollama', 'direct-openai', 'omega-ollama', 'omega-openai', 'litellm', 'portkey'] as const;
export type RowName = (typeof ROWS)[number];

/** One row's figures; a figure that could not be taken has `error` instead. */
export interface GatewayRow {
  label: string;
  /** Exactly what the row measures: client protocol, and what the gateway sends upstream. */
  path: string;
  /** The direct row the ratios are taken against (the same protocol to the client). */
  baseline?: RowName;
  version?: string;
  /** Why there is no figure at all for this row. */
  unavailable?: string;
  stream?: {
    samples: number[];
    summary: Summary;
    ratio: number;
    /** Gateway CPU ms per 1000 chunks (median over runs), from /proc. */
    gatewayCpuMsPer1k?: number;
    countsOk: boolean;
    error?: string;
  };
  ttfb?: {
    /** This row's own time to first chunk (ms). */
    firstMs: Summary;
    /** Per pair: this row minus its direct baseline (ms); median, min, max. */
    addedMs?: Summary;
    /** The same for the time to response headers (ms). */
    addedHeadersMs?: number;
    error?: string;
  };
  single?: {
    samples: number[];
    summary: Summary;
    ratio: number;
    /** Gateway CPU ms per request (median over runs). */
    gatewayCpuMsPerReq?: number;
    /** What the synthetic server was asked for during these runs: a gateway may stream upstream to answer a non-streamed call. */
    upstream: 'stream:false' | 'stream:true' | 'mixed' | 'none';
    ok: number;
    bad: number;
    failed: number;
    error?: string;
  };
  memory?: {
    /** Gateway RSS (process tree) before the streams, bytes. */
    idleRss: number;
    /** Highest gateway RSS sampled while they ran, bytes. */
    peakRss: number;
    streams: number;
    complete: number;
    /** The most streams that were receiving chunks at one time. */
    peakOpen: number;
    ms: number;
    error?: string;
  };
}

/** The section as written to latest.json. */
export interface GatewaySection {
  config: GatewayConfig;
  rows: Partial<Record<RowName, GatewayRow>>;
  /** Requests the synthetic server got for paths it does not answer, and the last one. */
  upstreamNotFound: { count: number; last: string };
}

// ---------------------------------------------------------------------------------------------
// The client worker

const WORKER_PATH = fileURLToPath(new URL('./gw-worker.ts', import.meta.url));

type Worker = IpcWorker<GwRequest, GwReply>;

function startWorker(): Promise<Worker> {
  return startIpcWorker<GwRequest, GwReply>(WORKER_PATH, 'gateway client worker');
}

type CallReply = Extract<GwReply, { type: 'call' }>;
type LoadReply = Extract<GwReply, { type: 'load' }>;
type ManyReply = Extract<GwReply, { type: 'many' }>;

// ---------------------------------------------------------------------------------------------
// The section

interface Live {
  name: RowName;
  target: GatewayTarget;
  gateway?: RunningGateway;
}

/** Runs the gateway section against `server`; `errors` collects what the report lists under Problems. */
export async function runGateways(
  cfg: GatewayConfig,
  server: BenchServer,
  errors: string[],
  progress: (msg: string) => void,
  /** The CLI entry of the Omega build to serve from; this checkout's dist/ when absent. */
  omegaMain?: string,
): Promise<GatewaySection> {
  const logDir = tempDir('gateways');
  const upstream = server.url;
  const models = [
    `bench-n${cfg.stream.chunks}`,
    `bench-n${cfg.ttfb.tokens}`,
    `bench-n${cfg.single.tokens}`,
    `slow-i${cfg.memory.intervalMs}-n${cfg.memory.chunks}`,
  ];
  const rows: Partial<Record<RowName, GatewayRow>> = {
    'direct-ollama': { label: 'direct (no gateway)', path: 'client → synthetic server, Ollama `/api/chat` (NDJSON)' },
    'direct-openai': { label: 'direct (no gateway)', path: 'client → synthetic server, OpenAI `/v1/chat/completions` (SSE)' },
    'omega-ollama': { label: 'omega serve', path: 'client → Omega `/api/chat` → upstream `/api/chat`', baseline: 'direct-ollama' },
    'omega-openai': { label: 'omega serve', path: 'client → Omega `/v1/chat/completions` → upstream `/api/chat`', baseline: 'direct-openai' },
    litellm: { label: 'LiteLLM proxy', path: 'client → LiteLLM `/chat/completions` → upstream `/api/chat` (`ollama_chat/`)', baseline: 'direct-openai' },
    portkey: {
      label: 'Portkey gateway',
      path: 'client → Portkey `/v1/chat/completions` → upstream `/v1/chat/completions` (provider `ollama`)',
      baseline: 'direct-openai',
    },
  };
  const live: Live[] = [
    { name: 'direct-ollama', target: { url: `${upstream}/api/chat`, protocol: 'ollama', headers: {} } },
    { name: 'direct-openai', target: { url: `${upstream}/v1/chat/completions`, protocol: 'openai', headers: {} } },
  ];
  const started: RunningGateway[] = [];
  const adopt = (r: StartedGateway | Unavailable, names: { row: RowName; front: 'ollama' | 'openai' }[]): void => {
    if ('unavailable' in r) {
      for (const { row } of names) (rows[row] as GatewayRow).unavailable = r.unavailable;
      errors.push(`gateways: ${names.map((n) => n.row).join(', ')} not available: ${r.unavailable}`);
      return;
    }
    started.push(r.gateway);
    progress(`gateways: ${names[0]?.row ?? ''} up at ${r.gateway.baseUrl}, pid ${r.gateway.pid} (its own process group)`);
    for (const { row, front } of names) {
      const target = r.targets[front];
      (rows[row] as GatewayRow).version = r.gateway.version;
      if (target) live.push({ name: row, target, gateway: r.gateway });
    }
  };

  const worker = await startWorker();
  try {
    progress('gateways: starting omega serve');
    adopt(await startOmega(upstream, logDir, omegaMain), [
      { row: 'omega-ollama', front: 'ollama' },
      { row: 'omega-openai', front: 'openai' },
    ]);
    progress('gateways: starting LiteLLM proxy');
    adopt(await startLitellm(models.map((model) => ({ model, upstream })), logDir, progress), [{ row: 'litellm', front: 'openai' }]);
    progress('gateways: starting Portkey gateway');
    adopt(await startPortkey(upstream, logDir, progress), [{ row: 'portkey', front: 'openai' }]);
    live.sort((a, b) => ROWS.indexOf(a.name) - ROWS.indexOf(b.name));
    progress(`gateways: measuring ${live.map((l) => l.name).join(', ')} (logs in ${logDir})`);

    await streamPhase(cfg, worker, live, rows, errors, progress);
    await ttfbPhase(cfg, worker, live, rows, errors, progress);
    await singlePhase(cfg, worker, server, live, rows, errors, progress);
    await memoryPhase(cfg, worker, live, rows, errors, progress);
  } finally {
    await worker.close();
    await Promise.all(started.map((g) => g.stop()));
  }
  const stats = await server.stats();
  if (stats.notFound > 0) errors.push(`gateways: the synthetic server got ${stats.notFound} requests for paths it does not answer (last: ${stats.lastNotFound})`);
  return { config: cfg, rows, upstreamNotFound: { count: stats.notFound, last: stats.lastNotFound } };
}

async function streamPhase(
  cfg: GatewayConfig,
  worker: Worker,
  live: Live[],
  rows: Partial<Record<RowName, GatewayRow>>,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const { chunks, warmupMs, runs } = cfg.stream;
  const model = `bench-n${chunks}`;
  const wantChars = expectedText(chunks).length;
  const samples = new Map<RowName, number[]>();
  const cpu = new Map<RowName, number[]>();
  const ok = new Map<RowName, boolean>();
  const failed = new Map<RowName, string>();
  const spent = new Map<RowName, number>();
  const one = async (l: Live): Promise<GatewayCall | undefined> => {
    try {
      const r = await worker.call<CallReply>({ type: 'stream', target: l.target, model }, 180_000);
      const good = r.result.chunks === chunks && r.result.chars === wantChars;
      if (!good) errors.push(`gateways streamed ${l.name}: got ${r.result.chunks} chunks / ${r.result.chars} chars, want ${chunks} / ${wantChars}`);
      ok.set(l.name, (ok.get(l.name) ?? true) && good);
      return r.result;
    } catch (err) {
      failed.set(l.name, message(err));
      errors.push(`gateways streamed ${l.name}: ${message(err)}`);
      return undefined;
    }
  };
  for (const l of live) {
    progress(`gateways streamed: warm-up of ${l.name}, ${fmt(warmupMs / 1000, 1)} s of ${fmt(chunks)}-chunk streams`);
    const until = performance.now() + warmupMs;
    do {
      if ((await one(l)) === undefined) break;
    } while (performance.now() < until);
  }
  for (let round = 0; round < runs; round++) {
    progress(`gateways streamed: run ${round + 1}/${runs}`);
    for (const l of rotate(live, round)) {
      if (failed.has(l.name)) continue;
      if (round >= 3 && (spent.get(l.name) ?? 0) > cfg.stream.rowBudgetMs) continue;
      const c0 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
      const r = await one(l);
      if (r === undefined) continue;
      const c1 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
      spent.set(l.name, (spent.get(l.name) ?? 0) + r.totalMs);
      pushTo(samples, l.name, r.chunks / (r.totalMs / 1000));
      if (l.gateway) pushTo(cpu, l.name, ((c1 - c0) / r.chunks) * 1000);
    }
  }
  for (const l of live) {
    const row = rows[l.name] as GatewayRow;
    const xs = samples.get(l.name) ?? [];
    const base = samples.get(row.baseline ?? l.name) ?? [];
    row.stream = { samples: xs.map(Math.round), summary: summarize(xs), ratio: median(xs) / median(base), countsOk: ok.get(l.name) ?? false };
    if (l.gateway) row.stream.gatewayCpuMsPer1k = median(cpu.get(l.name) ?? []);
    const e = failed.get(l.name);
    if (e !== undefined) row.stream.error = e;
  }
}

async function ttfbPhase(
  cfg: GatewayConfig,
  worker: Worker,
  live: Live[],
  rows: Partial<Record<RowName, GatewayRow>>,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const { tokens, warmup, pairs } = cfg.ttfb;
  const model = `bench-n${tokens}`;
  const byName = new Map(live.map((l) => [l.name, l]));
  const own = new Map<RowName, number[]>();
  for (const l of live) {
    const row = rows[l.name] as GatewayRow;
    if (row.baseline === undefined) continue;
    const base = byName.get(row.baseline);
    if (!base) continue;
    progress(`gateways first chunk: ${l.name} against ${base.name}, ${pairs} pairs`);
    const added: number[] = [];
    const addedHeaders: number[] = [];
    try {
      for (let i = 0; i < warmup + pairs; i++) {
        // Alternate which goes first, so neither always meets a connection just used.
        const order = i % 2 === 0 ? [base, l] : [l, base];
        const res = new Map<RowName, GatewayCall>();
        for (const x of order) {
          const r = await worker.call<CallReply>({ type: 'stream', target: x.target, model }, 60_000);
          if (r.result.chunks !== tokens) throw new Error(`${x.name} sent ${r.result.chunks} chunks, want ${tokens}`);
          res.set(x.name, r.result);
        }
        if (i < warmup) continue;
        const g = res.get(l.name) as GatewayCall;
        const b = res.get(base.name) as GatewayCall;
        pushTo(own, l.name, g.firstMs);
        pushTo(own, base.name, b.firstMs);
        added.push(g.firstMs - b.firstMs);
        addedHeaders.push(g.headersMs - b.headersMs);
      }
      row.ttfb = { firstMs: summarize(own.get(l.name) ?? []), addedMs: summarize(added), addedHeadersMs: median(addedHeaders) };
    } catch (err) {
      row.ttfb = { firstMs: summarize(own.get(l.name) ?? []), error: message(err) };
      errors.push(`gateways first chunk ${l.name}: ${message(err)}`);
    }
  }
  for (const l of live) {
    const row = rows[l.name] as GatewayRow;
    if (row.baseline === undefined) row.ttfb = { firstMs: summarize(own.get(l.name) ?? []) };
  }
}

async function singlePhase(
  cfg: GatewayConfig,
  worker: Worker,
  server: BenchServer,
  live: Live[],
  rows: Partial<Record<RowName, GatewayRow>>,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const { tokens, concurrency, durationMs, warmupMs, maxRequests, runs } = cfg.single;
  const model = `bench-n${tokens}`;
  const wantChars = expectedText(tokens).length;
  const samples = new Map<RowName, number[]>();
  const cpu = new Map<RowName, number[]>();
  const totals = new Map<RowName, { ok: number; bad: number; failed: number }>();
  const failed = new Map<RowName, string>();
  const wire = new Map<RowName, { streamed: number; single: number }>();
  const one = async (l: Live, ms: number): Promise<{ r: LoadResult; cpuMs: number } | undefined> => {
    const c0 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
    const before = await server.stats();
    try {
      const rep = await worker.call<LoadReply>(
        { type: 'load', target: l.target, model, durationMs: ms, maxRequests, concurrency, wantChars },
        ms + 120_000,
      );
      const r = rep.result;
      const after = await server.stats();
      const w = wire.get(l.name) ?? { streamed: 0, single: 0 };
      w.streamed += after.streamed - before.streamed;
      w.single += after.single - before.single;
      wire.set(l.name, w);
      const t = totals.get(l.name) ?? { ok: 0, bad: 0, failed: 0 };
      t.ok += r.ok;
      t.bad += r.bad;
      t.failed += r.failed;
      totals.set(l.name, t);
      if (r.bad > 0) errors.push(`gateways non-streamed ${l.name}: ${r.bad} answers with the wrong content length`);
      if (r.failed > 0) {
        errors.push(`gateways non-streamed ${l.name}: ${r.failed} requests failed (${r.firstError ?? ''})`);
        if (r.ok === 0) {
          failed.set(l.name, r.firstError ?? 'every request failed');
          return undefined;
        }
      }
      const c1 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
      return { r, cpuMs: c1 - c0 };
    } catch (err) {
      failed.set(l.name, message(err));
      errors.push(`gateways non-streamed ${l.name}: ${message(err)}`);
      return undefined;
    }
  };
  for (const l of live) {
    progress(`gateways non-streamed: warm-up of ${l.name}`);
    await one(l, warmupMs);
  }
  totals.clear();
  for (let round = 0; round < runs; round++) {
    progress(`gateways non-streamed: run ${round + 1}/${runs}`);
    for (const l of rotate(live, round)) {
      if (failed.has(l.name)) continue;
      const x = await one(l, durationMs);
      if (x === undefined) continue;
      const done = x.r.ok + x.r.bad;
      pushTo(samples, l.name, done / (x.r.ms / 1000));
      if (l.gateway && done > 0) pushTo(cpu, l.name, x.cpuMs / done);
    }
  }
  for (const l of live) {
    const row = rows[l.name] as GatewayRow;
    const xs = samples.get(l.name) ?? [];
    const base = samples.get(row.baseline ?? l.name) ?? [];
    const t = totals.get(l.name) ?? { ok: 0, bad: 0, failed: 0 };
    const w = wire.get(l.name) ?? { streamed: 0, single: 0 };
    const upstream = w.streamed + w.single === 0 ? 'none' : w.streamed === 0 ? 'stream:false' : w.single === 0 ? 'stream:true' : 'mixed';
    row.single = { samples: xs.map(Math.round), summary: summarize(xs), ratio: median(xs) / median(base), upstream, ...t };
    if (l.gateway) row.single.gatewayCpuMsPerReq = median(cpu.get(l.name) ?? []);
    const e = failed.get(l.name);
    if (e !== undefined) row.single.error = e;
  }
}

async function memoryPhase(
  cfg: GatewayConfig,
  worker: Worker,
  live: Live[],
  rows: Partial<Record<RowName, GatewayRow>>,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const { streams, intervalMs, chunks } = cfg.memory;
  const model = `slow-i${intervalMs}-n${chunks}`;
  for (const l of live) {
    const gw = l.gateway;
    if (!gw) continue;
    const row = rows[l.name] as GatewayRow;
    progress(`gateways memory: ${l.name}, ${fmt(streams)} streams of ${chunks} chunks every ${intervalMs} ms`);
    const idleRss = treeRss(gw.pid);
    let peakRss = idleRss;
    const timer = setInterval(() => {
      const v = treeRss(gw.pid);
      if (v > peakRss) peakRss = v;
    }, 50);
    try {
      // The worker's own timeouts (300 s for headers, 120 s between chunks) end it first.
      const budget = 300_000 + chunks * intervalMs * 2 + 180_000;
      const rep = await worker.call<ManyReply>({ type: 'many', target: l.target, model, streams, wantChunks: chunks }, budget);
      const r: ManyResult = rep.result;
      row.memory = { idleRss, peakRss, streams, complete: r.complete, peakOpen: r.peakOpen, ms: r.ms };
      if (r.failed > 0) {
        row.memory.error = `${r.failed} streams failed (${r.firstError ?? ''})`;
        errors.push(`gateways memory ${l.name}: ${row.memory.error}`);
      }
    } catch (err) {
      row.memory = { idleRss, peakRss, streams, complete: 0, peakOpen: 0, ms: Number.NaN, error: message(err) };
      errors.push(`gateways memory ${l.name}: ${message(err)}`);
    } finally {
      clearInterval(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function nameOf(row: GatewayRow): string {
  return row.version ? `${row.label} ${row.version}` : row.label;
}

/** The tables of the gateway section. */
export function gatewayBlocks(g: GatewaySection): ReportBlock[] {
  const c = g.config;
  const main: string[][] = [];
  const detail: string[][] = [];
  for (const name of ROWS) {
    const row = g.rows[name];
    if (!row) continue;
    const who = nameOf(row);
    const front = name === 'direct-ollama' || name === 'omega-ollama' ? 'Ollama' : 'OpenAI';
    if (row.unavailable !== undefined) {
      main.push([who, front, 'not available', '', '', '', '', '', '', '']);
      detail.push([who, front, 'not available', '', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const s = row.stream;
    const t = row.ttfb;
    const n = row.single;
    const m = row.memory;
    // Small ratios get three decimals: a gateway at 0.4 % of direct must not read as 0.00x.
    const vs = (ratio: number | undefined): string =>
      row.baseline === undefined ? '1.00x' : ratio === undefined ? '' : `${fmt(ratio, Math.abs(ratio) < 0.1 ? 3 : 2)}x`;
    main.push([
      who,
      front,
      s ? (s.error ? 'failed' : fmt(s.summary.median)) : '',
      s && !s.error ? vs(s.ratio) : '',
      s && !s.error ? `${range(s.summary)}${s.summary.n < c.stream.runs ? ` (${s.summary.n} runs)` : ''}` : '',
      t ? (t.error ? 'failed' : t.addedMs ? fmt(t.addedMs.median, 3) : '—') : '',
      t?.addedMs ? range(t.addedMs, 3) : '',
      n ? (n.error ? 'failed' : fmt(n.summary.median)) : '',
      n && !n.error ? vs(n.ratio) : '',
      n && !n.error ? range(n.summary) : '',
    ]);
    detail.push([
      who,
      front,
      t && t.firstMs.n > 0 ? fmt(t.firstMs.median, 3) : '—',
      t?.addedHeadersMs !== undefined ? fmt(t.addedHeadersMs, 3) : '—',
      s?.gatewayCpuMsPer1k !== undefined ? fmt(s.gatewayCpuMsPer1k, 1) : '—',
      n?.gatewayCpuMsPerReq !== undefined ? fmt(n.gatewayCpuMsPerReq, 2) : '—',
      n ? n.upstream : '—',
      m ? mib(m.idleRss) : '—',
      m ? mib(m.peakRss) : '—',
      m ? `${m.complete}/${m.streams}` : '—',
      m ? `${m.peakOpen}` : '—',
      m ? fmt(m.ms / 1000, 1) : '—',
      s ? (s.countsOk && (n === undefined || n.bad === 0) ? 'yes' : 'NO') : '',
    ]);
  }
  const paths = ROWS.filter((r) => g.rows[r] !== undefined)
    .map((r) => `${nameOf(g.rows[r] as GatewayRow)}: ${(g.rows[r] as GatewayRow).path}`)
    .join('; ');
  const missing = ROWS.filter((r) => g.rows[r]?.unavailable !== undefined)
    .map((r) => `${r}: ${(g.rows[r] as GatewayRow).unavailable as string}`)
    .join('; ');
  return [
    {
      title:
        `Gateways in front of one synthetic Ollama server: streamed chunks/s (${fmt(c.stream.chunks)} chunks a call, median of ${c.stream.runs}), ` +
        `added time to first chunk (median of ${c.ttfb.pairs} pairs with the direct row), non-streamed req/s at concurrency ${c.single.concurrency} ` +
        `(${fmt(c.single.durationMs / 1000, 1)} s runs, median of ${c.single.runs})`,
      head: ['path', 'client speaks', 'chunks/s', 'vs direct', 'min – max', 'added first-chunk ms', 'min – max', 'req/s @32', 'vs direct', 'min – max'],
      rows: main,
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      note:
        `Ratios and added time are against the direct row speaking the same protocol, in the same run. What each row measures: ${paths}.` +
        (missing ? ` Not available: ${missing}.` : ''),
    },
    {
      title: `Gateways: first chunk, CPU and memory (${fmt(c.memory.streams)} concurrent streams, one chunk every ${c.memory.intervalMs} ms, ${c.memory.chunks} chunks each)`,
      head: [
        'path',
        'client speaks',
        'first chunk ms',
        'added headers ms',
        'gateway CPU ms / 1k chunks',
        'gateway CPU ms / req',
        'non-streamed asks upstream',
        'gateway RSS idle MiB',
        'gateway RSS peak MiB',
        'complete streams',
        'peak streaming at once',
        'seconds',
        'all content',
      ],
      rows: detail,
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'l'],
      note:
        'Gateway RSS and CPU are of the gateway process and its children, read from /proc. "Peak streaming at once" counts streams that had ' +
        'their first chunk and had not ended: below the stream count means the gateway could not keep them all going at once.',
    },
  ];
}
