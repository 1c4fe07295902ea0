/**
 * `omega serve`'s HTTP server, chosen by measurement: a minimal relay on node:http and on
 * fastify (same handler, bench/http-relay.ts), and the real `omega serve` (dist build, default
 * log level, no memory), each in its own process in front of the synthetic Ollama, against the
 * client going straight to that server. Figures: streamed chunks/s (20,000-chunk streams,
 * median of 5), time to first chunk (median of 200 one-chunk streams), non-streamed req/s at
 * concurrency 32 (1,000 requests), each the median over 5 rounds in which the targets take turns
 * in rotated order (the machine is shared: alternation keeps load drift out of the ratios), and
 * omega serve's RSS with 1,000 concurrent streams.
 * Usage: npm run build && node --import tsx bench/http-choice.ts [--quick]
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { rawChat, rawStream } from './clients.js';
import { spawnBenchServer } from './spawn.js';
import { fmt, median, rotate } from './stats.js';

const QUICK = process.argv.includes('--quick');
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const STREAM_N = 20_000;
/** Rounds; in each, every target is measured once, in a rotated order, so drifting machine load hits all alike. */
const ROUNDS = QUICK ? 1 : 5;
const STREAM_RUNS = 2;
const TTFB_RUNS = QUICK ? 40 : 60;
const SINGLE_TOTAL = QUICK ? 400 : 1000;
const CONCURRENCY = 32;

interface Target {
  name: string;
  url: string;
  child?: ChildProcess;
}

async function relay(kind: 'node' | 'fastify', upstream: string): Promise<Target> {
  const child = fork(join(ROOT, 'bench', 'http-relay.ts'), [kind, upstream], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((res) => child.on('message', (m: { port?: number }) => m.port !== undefined && res(m.port)));
  return { name: kind === 'node' ? 'node:http relay' : 'fastify relay', url: `http://127.0.0.1:${port}`, child };
}

async function omegaServe(upstream: string, dir: string): Promise<Target> {
  const config = join(dir, 'config.toml');
  writeFileSync(config, `[provider.ollama]\nbase_url = "${upstream}"\nmodel = "bench-n100"\n\n[provider.ollama.timeouts]\nidle = 60\n`);
  const srv = await import('node:net').then(
    (net) =>
      new Promise<number>((res) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => res(p));
        });
      }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--listen', `127.0.0.1:${srv}`, '--config', config, '--no-memory'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: dir },
  });
  await new Promise<void>((res, rej) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) res();
    });
    child.once('exit', (code) => rej(new Error(`omega serve exited (${code}): ${err}`)));
  });
  // Keep draining the access log so the pipe never blocks the server.
  child.stderr!.resume();
  return { name: 'omega serve', url: `http://127.0.0.1:${srv}`, child };
}

async function streamed(t: Target, agent: Agent): Promise<number> {
  const rates: number[] = [];
  await rawStream(agent, t.url, `bench-n${STREAM_N}`);
  for (let i = 0; i < STREAM_RUNS; i++) {
    const r = await rawStream(agent, t.url, `bench-n${STREAM_N}`);
    if (r.chunks !== STREAM_N) throw new Error(`${t.name}: ${r.chunks} chunks`);
    rates.push(r.chunks / (r.totalMs / 1000));
  }
  return median(rates);
}

async function firstChunk(t: Target, agent: Agent): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < TTFB_RUNS; i++) ms.push((await rawStream(agent, t.url, 'bench-n1')).firstMs);
  return median(ms);
}

async function single(t: Target, agent: Agent): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next++ < SINGLE_TOTAL) await rawChat(agent, t.url, 'bench-n100');
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return SINGLE_TOTAL / ((performance.now() - t0) / 1000);
}

async function rssWith1000Streams(t: Target): Promise<number> {
  const agent = new Agent({ connections: 1000 });
  const calls = Array.from({ length: 1000 }, () => rawStream(agent, t.url, 'slow-i20-n100'));
  await new Promise((r) => setTimeout(r, 1000));
  const { body } = await request(`${t.url}/metrics`, { dispatcher: agent });
  const text = await body.text();
  await Promise.all(calls);
  await agent.close();
  const m = /^omega_process_resident_memory_bytes (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const upstream = await spawnBenchServer();
  const dir = mkdtempSync(join(tmpdir(), 'omega-http-choice-'));
  const targets: Target[] = [{ name: 'direct', url: upstream.url }, await relay('node', upstream.url), await relay('fastify', upstream.url), await omegaServe(upstream.url, dir)];
  const rows: string[][] = [];
  const figures = new Map<string, { s: number[]; f: number[]; q: number[] }>(targets.map((t) => [t.name, { s: [], f: [], q: [] }]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of rotate(targets, round)) {
        const agent = new Agent({ connections: 64 });
        const fig = figures.get(t.name)!;
        fig.s.push(await streamed(t, agent));
        fig.f.push(await firstChunk(t, agent));
        fig.q.push(await single(t, agent));
        await agent.close();
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
    const d = figures.get('direct')!;
    const [ds, df, dq] = [median(d.s), median(d.f), median(d.q)];
    for (const t of targets) {
      const fig = figures.get(t.name)!;
      const [s, f, q] = [median(fig.s), median(fig.f), median(fig.q)];
      rows.push([t.name, fmt(s), `${fmt(s / ds, 2)}x`, fmt(f, 3), t.name === 'direct' ? '–' : fmt(f - df, 3), fmt(q), `${fmt(q / dq, 2)}x`]);
    }
    const rss = await rssWith1000Streams(targets[3]!);
    const head = ['target', 'streamed chunks/s', 'vs direct', 'first chunk ms (median)', 'added ms', `req/s at c=${CONCURRENCY}`, 'vs direct'];
    const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
    process.stdout.write(`${out}\n\nomega serve RSS with 1,000 concurrent streams: ${fmt(rss / 1024 / 1024)} MiB\n`);
  } finally {
    for (const t of targets) t.child?.kill('SIGKILL');
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
