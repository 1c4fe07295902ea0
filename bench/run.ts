/**
 * `npm run bench`: Omega's Ollama provider against the raw limit and the libraries people
 * use instead, side by side in one run. See docs/benchmarks.md for the method.
 *
 * Flags: `--quick` (short smoke run), `--no-real` (skip the real-Ollama part),
 * `--omega-src` (load Omega from src/ through tsx instead of the dist/ build),
 * `--omega-dist=<dir>` (load Omega from another build, e.g. a candidate fix compiled with
 * `tsc -p tsconfig.build.json --outDir <dir>`; the gateways and fleet sections then serve from
 * `<dir>/cli/main.js`), `--only=<section>[,<section>...]` (stream,
 * single, ttfc, memory, gateways, fleet, real, memory-store, embedded) to run a part; a bare section name (`npm run bench --
 * gateways`) is the same as `--only=` with it.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { LABELS, omegaModuleUrl } from './clients.js';
import type { CallResult, ClientName, OmegaSource } from './clients.js';
import type { MemResult } from './mem-child.js';
import { fleetBlocks, runFleet } from './fleet.js';
import type { FleetConfig, FleetSection } from './fleet.js';
import { defaultRouteModuleUrl } from './fleet-route.js';
import { gatewayBlocks, runGateways } from './gateways.js';
import type { GatewayConfig, GatewaySection } from './gateways.js';
import { runReal } from './real.js';
import { memoryStoreBlock, runMemoryStore } from './memory-store.js';
import type { MemoryStoreConfig, MemoryStoreSection } from './memory-store.js';
import { embeddedBlocks, runEmbedded } from './embedded.js';
import type { EmbeddedResult } from './embedded.js';
import type { RealResult } from './real.js';
import { spawnBenchServer } from './spawn.js';
import type { BenchServer } from './spawn.js';
import { fmt, median, mib, rotate, summarize } from './stats.js';
import type { ReportBlock, Summary } from './stats.js';
import { expectedText } from './synthetic.js';
import { spawnClient } from './workers.js';
import type { ClientWorker } from './workers.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const SECTIONS = ['stream', 'single', 'ttfc', 'memory', 'gateways', 'fleet', 'real', 'memory-store', 'embedded'] as const;
type Section = (typeof SECTIONS)[number];

const argv = process.argv.slice(2);
const known = new Set(['--quick', '--no-real', '--omega-src']);
let only: Set<Section> | undefined;
let omegaDist: string | undefined;
const bare: Section[] = [];
for (const a of argv) {
  if ((SECTIONS as readonly string[]).includes(a)) {
    bare.push(a as Section);
  } else if (a.startsWith('--omega-dist=')) {
    omegaDist = resolve(a.slice('--omega-dist='.length));
  } else if (a.startsWith('--only=')) {
    const names = a.slice('--only='.length).split(',');
    const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
    if (bad.length > 0 || names.length === 0) {
      console.error(`Unknown section ${bad.join(', ')}; sections are ${SECTIONS.join(', ')}.`);
      process.exit(2);
    }
    only = new Set([...(only ?? []), ...(names as Section[])]);
  } else if (!known.has(a)) {
    console.error(`Unknown flag ${a}; use --quick, --no-real, --omega-src, --omega-dist=<dir>, --only=<sections> or a section name (${SECTIONS.join(', ')}).`);
    process.exit(2);
  }
}
if (bare.length > 0) only = new Set([...(only ?? []), ...bare]);
const QUICK = argv.includes('--quick');
const runs = (s: Section): boolean => (only === undefined || only.has(s)) && (s !== 'real' || !argv.includes('--no-real'));
const OMEGA_SOURCE: OmegaSource = argv.includes('--omega-src') ? 'src' : 'dist';
/** Where Omega is loaded from, as the report names it. */
const OMEGA_FROM = omegaDist ?? `${OMEGA_SOURCE}/`;

/** The memory-store section's sizes (bench/memory-store.ts). */
const MEMORY_STORE_CFG: MemoryStoreConfig = QUICK
  ? { exchanges: { c1: 300, c32: 1000 }, requests: { c1: 300, c32: 1000 }, runs: 3 }
  : { exchanges: { c1: 1500, c32: 5000 }, requests: { c1: 1500, c32: 5000 }, runs: 5 };

const CFG = QUICK
  ? {
      stream: { chunks: 5_000, warmup: 10, runs: 5 },
      single: { tokens: 200, requests: 400, concurrency: 32, warmup: 1, runs: 5 },
      ttfc: { tokens: 32, warmup: 10, pairs: 60 },
      memory: { streams: 1000, intervalMs: 100, chunks: 10, rounds: 1 },
      gateways: {
        stream: { chunks: 5_000, warmupMs: 500, runs: 3, rowBudgetMs: 20_000 },
        ttfb: { tokens: 32, warmup: 3, pairs: 20 },
        single: { tokens: 200, concurrency: 32, durationMs: 1_000, warmupMs: 500, maxRequests: 100_000, runs: 3 },
        memory: { streams: 1000, intervalMs: 250, chunks: 20 },
      } satisfies GatewayConfig,
      fleet: {
        route: { hostCounts: [3, 50], iterations: 20_000, runs: 3 },
        fast: { chunks: 5_000, warmupMs: 300, runs: 3, ttfb: { tokens: 32, warmup: 3, pairs: 20 }, concurrent: { chunks: 2_000, streams: 6, requests: 30, runs: 2 } },
        paced: { intervalMs: 5, chunks: 20, requests: 24, requestsAtOne: 6, concurrency: [1, 3], runs: 2 },
      } satisfies FleetConfig,
      real: { numPredict: 64, warmup: 1, runs: 5 },
      embedded: { numPredict: 32, warmup: 1, runs: 3, cold: 1 },
    }
  : {
      stream: { chunks: 20_000, warmup: 15, runs: 9 },
      single: { tokens: 200, requests: 2_000, concurrency: 32, warmup: 2, runs: 9 },
      ttfc: { tokens: 32, warmup: 30, pairs: 300 },
      memory: { streams: 1000, intervalMs: 100, chunks: 50, rounds: 5 },
      gateways: {
        stream: { chunks: 10_000, warmupMs: 2_000, runs: 7, rowBudgetMs: 60_000 },
        ttfb: { tokens: 32, warmup: 10, pairs: 100 },
        single: { tokens: 200, concurrency: 32, durationMs: 2_000, warmupMs: 1_000, maxRequests: 100_000, runs: 5 },
        memory: { streams: 1000, intervalMs: 500, chunks: 20 },
      } satisfies GatewayConfig,
      fleet: {
        route: { hostCounts: [3, 50], iterations: 200_000, runs: 7 },
        fast: { chunks: 10_000, warmupMs: 1_500, runs: 9, ttfb: { tokens: 32, warmup: 10, pairs: 200 }, concurrent: { chunks: 2_000, streams: 6, requests: 120, runs: 3 } },
        paced: { intervalMs: 10, chunks: 20, requests: 60, requestsAtOne: 20, concurrency: [1, 3, 6], runs: 3 },
      } satisfies FleetConfig,
      real: { numPredict: 256, warmup: 2, runs: 15 },
      embedded: { numPredict: 64, warmup: 1, runs: 5, cold: 2 },
    };

const STREAM_CLIENTS: ClientName[] = ['raw', 'raw-gen', 'omega', 'ollama-js', 'langchain', 'ai-sdk'];
const SINGLE_CLIENTS: ClientName[] = ['raw', 'omega', 'ollama-js'];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const OMEGA_URL =
  omegaDist === undefined ? omegaModuleUrl(OMEGA_SOURCE) : pathToFileURL(join(omegaDist, 'providers/ollama/index.js')).href;

function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// Result shapes (also the JSON written to bench/results/latest.json)

interface ClientFigure {
  label: string;
  /** The per-run values the summary is taken from. */
  samples: number[];
  summary: Summary;
  /** median(client) / median(raw). */
  ratio: number;
  /**
   * Median CPU time of this process per chunk (streamed) or per request (non-streamed), in µs:
   * less sensitive than wall time to the machine's other load.
   */
  cpuMicrosPerUnit: number;
  /** Whether every run delivered exactly the expected chunks and characters. */
  countsOk: boolean;
  /** Non-streamed section: what the client put on the wire (`stream:false`, or `stream:true` when it streams underneath). */
  wire?: string;
  error?: string;
}

interface StreamSection {
  chunksPerRun: number;
  warmup: number;
  runs: number;
  unit: 'chunks/s';
  clients: Partial<Record<ClientName, ClientFigure>>;
  /** Server CPU time / wall time during the raw runs: near 100 % would mean the server is the limit. */
  serverBusyDuringRaw: number;
}

interface SingleSection {
  tokens: number;
  requestsPerRun: number;
  concurrency: number;
  warmup: number;
  runs: number;
  unit: 'req/s';
  clients: Partial<Record<ClientName, ClientFigure>>;
}

interface TtfcSection {
  pairs: number;
  rawMs: Summary;
  omegaMs: Summary;
  /** Median over pairs of (Omega − raw), in ms. */
  deltaMs: number;
}

interface MemSection {
  streams: number;
  chunksPerStream: number;
  intervalMs: number;
  rounds: number;
  runs: Record<'raw' | 'omega', MemResult[]>;
  peakRss: Record<'raw' | 'omega', number>;
  baselineRss: Record<'raw' | 'omega', number>;
  /** median peak(Omega) / median peak(raw). */
  ratio: number;
  /** median retained heap per stream (Omega) / the same for raw. */
  heapPerStreamRatio: number;
  /** Whether the children ran through tsx (only with --omega-src), which adds its loader thread to every figure. */
  viaTsx: boolean;
}

interface Report {
  date: string;
  command: string;
  quick: boolean;
  /** `dist/`, `src/` or the directory given with --omega-dist. */
  omegaFrom: string;
  machine: { cpu: string; cores: number; node: string; platform: string; memGiB: number; loadAvgAtStart: number[] };
  stream?: StreamSection;
  single?: SingleSection;
  ttfc?: TtfcSection;
  memory?: MemSection;
  gateways?: GatewaySection;
  fleet?: FleetSection;
  real?: RealResult | { skipped: string };
  /** SQLite vs PostgreSQL as the gateway's memory (bench/memory-store.ts). */
  memoryStore?: MemoryStoreSection;
  /** The embedded engine against Ollama on the same files (`npm run bench -- embedded`). */
  embedded?: EmbeddedResult | { skipped: string };
  /** `unit` is how `value` reads: a ratio (`x`, the default) or milliseconds. */
  targets: { name: string; value: number; unit?: 'x' | 'ms'; target: string; pass: boolean }[];
  errors: string[];
}

// ---------------------------------------------------------------------------------------------
// Sections

/** Starts one worker per client; a client that cannot be set up is reported and left out. */
async function startWorkers(names: ClientName[], url: string, errors: string[]): Promise<Map<ClientName, ClientWorker>> {
  const out = new Map<ClientName, ClientWorker>();
  for (const n of names) {
    try {
      out.set(n, await spawnClient(n, url, OMEGA_URL));
    } catch (err) {
      errors.push(`${n}: could not be set up: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return out;
}

async function stopWorkers(workers: Map<ClientName, ClientWorker>): Promise<void> {
  await Promise.all([...workers.values()].map((w) => w.close()));
}

function figure(
  names: Iterable<ClientName>,
  samples: Map<ClientName, number[]>,
  cpu: Map<ClientName, number[]>,
  ok: Map<ClientName, boolean>,
  failures: Map<ClientName, string>,
): Partial<Record<ClientName, ClientFigure>> {
  const rawMedian = median(samples.get('raw') ?? []);
  const out: Partial<Record<ClientName, ClientFigure>> = {};
  for (const name of names) {
    const xs = samples.get(name) ?? [];
    const summary = summarize(xs);
    const f: ClientFigure = {
      label: LABELS[name],
      samples: xs.map((x) => Math.round(x)),
      summary,
      ratio: summary.median / rawMedian,
      cpuMicrosPerUnit: median(cpu.get(name) ?? []),
      countsOk: ok.get(name) ?? false,
    };
    const e = failures.get(name);
    if (e !== undefined) f.error = e;
    out[name] = f;
  }
  return out;
}

function add(map: Map<ClientName, number[]>, name: ClientName, x: number): void {
  const list = map.get(name);
  if (list) list.push(x);
  else map.set(name, [x]);
}

async function streamSection(server: BenchServer, errors: string[]): Promise<StreamSection> {
  const { chunks, warmup, runs } = CFG.stream;
  const model = `bench-n${chunks}`;
  const wantChars = expectedText(chunks).length;
  const workers = await startWorkers(STREAM_CLIENTS, server.url, errors);
  const samples = new Map<ClientName, number[]>();
  const cpu = new Map<ClientName, number[]>();
  const ok = new Map<ClientName, boolean>();
  const failures = new Map<ClientName, string>();
  let rawServerMicros = 0;
  let rawWallMs = 0;
  const order = [...workers.keys()];
  const measure = async (name: ClientName): Promise<{ result: CallResult; cpuMicros: number } | undefined> => {
    try {
      const r = await (workers.get(name) as ClientWorker).stream(model);
      const good = r.result.chunks === chunks && r.result.chars === wantChars;
      if (!good) errors.push(`streamed ${name}: got ${r.result.chunks} chunks / ${r.result.chars} chars, want ${chunks} / ${wantChars}`);
      ok.set(name, (ok.get(name) ?? true) && good);
      return r;
    } catch (err) {
      failures.set(name, String(err));
      errors.push(`streamed ${name}: ${String(err)}`);
      return undefined;
    }
  };
  try {
    // JIT warm-up, one client after the other: the figure is each client's steady state, which
    // takes some hundred thousand chunks to reach (a few warm-up calls were not enough for all).
    for (const name of order) {
      progress(`streamed: warm-up of ${name}, ${warmup} x ${fmt(chunks)} chunks`);
      for (let i = 0; i < warmup && !failures.has(name); i++) await measure(name);
    }
    for (let round = 0; round < runs; round++) {
      progress(`streamed: run ${round + 1}/${runs}`);
      for (const name of rotate(order, round)) {
        if (failures.has(name)) continue;
        const cpu0 = await server.cpuMicros();
        const r = await measure(name);
        if (r === undefined) continue;
        const cpu1 = await server.cpuMicros();
        const res = r.result;
        if (name === 'raw') {
          rawServerMicros += cpu1 - cpu0;
          rawWallMs += res.totalMs;
        }
        add(samples, name, res.chunks / (res.totalMs / 1000));
        add(cpu, name, r.cpuMicros / res.chunks);
      }
    }
  } finally {
    await stopWorkers(workers);
  }
  return {
    chunksPerRun: chunks,
    warmup,
    runs,
    unit: 'chunks/s',
    clients: figure(workers.keys(), samples, cpu, ok, failures),
    serverBusyDuringRaw: rawWallMs > 0 ? rawServerMicros / 1000 / rawWallMs : Number.NaN,
  };
}

async function singleSection(server: BenchServer, errors: string[]): Promise<SingleSection> {
  const { tokens, requests, concurrency, warmup, runs } = CFG.single;
  const model = `bench-n${tokens}`;
  const wantChars = expectedText(tokens).length;
  const workers = await startWorkers(SINGLE_CLIENTS, server.url, errors);
  const samples = new Map<ClientName, number[]>();
  const cpu = new Map<ClientName, number[]>();
  const ok = new Map<ClientName, boolean>();
  const failures = new Map<ClientName, string>();
  const wire = new Map<ClientName, { streamed: number; single: number }>();
  const order = [...workers.keys()];
  try {
    for (let round = 0; round < warmup + runs; round++) {
      const counted = round >= warmup;
      progress(`non-streamed: ${counted ? `run ${round - warmup + 1}/${runs}` : `warm-up ${round + 1}/${warmup}`}`);
      for (const name of rotate(order, round)) {
        if (failures.has(name)) continue;
        const worker = workers.get(name) as ClientWorker;
        const before = await server.stats();
        let r: { ms: number; bad: number; cpuMicros: number };
        try {
          r = await worker.load(model, requests, concurrency, wantChars);
        } catch (err) {
          failures.set(name, String(err));
          errors.push(`non-streamed ${name}: ${String(err)}`);
          continue;
        }
        const after = await server.stats();
        const w = wire.get(name) ?? { streamed: 0, single: 0 };
        w.streamed += after.streamed - before.streamed;
        w.single += after.single - before.single;
        wire.set(name, w);
        if (r.bad > 0) errors.push(`non-streamed ${name}: ${r.bad} answers with the wrong content length`);
        ok.set(name, (ok.get(name) ?? true) && r.bad === 0);
        if (!counted) continue;
        add(samples, name, requests / (r.ms / 1000));
        add(cpu, name, r.cpuMicros / requests);
      }
    }
  } finally {
    await stopWorkers(workers);
  }
  const figures = figure(workers.keys(), samples, cpu, ok, failures);
  for (const [name, w] of wire) {
    const f = figures[name];
    if (f) f.wire = w.streamed === 0 ? 'stream:false' : w.single === 0 ? 'stream:true' : 'mixed';
  }
  return {
    tokens,
    requestsPerRun: requests,
    concurrency,
    warmup,
    runs,
    unit: 'req/s',
    clients: figures,
  };
}

async function ttfcSection(server: BenchServer, errors: string[]): Promise<TtfcSection | undefined> {
  const { tokens, warmup, pairs } = CFG.ttfc;
  const model = `bench-n${tokens}`;
  const workers = await startWorkers(['raw', 'omega'], server.url, errors);
  const raw = workers.get('raw');
  const omega = workers.get('omega');
  const rawMs: number[] = [];
  const omegaMs: number[] = [];
  const deltas: number[] = [];
  progress(`time to first chunk: ${pairs} pairs`);
  try {
    if (!raw || !omega) return undefined;
    for (let i = 0; i < warmup + pairs; i++) {
      // Alternate which goes first, so neither always meets a freshly used connection.
      const [a, b] = i % 2 === 0 ? [raw, omega] : [omega, raw];
      const ra = (await a.stream(model)).result;
      const rb = (await b.stream(model)).result;
      if (i < warmup) continue;
      const r = a === raw ? ra : rb;
      const o = a === raw ? rb : ra;
      if (r.chunks !== tokens || o.chunks !== tokens) errors.push(`ttfc: wrong chunk count (raw ${r.chunks}, omega ${o.chunks})`);
      rawMs.push(r.firstMs);
      omegaMs.push(o.firstMs);
      deltas.push(o.firstMs - r.firstMs);
    }
  } catch (err) {
    errors.push(`ttfc: ${String(err)}`);
    return undefined;
  } finally {
    await stopWorkers(workers);
  }
  return { pairs, rawMs: summarize(rawMs), omegaMs: summarize(omegaMs), deltaMs: median(deltas) };
}

/**
 * The memory child as plain JavaScript: bench/mem-child.ts and bench/clients.ts transpiled
 * (types stripped, nothing else) into .cache/bench-js/, so the child runs on bare Node and
 * tsx's loader thread (some 25 MiB) is not part of what is measured. With `--omega-src`
 * Omega itself is TypeScript, so the child has to run through tsx after all.
 */
function memChildEntry(): { path: string; execArgv: string[]; viaTsx: boolean } {
  if (OMEGA_SOURCE === 'src') {
    return { path: fileURLToPath(new URL('./mem-child.ts', import.meta.url)), execArgv: ['--import', 'tsx', '--expose-gc'], viaTsx: true };
  }
  const outDir = fileURLToPath(new URL('../.cache/bench-js/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  for (const file of ['mem-child.ts', 'clients.ts']) {
    const source = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    writeFileSync(join(outDir, file.replace(/\.ts$/, '.js')), out.outputText);
  }
  return { path: join(outDir, 'mem-child.js'), execArgv: ['--expose-gc'], viaTsx: false };
}

function memChild(entry: { path: string; execArgv: string[] }, client: 'raw' | 'omega', url: string): Promise<MemResult> {
  const { streams, intervalMs, chunks } = CFG.memory;
  const args = [client, url, String(streams), `slow-i${intervalMs}-n${chunks}`, String(chunks), OMEGA_URL, String(intervalMs)];
  return new Promise<MemResult>((resolve, reject) => {
    const child = fork(entry.path, args, {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: MemResult | undefined;
    let failure: string | undefined;
    child.on('message', (msg: { type?: string; result?: MemResult; message?: string }) => {
      if (msg.type === 'mem') result = msg.result;
      if (msg.type === 'error') failure = msg.message;
      // A child that reported but keeps a handle open is done with; do not wait for it.
      if (result || failure) setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
    child.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(failure ?? `memory child for ${client} exited with code ${code} and no result`));
    });
  });
}

async function memSection(server: BenchServer, errors: string[]): Promise<MemSection | undefined> {
  const { streams, intervalMs, chunks, rounds } = CFG.memory;
  const runs: Record<'raw' | 'omega', MemResult[]> = { raw: [], omega: [] };
  const entry = memChildEntry();
  for (let round = 0; round < rounds; round++) {
    const order: ('raw' | 'omega')[] = round % 2 === 0 ? ['omega', 'raw'] : ['raw', 'omega'];
    for (const c of order) {
      progress(`memory: ${c}, ${streams} slow streams, round ${round + 1}/${rounds}`);
      try {
        const r = await memChild(entry, c, server.url);
        if (r.failedStreams > 0) errors.push(`memory ${c}: ${r.failedStreams} streams failed (${r.firstError ?? ''})`);
        runs[c].push(r);
      } catch (err) {
        errors.push(`memory ${c}: ${String(err)}`);
        return undefined;
      }
    }
  }
  const peak = (c: 'raw' | 'omega'): number => median(runs[c].map((r) => r.peakRss));
  const base = (c: 'raw' | 'omega'): number => median(runs[c].map((r) => r.baselineRss));
  const heapPer = (c: 'raw' | 'omega'): number => median(runs[c].map((r) => r.retainedHeapPerStream));
  return {
    streams,
    chunksPerStream: chunks,
    intervalMs,
    rounds,
    runs,
    peakRss: { raw: peak('raw'), omega: peak('omega') },
    baselineRss: { raw: base('raw'), omega: base('omega') },
    ratio: peak('omega') / peak('raw'),
    heapPerStreamRatio: heapPer('omega') / heapPer('raw'),
    viaTsx: entry.viaTsx,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

function table(head: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(head: string[], rows: string[][], align: ('l' | 'r')[]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function clientRows(section: StreamSection | SingleSection, cpuDigits: number, withWire = false): string[][] {
  return Object.values(section.clients).map((f) => [
    f.label,
    ...(withWire ? [f.wire ?? ''] : []),
    f.error ? 'failed' : fmt(f.summary.median),
    f.error ? '' : `${fmt(f.ratio, 2)}x`,
    f.error ? '' : `${fmt(f.summary.min)} – ${fmt(f.summary.max)}`,
    f.error ? '' : fmt(f.cpuMicrosPerUnit, cpuDigits),
    f.error ? f.error.slice(0, 60) : f.countsOk ? 'yes' : 'NO',
  ]);
}

function blocks(r: Report): ReportBlock[] {
  const out: ReportBlock[] = [];
  if (r.stream) {
    const s = r.stream;
    out.push({
      title: `Streamed chat: ${fmt(s.chunksPerRun)} chunks per run, median of ${s.runs} alternating runs after ${s.warmup} warm-up runs per client (chunks/s, higher is better)`,
      head: ['client', 'chunks/s', 'vs raw', 'min – max', 'CPU µs/chunk', 'all chunks'],
      rows: clientRows(s, 2),
      align: ['l', 'r', 'r', 'r', 'r', 'l'],
      note: `Synthetic server CPU during the raw runs: ${fmt(s.serverBusyDuringRaw * 100)} % of one core.`,
    });
  }
  if (r.single) {
    const s = r.single;
    out.push({
      title: `Non-streamed chat: ${fmt(s.requestsPerRun)} requests per run at concurrency ${s.concurrency}, ${s.tokens}-token answers, median of ${s.runs} runs after ${s.warmup} warm-up (req/s, higher is better)`,
      head: ['client', 'sends', 'req/s', 'vs raw', 'min – max', 'CPU µs/req', 'all answers'],
      rows: clientRows(s, 0, true),
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    });
  }
  if (r.ttfc) {
    const t = r.ttfc;
    out.push({
      title: `Time to first chunk: ${t.pairs} alternating request pairs (ms, lower is better)`,
      head: ['client', 'median ms', 'min – max'],
      rows: [
        [LABELS.raw, fmt(t.rawMs.median, 3), `${fmt(t.rawMs.min, 3)} – ${fmt(t.rawMs.max, 3)}`],
        [LABELS.omega, fmt(t.omegaMs.median, 3), `${fmt(t.omegaMs.min, 3)} – ${fmt(t.omegaMs.max, 3)}`],
        ['Omega − raw (median of pairs)', fmt(t.deltaMs, 3), ''],
      ],
      align: ['l', 'r', 'r'],
    });
  }
  if (r.memory) {
    const m = r.memory;
    const row = (c: 'raw' | 'omega'): string[] => {
      const runs = m.runs[c];
      return [
        LABELS[c],
        mib(m.baselineRss[c]),
        mib(m.peakRss[c]),
        c === 'raw' ? '1.00x' : `${fmt(m.ratio, 2)}x`,
        fmt(median(runs.map((x) => x.retainedHeapPerStream)) / 1024, 1),
        `${runs.reduce((a, x) => a + x.completeStreams, 0)}/${runs.reduce((a, x) => a + x.streams, 0)}`,
      ];
    };
    out.push({
      title: `Memory: ${fmt(m.streams)} concurrent slow streams (1 chunk / ${m.intervalMs} ms, ${m.chunksPerStream} chunks), each client in a fresh process, median of ${m.rounds} (MiB, lower is better)`,
      head: ['client', 'baseline RSS', 'peak RSS', 'peak vs raw', 'heap KiB/stream', 'complete streams'],
      rows: [row('raw'), row('omega')],
      align: ['l', 'r', 'r', 'r', 'r', 'r'],
      note:
        `Heap KiB/stream: heap still reachable per open stream after a forced GC, from a second batch of streams ` +
        `(steadier than RSS, whose baseline alone moves by 10-30 MiB between runs). Children ran on ` +
        (m.viaTsx ? 'tsx (--omega-src), which adds its loader thread to both.' : 'plain Node (bench code transpiled, no tsx).'),
    });
  }
  if (r.gateways) out.push(...gatewayBlocks(r.gateways));
  if (r.fleet) out.push(...fleetBlocks(r.fleet));
  if (r.embedded && 'skipped' in r.embedded) {
    out.push({ title: 'Embedded engine', head: ['skipped'], rows: [[r.embedded.skipped]], align: ['l'] });
  } else if (r.embedded) {
    out.push(...embeddedBlocks(r.embedded));
  }
  if (r.real && 'skipped' in r.real) {
    out.push({ title: 'Real Ollama', head: ['skipped'], rows: [[r.real.skipped]], align: ['l'] });
  } else if (r.real) {
    const x = r.real;
    out.push({
      title: `Real Ollama ${x.ollamaVersion}, model ${x.model}: num_predict ${x.numPredict}, seed ${x.seed}, temperature 0, median of ${x.runs} alternating runs (tokens/s end to end, higher is better)`,
      head: ['client', 'tokens/s', 'vs raw', 'min – max', 'tokens per run', 'server eval tokens/s', 'client overhead ms'],
      rows: (['raw', 'omega'] as const).map((c) => {
        const f = x.clients[c];
        return [
          LABELS[c],
          fmt(f.summary.median),
          `${fmt(f.ratio, 2)}x`,
          `${fmt(f.summary.min)} – ${fmt(f.summary.max)}`,
          f.tokens.join('/'),
          fmt(f.serverTokensPerSec),
          fmt(f.overheadMs, 2),
        ];
      }),
      align: ['l', 'r', 'r', 'r', 'l', 'r', 'r'],
      note:
        `Same text from both clients in every run: ${x.sameText ? 'yes' : 'NO'}. Server eval tokens/s is Ollama's own ` +
        `eval_count / eval_duration during that client's runs (the model's speed, which the client cannot change); ` +
        `client overhead is the call's wall time minus Ollama's total_duration (median).`,
    });
  }
  if (r.memoryStore) out.push(memoryStoreBlock(r.memoryStore));
  out.push({
    title: 'Targets',
    head: ['target', 'value', 'goal', 'met'],
    rows: r.targets.map((t) => [t.name, t.unit === 'ms' ? `${fmt(t.value, 3)} ms` : `${fmt(t.value, 2)}x`, t.target, t.pass ? 'yes' : 'NO']),
    align: ['l', 'r', 'l', 'l'],
  });
  return out;
}

function machineLine(r: Report): string {
  const m = r.machine;
  return `${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.platform}, Node ${m.node}; load average at start ${m.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}`;
}

function renderText(r: Report): string {
  const parts = [
    `Omega benchmarks — ${r.date}`,
    `Machine: ${machineLine(r)}`,
    `Command: ${r.command}   (Omega loaded from ${r.omegaFrom})`,
    '',
  ];
  for (const b of blocks(r)) {
    parts.push(b.title, table(b.head, b.rows, b.align));
    if (b.note) parts.push(b.note);
    parts.push('');
  }
  if (r.errors.length) parts.push('Problems:', ...r.errors.map((e) => `  - ${e}`), '');
  return parts.join('\n');
}

function renderMarkdown(r: Report, title = 'Omega benchmark results'): string {
  const parts = [
    `# ${title}`,
    '',
    `- Date: ${r.date}`,
    `- Machine: ${machineLine(r)}`,
    `- Command: \`${r.command}\` (Omega loaded from \`${r.omegaFrom}\`)`,
    `- Method: see [docs/benchmarks.md](../../docs/benchmarks.md)`,
    '',
  ];
  for (const b of blocks(r)) {
    parts.push(`## ${b.title}`, '', mdTable(b.head, b.rows, b.align), '');
    if (b.note) parts.push(b.note, '');
  }
  if (r.errors.length) parts.push('## Problems', '', ...r.errors.map((e) => `- ${e}`), '');
  return parts.join('\n');
}

/**
 * Issue 12's targets for `omega serve`: against direct (chunks/s >= 0.8x, added first chunk
 * <= 0.5 ms, req/s >= 0.7x), and against each peer (>= 5x their throughput, lower added time).
 * Nothing is added for a row that has no figure.
 */
function gatewayTargets(g: GatewaySection, targets: Report['targets']): void {
  for (const name of ['omega-ollama', 'omega-openai'] as const) {
    const o = g.rows[name];
    if (!o || o.unavailable !== undefined) continue;
    const front = name === 'omega-ollama' ? 'Ollama front end' : 'OpenAI front end';
    if (o.stream && !o.stream.error) targets.push({ name: `omega serve (${front}) streamed chunks/s vs direct`, value: o.stream.ratio, target: '>= 0.80x', pass: o.stream.ratio >= 0.8 });
    const added = o.ttfb?.addedMs?.median;
    if (added !== undefined) targets.push({ name: `omega serve (${front}) added first chunk, median`, value: added, unit: 'ms', target: '<= 0.5 ms', pass: added <= 0.5 });
    if (o.single && !o.single.error) targets.push({ name: `omega serve (${front}) req/s at c=32 vs direct`, value: o.single.ratio, target: '>= 0.70x', pass: o.single.ratio >= 0.7 });
    if (name !== 'omega-openai') continue;
    for (const peer of ['litellm', 'portkey'] as const) {
      const p = g.rows[peer];
      if (!p || p.unavailable !== undefined) continue;
      const label = peer === 'litellm' ? 'LiteLLM' : 'Portkey';
      if (o.stream && p.stream && !o.stream.error && !p.stream.error) {
        const v = o.stream.summary.median / p.stream.summary.median;
        targets.push({ name: `omega serve vs ${label}, streamed chunks/s`, value: v, target: '>= 5x', pass: v >= 5 });
      }
      if (o.single && p.single && !o.single.error && !p.single.error) {
        const v = o.single.summary.median / p.single.summary.median;
        targets.push({ name: `omega serve vs ${label}, req/s at c=32`, value: v, target: '>= 5x', pass: v >= 5 });
      }
      const oa = o.ttfb?.addedMs?.median;
      const pa = p.ttfb?.addedMs?.median;
      if (oa !== undefined && pa !== undefined) {
        targets.push({ name: `omega serve vs ${label}, added first chunk (Omega's)`, value: oa, unit: 'ms', target: `< ${fmt(pa, 3)} ms (${label}'s)`, pass: oa < pa });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function commandLine(): string {
  const flags = argv.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${flags ? ` -- ${flags}` : ''}`;
  return `node --import tsx bench/run.ts${flags ? ` ${flags}` : ''}`;
}

/** The report's per-section figures, by their key in {@link Report}. */
const SECTION_KEYS = ['stream', 'single', 'ttfc', 'memory', 'gateways', 'fleet', 'real', 'memoryStore', 'embedded'] as const;
type SectionKey = (typeof SECTION_KEYS)[number];

/** The report with one section's figures, its targets and its errors only. */
function sectionOnly(report: Report, key: SectionKey, errorPrefix: string, targets: (name: string) => boolean): Report {
  const only: Report = { ...report, targets: report.targets.filter((t) => targets(t.name)), errors: report.errors.filter((e) => e.startsWith(errorPrefix)) };
  for (const other of SECTION_KEYS) if (other !== key) delete only[other];
  return only;
}

async function main(): Promise<void> {
  // The memory-store section loads src/ itself; only the others need the build.
  const needsBuild = SECTIONS.some((s) => s !== 'memory-store' && runs(s));
  if (OMEGA_SOURCE === 'dist' && needsBuild && !existsSync(new URL(OMEGA_URL))) {
    console.error(`${fileURLToPath(OMEGA_URL)} is missing: run \`npm run build\` first (or use \`npm run bench\`, which builds).`);
    process.exit(1);
  }
  const report: Report = {
    date: new Date().toISOString(),
    command: commandLine(),
    quick: QUICK,
    omegaFrom: OMEGA_FROM,
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.cpus().length,
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAvgAtStart: os.loadavg(),
    },
    targets: [],
    errors: [],
  };
  const started = performance.now();
  if (runs('stream') || runs('single') || runs('ttfc') || runs('memory') || runs('gateways')) {
    const server = await spawnBenchServer();
    progress(`synthetic server ${server.url} (pid ${server.pid}); Omega from ${OMEGA_FROM}`);
    try {
      if (runs('stream')) report.stream = await streamSection(server, report.errors);
      if (runs('single')) report.single = await singleSection(server, report.errors);
      if (runs('ttfc')) report.ttfc = await ttfcSection(server, report.errors);
      if (runs('memory')) report.memory = await memSection(server, report.errors);
      if (runs('gateways')) {
        const main = omegaDist === undefined ? undefined : join(omegaDist, 'cli/main.js');
        report.gateways = await runGateways(CFG.gateways, server, report.errors, progress, main);
      }
    } finally {
      await server.close();
    }
  }
  if (runs('fleet')) {
    // Its own synthetic hosts (three fast, three paced): the shared server above is not used.
    const main = omegaDist === undefined ? undefined : join(omegaDist, 'cli/main.js');
    const routeUrl = omegaDist === undefined ? defaultRouteModuleUrl(OMEGA_SOURCE) : pathToFileURL(join(omegaDist, 'providers/ollama/fleet/router.js')).href;
    report.fleet = await runFleet(CFG.fleet, report.errors, progress, main, routeUrl);
  }
  if (runs('memory-store')) report.memoryStore = await runMemoryStore(MEMORY_STORE_CFG, report.errors, progress);
  if (runs('real')) {
    progress('real Ollama: starting');
    try {
      report.real = await runReal(CFG.real, OMEGA_URL, progress);
    } catch (err) {
      report.errors.push(`real Ollama: ${err instanceof Error ? err.message : String(err)}`);
      report.real = { skipped: `failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  } else {
    report.real = { skipped: argv.includes('--no-real') ? 'skipped (--no-real)' : 'not selected (--only)' };
  }

  if (runs('embedded')) {
    progress('embedded engine: starting');
    try {
      const url = omegaDist === undefined ? omegaModuleUrl(OMEGA_SOURCE).replace(/ollama\/index\.(js|ts)$/, 'embedded/index.$1') : pathToFileURL(join(omegaDist, 'providers/embedded/index.js')).href;
      report.embedded = await runEmbedded(CFG.embedded, progress, url);
      const v = report.embedded.ratio;
      report.targets.push({ name: 'embedded engine tokens/s vs Ollama, same threads', value: v, target: '>= 0.90x', pass: v >= 0.9 });
    } catch (err) {
      report.errors.push(`embedded: ${err instanceof Error ? err.message : String(err)}`);
      report.embedded = { skipped: `failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  const so = report.stream?.clients.omega;
  if (so) report.targets.push({ name: 'streamed chunks/s, Omega vs raw', value: so.ratio, target: '>= 0.90x', pass: so.ratio >= 0.9 });
  const no = report.single?.clients.omega;
  if (no) report.targets.push({ name: 'non-streamed req/s, Omega vs raw', value: no.ratio, target: '>= 0.90x', pass: no.ratio >= 0.9 });
  if (report.memory) {
    const v = report.memory.ratio;
    report.targets.push({ name: `peak RSS, ${report.memory.streams} streams, Omega vs raw`, value: v, target: '<= 1.20x', pass: v <= 1.2 });
  }

  if (report.gateways) gatewayTargets(report.gateways, report.targets);

  const text = renderText(report);
  process.stdout.write(`\n${text}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${RESULTS_DIR}latest.md`, renderMarkdown(report));
  // Some sections' figures are also kept in a file of their own, so that a run of one section
  // does not have to replace the other sections' figures to be kept.
  const own: string[] = [];
  const keepOwn = (key: SectionKey, file: string, title: string, targets: (name: string) => boolean = () => false): void => {
    if (report[key] === undefined) return;
    const only = sectionOnly(report, key, file, targets);
    writeFileSync(`${RESULTS_DIR}${file}.json`, `${JSON.stringify(only, null, 2)}\n`);
    writeFileSync(`${RESULTS_DIR}${file}.md`, renderMarkdown(only, title));
    own.push(`${file}.json and ${file}.md`);
  };
  keepOwn('gateways', 'gateways', 'Omega gateway benchmark results', (name) => name.startsWith('omega serve'));
  keepOwn('fleet', 'fleet', 'Omega fleet benchmark results');
  keepOwn('memoryStore', 'memory-store', 'Omega memory store benchmark results');
  if (report.embedded !== undefined && !('skipped' in report.embedded)) {
    keepOwn('embedded', 'embedded', 'Omega embedded engine benchmark results', (name) => name.startsWith('embedded'));
  }
  progress(`wrote bench/results/latest.json and latest.md${own.map((f) => `, ${f}`).join('')}; ${fmt((performance.now() - started) / 1000, 1)} s in all`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
