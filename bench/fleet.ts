/**
 * The "fleet" section of `npm run bench` (issue 14): several Ollama hosts behind one Omega.
 *
 * 1. Routing decision cost: the fleet's pure `route()` over synthetic host state, µs per
 *    decision at 3 and at 50 hosts (bench/fleet-route.ts).
 * 2. Overhead through `omega serve` with fast hosts (synthetic servers with no slot limit):
 *    streamed chunks/s of one stream, added time to first chunk against direct, and aggregate
 *    chunks/s of concurrent streams: one host (`base_url`) against a fleet of three.
 * 3. Balance and throughput with paced hosts (one chat at a time each, a chunk every few ms, as
 *    an Ollama with `OLLAMA_NUM_PARALLEL=1`): a streamed load at fixed concurrency through
 *    Omega with one host and with the fleet of three, through LiteLLM's router
 *    (`least-busy`) in front of the same three hosts, and a client that picks a host at random
 *    per request (Open WebUI's way). Requests per host and their coefficient of variation,
 *    req/s, and latency against one chat on an idle host.
 *
 * Every gateway runs in its own process group (bench/peers.ts); the client in its own process
 * (bench/fleet-worker.ts). See docs/benchmarks.md, "Fleet".
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { message, startIpcWorker } from './ipc.js';
import type { IpcWorker } from './ipc.js';
import { measureRouteCost } from './fleet-route.js';
import type { RouteCost } from './fleet-route.js';
import type { FleetReply, FleetRequest, StreamLoadResult } from './fleet-worker.js';
import type { GatewayCall, GatewayTarget } from './gw-client.js';
import { LITELLM_VERSION, startLitellm, startOmegaServe, tempDir, treeCpuMs } from './peers.js';
import type { RunningGateway } from './peers.js';
import { spawnBenchServer } from './spawn.js';
import type { BenchServer } from './spawn.js';
import { fmt, median, pushTo, range, rotate, summarize } from './stats.js';
import type { ReportBlock, Summary } from './stats.js';
import { expectedText } from './synthetic.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** How much of each figure to take. */
export interface FleetConfig {
  /** Routing decisions: `iterations` per run at each host count, `runs` runs. */
  route: { hostCounts: number[]; iterations: number; runs: number };
  /** Fast hosts: one-stream chunks/s, added first chunk, and concurrent streams. */
  fast: {
    chunks: number;
    warmupMs: number;
    runs: number;
    ttfb: { tokens: number; warmup: number; pairs: number };
    concurrent: { chunks: number; streams: number; requests: number; runs: number };
  };
  /**
   * Paced hosts: `requests` streamed chats of `chunks` chunks every `intervalMs`, at each
   * concurrency (`requestsAtOne` at concurrency 1, which measures the idle latency).
   */
  paced: { intervalMs: number; chunks: number; requests: number; requestsAtOne: number; concurrency: number[]; runs: number };
}

/** One row of a table: what it measures, or why it could not be measured. */
export interface FleetRow {
  label: string;
  path: string;
  unavailable?: string;
}

/** Fast-host figures of one row. */
export interface FastRow extends FleetRow {
  stream?: { summary: Summary; ratio: number; gatewayCpuMsPer1k?: number; countsOk: boolean; error?: string };
  ttfb?: { firstMs: Summary; addedMs?: Summary; error?: string };
  concurrent?: { chunksPerSec: Summary; ratio: number; perHost: number[]; error?: string };
}

/** Paced-host figures of one row at one concurrency. */
export interface PacedFigure {
  concurrency: number;
  reqPerSec: Summary;
  /** Per request, ms from sending to the end of the stream: median and p99 over every counted request. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Median latency minus one chat on an idle host (ms). */
  addedMs: number;
  firstChunkMs: { p50: number; p99: number };
  /** Requests each host answered during the counted runs. */
  perHost: number[];
  /** Coefficient of variation of `perHost` (population standard deviation / mean). */
  cv: number;
  ok: number;
  failed: number;
  error?: string;
}

/** Paced-host figures of one row. */
export interface PacedRow extends FleetRow {
  figures: PacedFigure[];
  /** Gateway CPU ms per request over the counted runs (median), when there is a gateway. */
  gatewayCpuMsPerReq?: number;
}

/** The section as written to latest.json. */
export interface FleetSection {
  config: FleetConfig;
  route: RouteCost;
  fast: Record<string, FastRow>;
  /** One chat of the paced model on an idle host, ms: the random row's median at concurrency 1 (straight to idle hosts). */
  pacedIdleMs: number;
  /** The three paced hosts' capacity in req/s: hosts / idle latency. */
  pacedCapacity: number;
  paced: Record<string, PacedRow>;
}

// ---------------------------------------------------------------------------------------------
// The client worker

const WORKER_PATH = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));

type Worker = IpcWorker<FleetRequest, FleetReply>;

function startWorker(): Promise<Worker> {
  return startIpcWorker<FleetRequest, FleetReply>(WORKER_PATH, 'fleet client worker');
}

type CallReply = Extract<FleetReply, { type: 'call' }>;
type LoadReply = Extract<FleetReply, { type: 'streamLoad' }>;

// ---------------------------------------------------------------------------------------------
// Gateways

/** How `omega serve` reaches its Ollama hosts in one row. */
interface OmegaHosts {
  /** One host as `[provider.ollama] base_url`, or a fleet as `[[provider.ollama.hosts]]`. */
  kind: 'base_url' | 'fleet';
  urls: readonly string[];
  /** `max_concurrent` of every fleet host. */
  maxConcurrent?: number;
}

/** The `[provider.ollama]` part of a config for `hosts`. */
export function omegaOllamaToml(hosts: OmegaHosts): string[] {
  if (hosts.kind === 'base_url') return ['[provider.ollama]', `base_url = ${JSON.stringify(hosts.urls[0])}`, ''];
  const lines = ['[provider.ollama]', ''];
  for (const url of hosts.urls) {
    lines.push('[[provider.ollama.hosts]]', `url = ${JSON.stringify(url)}`, 'weight = 1');
    if (hosts.maxConcurrent !== undefined) lines.push(`max_concurrent = ${hosts.maxConcurrent}`);
    lines.push('');
  }
  return lines;
}

/** `omega serve` from `main` with the given hosts; its targets for both front ends. */
async function startOmegaHosts(
  name: string,
  hosts: OmegaHosts,
  logDir: string,
  main: string,
): Promise<{ gateway: RunningGateway; ollama: GatewayTarget; openai: GatewayTarget } | { unavailable: string }> {
  const started = await startOmegaServe(name, omegaOllamaToml(hosts), logDir, main);
  if ('unavailable' in started) return started;
  const { ollama, openai } = started.targets;
  if (ollama === undefined || openai === undefined) return { unavailable: 'omega serve gave no chat endpoints' };
  return { gateway: started.gateway, ollama, openai };
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function servedCounts(hosts: BenchServer[]): Promise<number[]> {
  return Promise.all(hosts.map(async (h) => {
    const s = await h.stats();
    return s.streamed + s.single;
  }));
}

/** Population standard deviation over the mean; 0 for an even spread. */
export function coefficientOfVariation(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  if (mean === 0) return Number.NaN;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
  return Math.sqrt(variance) / mean;
}

/** The q-quantile (0..1) of `xs` by nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

interface Live {
  key: string;
  targets: GatewayTarget[];
  gateway?: RunningGateway;
}

// ---------------------------------------------------------------------------------------------
// The section

/** Runs the fleet section; `errors` collects what the report lists under Problems. */
export async function runFleet(
  cfg: FleetConfig,
  errors: string[],
  progress: (msg: string) => void,
  /** The CLI entry of the Omega build to serve from; this checkout's dist/ when absent. */
  omegaMain = join(ROOT, 'dist/cli/main.js'),
  /** Where the fleet's `route()` is loaded from (a module URL); dist/ when absent. */
  routeModuleUrl?: string,
): Promise<FleetSection> {
  progress(`fleet: routing decision cost at ${cfg.route.hostCounts.join(' and ')} hosts`);
  const route = await measureRouteCost(cfg.route, routeModuleUrl);
  if (route.unavailable !== undefined) errors.push(`fleet routing cost: ${route.unavailable}`);

  const logDir = tempDir('fleet');
  const started: RunningGateway[] = [];
  const servers: BenchServer[] = [];
  const worker = await startWorker();
  const section: FleetSection = { config: cfg, route, fast: {}, pacedIdleMs: Number.NaN, pacedCapacity: Number.NaN, paced: {} };
  try {
    // Fast hosts: no slot limit, every model the phase uses listed.
    const f = cfg.fast;
    const fastModels = [`bench-n${f.chunks}`, `bench-n${f.ttfb.tokens}`, `bench-n${f.concurrent.chunks}`];
    progress('fleet: starting three fast synthetic hosts');
    const fastHosts = await Promise.all([0, 1, 2].map(() => spawnBenchServer({ models: fastModels })));
    servers.push(...fastHosts);
    const urls = fastHosts.map((h) => h.url);
    await fastPhase(cfg, worker, fastHosts, urls, logDir, omegaMain, started, section, errors, progress);
    await Promise.all(started.splice(0).map((g) => g.stop()));

    // Paced hosts: one chat at a time each, as Ollama with OLLAMA_NUM_PARALLEL=1.
    const p = cfg.paced;
    const pacedModel = `slow-i${p.intervalMs}-n${p.chunks}`;
    progress(`fleet: starting three paced synthetic hosts (one chat at a time, ${pacedModel})`);
    const pacedHosts = await Promise.all([0, 1, 2].map(() => spawnBenchServer({ slots: 1, models: [pacedModel] })));
    servers.push(...pacedHosts);
    await pacedPhase(cfg, worker, pacedHosts, pacedModel, logDir, omegaMain, started, section, errors, progress);
  } finally {
    await worker.close();
    await Promise.all(started.map((g) => g.stop()));
    await Promise.all(servers.map((s) => s.close()));
  }
  progress(`fleet: logs in ${logDir}`);
  return section;
}

async function fastPhase(
  cfg: FleetConfig,
  worker: Worker,
  hosts: BenchServer[],
  urls: string[],
  logDir: string,
  omegaMain: string,
  started: RunningGateway[],
  section: FleetSection,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const f = cfg.fast;
  const rows = section.fast;
  rows.direct = { label: 'direct to one host', path: 'client → synthetic host `/api/chat`' };
  rows.one = { label: 'omega serve, one host', path: 'client → Omega `/api/chat` → `[provider.ollama] base_url`' };
  rows.fleet1 = { label: 'omega serve, fleet of 1', path: 'client → Omega `/api/chat` → the first host as the only `[[provider.ollama.hosts]]` (the routing without the host rotation)' };
  rows.fleet = { label: 'omega serve, fleet of 3', path: 'client → Omega `/api/chat` → one of three `[[provider.ollama.hosts]]`' };
  const live: Live[] = [{ key: 'direct', targets: [{ url: `${urls[0]}/api/chat`, protocol: 'ollama', headers: {} }] }];
  for (const [key, hostsCfg] of [
    ['one', { kind: 'base_url', urls: [urls[0] as string] }],
    ['fleet1', { kind: 'fleet', urls: [urls[0] as string], maxConcurrent: 64 }],
    ['fleet', { kind: 'fleet', urls, maxConcurrent: 64 }],
  ] as const) {
    progress(`fleet: starting omega serve (${rows[key]?.label ?? key})`);
    const r = await startOmegaHosts(`omega-fast-${key}`, hostsCfg, logDir, omegaMain);
    if ('unavailable' in r) {
      (rows[key] as FastRow).unavailable = r.unavailable;
      errors.push(`fleet ${key}: not available: ${r.unavailable}`);
      continue;
    }
    started.push(r.gateway);
    live.push({ key, targets: [r.ollama], gateway: r.gateway });
  }

  // One stream at a time: what the fleet adds to a relayed stream.
  const model = `bench-n${f.chunks}`;
  const wantChars = expectedText(f.chunks).length;
  const samples = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const ok = new Map<string, boolean>();
  const failed = new Map<string, string>();
  const one = async (l: Live): Promise<GatewayCall | undefined> => {
    try {
      const r = await worker.call<CallReply>({ type: 'stream', target: l.targets[0] as GatewayTarget, model }, 120_000);
      const good = r.result.chunks === f.chunks && r.result.chars === wantChars;
      if (!good) errors.push(`fleet streamed ${l.key}: got ${r.result.chunks} chunks / ${r.result.chars} chars, want ${f.chunks} / ${wantChars}`);
      ok.set(l.key, (ok.get(l.key) ?? true) && good);
      return r.result;
    } catch (err) {
      failed.set(l.key, message(err));
      errors.push(`fleet streamed ${l.key}: ${message(err)}`);
      return undefined;
    }
  };
  for (const l of live) {
    progress(`fleet streamed: warm-up of ${l.key}`);
    const until = performance.now() + f.warmupMs;
    do {
      if ((await one(l)) === undefined) break;
    } while (performance.now() < until);
  }
  for (let round = 0; round < f.runs; round++) {
    progress(`fleet streamed: run ${round + 1}/${f.runs}`);
    for (const l of rotate(live, round)) {
      if (failed.has(l.key)) continue;
      const c0 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
      const r = await one(l);
      if (r === undefined) continue;
      const c1 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
      pushTo(samples, l.key, r.chunks / (r.totalMs / 1000));
      if (l.gateway) pushTo(cpu, l.key, ((c1 - c0) / r.chunks) * 1000);
    }
  }
  const baseStream = median(samples.get('direct') ?? []);
  for (const l of live) {
    const row = rows[l.key] as FastRow;
    const xs = samples.get(l.key) ?? [];
    row.stream = { summary: summarize(xs), ratio: median(xs) / baseStream, countsOk: ok.get(l.key) ?? false };
    if (l.gateway) row.stream.gatewayCpuMsPer1k = median(cpu.get(l.key) ?? []);
    const e = failed.get(l.key);
    if (e !== undefined) row.stream.error = e;
  }

  // Added time to first chunk: pairs of (direct, through Omega), alternating which goes first.
  const tModel = `bench-n${f.ttfb.tokens}`;
  const direct = live[0] as Live;
  for (const l of live.slice(1)) {
    const row = rows[l.key] as FastRow;
    progress(`fleet first chunk: ${l.key} against direct, ${f.ttfb.pairs} pairs`);
    const own: number[] = [];
    const added: number[] = [];
    try {
      for (let i = 0; i < f.ttfb.warmup + f.ttfb.pairs; i++) {
        const order = i % 2 === 0 ? [direct, l] : [l, direct];
        const res = new Map<string, GatewayCall>();
        for (const x of order) {
          const r = await worker.call<CallReply>({ type: 'stream', target: x.targets[0] as GatewayTarget, model: tModel }, 60_000);
          if (r.result.chunks !== f.ttfb.tokens) throw new Error(`${x.key} sent ${r.result.chunks} chunks, want ${f.ttfb.tokens}`);
          res.set(x.key, r.result);
        }
        if (i < f.ttfb.warmup) continue;
        const g = res.get(l.key) as GatewayCall;
        const b = res.get(direct.key) as GatewayCall;
        own.push(g.firstMs);
        added.push(g.firstMs - b.firstMs);
      }
      row.ttfb = { firstMs: summarize(own), addedMs: summarize(added) };
    } catch (err) {
      row.ttfb = { firstMs: summarize(own), error: message(err) };
      errors.push(`fleet first chunk ${l.key}: ${message(err)}`);
    }
  }

  // Concurrent streams: aggregate chunks/s, and where they went.
  const c = f.concurrent;
  const cModel = `bench-n${c.chunks}`;
  const agg = new Map<string, number[]>();
  const spread = new Map<string, number[]>();
  for (let round = 0; round < c.runs; round++) {
    progress(`fleet concurrent streams: run ${round + 1}/${c.runs}, ${c.requests} streams, ${c.streams} at a time`);
    for (const l of rotate(live, round)) {
      const row = rows[l.key] as FastRow;
      if (row.concurrent?.error !== undefined) continue;
      const before = await servedCounts(hosts);
      try {
        const r = await worker.call<LoadReply>(
          { type: 'streamLoad', targets: l.targets, model: cModel, requests: c.requests, concurrency: c.streams, wantChunks: c.chunks },
          300_000,
        );
        if (r.result.failed > 0) throw new Error(`${r.result.failed} streams failed (${r.result.firstError ?? ''})`);
        pushTo(agg, l.key, r.result.chunks / (r.result.ms / 1000));
        const after = await servedCounts(hosts);
        const d = after.map((x, i) => x - (before[i] as number));
        const acc = spread.get(l.key) ?? [0, 0, 0];
        spread.set(l.key, acc.map((x, i) => x + (d[i] as number)));
      } catch (err) {
        row.concurrent = { chunksPerSec: summarize([]), ratio: Number.NaN, perHost: [], error: message(err) };
        errors.push(`fleet concurrent ${l.key}: ${message(err)}`);
      }
    }
  }
  const baseAgg = median(agg.get('direct') ?? []);
  for (const l of live) {
    const row = rows[l.key] as FastRow;
    if (row.concurrent?.error !== undefined) continue;
    const xs = agg.get(l.key) ?? [];
    row.concurrent = { chunksPerSec: summarize(xs), ratio: median(xs) / baseAgg, perHost: spread.get(l.key) ?? [] };
  }
}

async function pacedPhase(
  cfg: FleetConfig,
  worker: Worker,
  hosts: BenchServer[],
  model: string,
  logDir: string,
  omegaMain: string,
  started: RunningGateway[],
  section: FleetSection,
  errors: string[],
  progress: (msg: string) => void,
): Promise<void> {
  const p = cfg.paced;
  const urls = hosts.map((h) => h.url);
  const rows = section.paced;
  rows.random = {
    label: 'random host per request (Open WebUI)',
    path: 'client picks one of the three hosts at random, `/api/chat`',
    figures: [],
  };
  rows.one = { label: 'omega serve, one host', path: 'client → Omega `/api/chat` → `base_url` (the first host only)', figures: [] };
  rows.fleet = { label: 'omega serve, fleet of 3 (Ollama API)', path: 'client → Omega `/api/chat` → fleet, `max_concurrent = 1` per host', figures: [] };
  rows['fleet-openai'] = { label: 'omega serve, fleet of 3 (OpenAI API)', path: 'client → Omega `/v1/chat/completions` → fleet, `max_concurrent = 1` per host', figures: [] };
  rows.litellm = { label: `LiteLLM proxy ${LITELLM_VERSION}, least-busy`, path: 'client → LiteLLM `/chat/completions` → one of three `ollama_chat/` deployments', figures: [] };
  const live: Live[] = [{ key: 'random', targets: urls.map((u) => ({ url: `${u}/api/chat`, protocol: 'ollama' as const, headers: {} })) }];
  progress('fleet: starting omega serve in front of the paced hosts');
  const one = await startOmegaHosts('omega-paced-one', { kind: 'base_url', urls: [urls[0] as string] }, logDir, omegaMain);
  if ('unavailable' in one) {
    (rows.one as PacedRow).unavailable = one.unavailable;
    errors.push(`fleet paced one: not available: ${one.unavailable}`);
  } else {
    started.push(one.gateway);
    live.push({ key: 'one', targets: [one.ollama], gateway: one.gateway });
  }
  const fleet = await startOmegaHosts('omega-paced-fleet', { kind: 'fleet', urls, maxConcurrent: 1 }, logDir, omegaMain);
  if ('unavailable' in fleet) {
    (rows.fleet as PacedRow).unavailable = fleet.unavailable;
    (rows['fleet-openai'] as PacedRow).unavailable = fleet.unavailable;
    errors.push(`fleet paced fleet: not available: ${fleet.unavailable}`);
  } else {
    started.push(fleet.gateway);
    live.push({ key: 'fleet', targets: [fleet.ollama], gateway: fleet.gateway });
    live.push({ key: 'fleet-openai', targets: [fleet.openai], gateway: fleet.gateway });
  }
  progress('fleet: starting LiteLLM proxy with least-busy routing over the paced hosts');
  // One `model_list` entry per host under one model name, balanced with least-busy (the strategy
  // LiteLLM added for several Ollama deployments, BerriAI/litellm#1065).
  const lite = await startLitellm(urls.map((upstream) => ({ model, upstream })), logDir, progress, 'least-busy');
  if ('unavailable' in lite) {
    (rows.litellm as PacedRow).unavailable = lite.unavailable;
    errors.push(`fleet litellm: not available: ${lite.unavailable}`);
  } else if (lite.targets.openai !== undefined) {
    started.push(lite.gateway);
    live.push({ key: 'litellm', targets: [lite.targets.openai], gateway: lite.gateway });
  }

  // Warm-up: a few requests through every row (LiteLLM's first calls are slow).
  for (const l of live) {
    progress(`fleet paced: warm-up of ${l.key}`);
    try {
      await worker.call<LoadReply>({ type: 'streamLoad', targets: l.targets, model, requests: 6, concurrency: 3, wantChunks: p.chunks }, 120_000);
    } catch (err) {
      errors.push(`fleet paced warm-up ${l.key}: ${message(err)}`);
    }
  }

  const cpu = new Map<string, number[]>();
  // Concurrency 1 first: the random row there is one chat at a time straight to an idle host,
  // measured in the same rounds as the others, the latency every row is compared with.
  const levels = [...p.concurrency].sort((x, y) => x - y);
  for (const concurrency of levels) {
    const requests = concurrency === 1 ? p.requestsAtOne : p.requests;
    const rates = new Map<string, number[]>();
    const lat = new Map<string, number[]>();
    const first = new Map<string, number[]>();
    const perHost = new Map<string, number[]>();
    const totals = new Map<string, { ok: number; failed: number; error?: string }>();
    for (let round = 0; round < p.runs; round++) {
      progress(`fleet paced: concurrency ${concurrency}, run ${round + 1}/${p.runs} (${requests} streams each)`);
      for (const l of rotate(live, round)) {
        const t = totals.get(l.key) ?? { ok: 0, failed: 0 };
        totals.set(l.key, t);
        if (t.error !== undefined) continue;
        const before = await servedCounts(hosts);
        const c0 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
        try {
          const r = await worker.call<LoadReply>(
            { type: 'streamLoad', targets: l.targets, model, requests, concurrency, wantChunks: p.chunks },
            600_000,
          );
          const res: StreamLoadResult = r.result;
          const c1 = l.gateway ? treeCpuMs(l.gateway.pid) : Number.NaN;
          t.ok += res.ok;
          t.failed += res.failed;
          if (res.failed > 0) errors.push(`fleet paced ${l.key} c=${concurrency}: ${res.failed} streams failed (${res.firstError ?? ''})`);
          if (res.ok === 0) {
            t.error = res.firstError ?? 'every stream failed';
            continue;
          }
          pushTo(rates, l.key, res.ok / (res.ms / 1000));
          lat.set(l.key, [...(lat.get(l.key) ?? []), ...res.latencies]);
          first.set(l.key, [...(first.get(l.key) ?? []), ...res.firsts]);
          if (l.gateway) pushTo(cpu, l.key, (c1 - c0) / res.ok);
          const after = await servedCounts(hosts);
          const acc = perHost.get(l.key) ?? hosts.map(() => 0);
          perHost.set(l.key, acc.map((x, i) => x + (after[i] as number) - (before[i] as number)));
        } catch (err) {
          t.error = message(err);
          errors.push(`fleet paced ${l.key} c=${concurrency}: ${message(err)}`);
        }
      }
    }
    if (concurrency === 1 || Number.isNaN(section.pacedIdleMs)) {
      section.pacedIdleMs = median(lat.get('random') ?? []);
      section.pacedCapacity = hosts.length / (section.pacedIdleMs / 1000);
    }
    for (const l of live) {
      const row = rows[l.key] as PacedRow;
      const t = totals.get(l.key) ?? { ok: 0, failed: 0 };
      const ls = lat.get(l.key) ?? [];
      const fs = first.get(l.key) ?? [];
      const spread = perHost.get(l.key) ?? [];
      const fig: PacedFigure = {
        concurrency,
        reqPerSec: summarize(rates.get(l.key) ?? []),
        latencyMs: { p50: median(ls), p99: quantile(ls, 0.99), max: ls.length ? Math.max(...ls) : Number.NaN },
        addedMs: median(ls) - section.pacedIdleMs,
        firstChunkMs: { p50: median(fs), p99: quantile(fs, 0.99) },
        perHost: spread,
        cv: coefficientOfVariation(spread),
        ok: t.ok,
        failed: t.failed,
      };
      if (t.error !== undefined) fig.error = t.error;
      row.figures.push(fig);
    }
  }
  for (const l of live) {
    if (l.gateway) (rows[l.key] as PacedRow).gatewayCpuMsPerReq = median(cpu.get(l.key) ?? []);
  }
}

// ---------------------------------------------------------------------------------------------
// Output

/** The tables of the fleet section. */
export function fleetBlocks(s: FleetSection): ReportBlock[] {
  const c = s.config;
  const out: ReportBlock[] = [];
  const r = s.route;
  out.push({
    title: `Fleet routing decision: the pure route() over synthetic host state (µs per decision, median of ${c.route.runs} runs of ${fmt(c.route.iterations)} decisions)`,
    head: ['hosts', 'µs / decision', 'min – max', 'decisions/s'],
    rows:
      r.unavailable !== undefined
        ? [['—', 'not available', '', '']]
        : r.points.map((p) => [String(p.hosts), fmt(p.micros.median, 3), range(p.micros, 3), fmt(1e6 / p.micros.median)]),
    align: ['r', 'r', 'r', 'r'],
    note: r.unavailable ?? r.note,
  });
  const fastRows: string[][] = [];
  for (const row of Object.values(s.fast)) {
    if (row.unavailable !== undefined) {
      fastRows.push([row.label, 'not available', '', '', '', '', '', '', '']);
      continue;
    }
    const st = row.stream;
    const t = row.ttfb;
    const cc = row.concurrent;
    fastRows.push([
      row.label,
      st ? (st.error ? 'failed' : fmt(st.summary.median)) : '',
      st && !st.error ? `${fmt(st.ratio, 2)}x` : '',
      st && !st.error ? range(st.summary) : '',
      st?.gatewayCpuMsPer1k !== undefined ? fmt(st.gatewayCpuMsPer1k, 1) : '—',
      t ? (t.error ? 'failed' : t.addedMs ? `${fmt(t.addedMs.median, 3)} (${range(t.addedMs, 3)})` : '—') : '—',
      cc ? (cc.error ? 'failed' : fmt(cc.chunksPerSec.median)) : '',
      cc && !cc.error ? `${fmt(cc.ratio, 2)}x` : '',
      cc && !cc.error ? cc.perHost.join(' / ') : '',
    ]);
  }
  out.push({
    title:
      `Fleet, fast hosts (no slot limit): one stream of ${fmt(c.fast.chunks)} chunks (median of ${c.fast.runs}), added first chunk (median of ${c.fast.ttfb.pairs} pairs with direct), ` +
      `${c.fast.concurrent.streams} concurrent streams of ${fmt(c.fast.concurrent.chunks)} chunks (${c.fast.concurrent.requests} a run, median of ${c.fast.concurrent.runs})`,
    head: ['path', 'chunks/s', 'vs direct', 'min – max', 'gateway CPU ms / 1k chunks', 'added first-chunk ms (min – max)', 'concurrent chunks/s', 'vs direct', 'streams per host'],
    rows: fastRows,
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    note: Object.values(s.fast)
      .map((row) => `${row.label}: ${row.path}`)
      .join('; '),
  });
  const pacedRows: string[][] = [];
  for (const row of Object.values(s.paced)) {
    if (row.unavailable !== undefined) {
      pacedRows.push([row.label, '—', 'not available', '', '', '', '', '', '', '']);
      continue;
    }
    for (const f of row.figures) {
      pacedRows.push([
        row.label,
        String(f.concurrency),
        f.error !== undefined && f.ok === 0 ? 'failed' : fmt(f.reqPerSec.median, 2),
        range(f.reqPerSec, 2),
        `${fmt(f.latencyMs.p50)} / ${fmt(f.latencyMs.p99)}`,
        fmt(f.addedMs),
        `${fmt(f.firstChunkMs.p50, 1)} / ${fmt(f.firstChunkMs.p99, 1)}`,
        f.perHost.join(' / '),
        fmt(f.cv, 3),
        row.gatewayCpuMsPerReq !== undefined ? fmt(row.gatewayCpuMsPerReq, 2) : '—',
      ]);
    }
  }
  out.push({
    title:
      `Fleet, paced hosts (one chat at a time each, ${c.paced.chunks} chunks every ${c.paced.intervalMs} ms): ${c.paced.requests} streamed chats a run ` +
      `(${c.paced.requestsAtOne} at concurrency 1), ${c.paced.runs} runs; one chat on an idle host takes ${fmt(s.pacedIdleMs)} ms, so three hosts serve at most ${fmt(s.pacedCapacity, 1)} req/s`,
    head: ['path', 'concurrency', 'req/s', 'min – max', 'latency p50 / p99 ms', 'added p50 ms', 'first chunk p50 / p99 ms', 'requests per host', 'CV', 'gateway CPU ms / req'],
    rows: pacedRows,
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r'],
    note:
      'Added = median latency minus one chat on an idle host (the random row at concurrency 1, straight to the hosts): the time a request waited for a busy host ' +
      '(or in the gateway\'s queue) plus the gateway itself; at concurrency 1 nothing waits, so it is the gateway alone. ' +
      'CV = standard deviation / mean of the requests per host (0 = even). ' +
      Object.values(s.paced)
        .map((row) => `${row.label}: ${row.path}`)
        .join('; '),
  });
  return out;
}
