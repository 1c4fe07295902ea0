/**
 * The cost of one routing decision of the Ollama fleet: its pure `route()` timed in this
 * process over synthetic host state at several fleet sizes. Nothing is sent anywhere; the
 * figure is the CPU the router adds to every request before any byte moves.
 *
 * The state is varied so that no decision is the same as the last one: each host has twenty
 * models, the requested one on about two thirds of the hosts and loaded on some of them,
 * in-flight counts between 0 and the slot count, a few circuits open or half-open, and a
 * sticky table of 1,000 conversations; half the decisions carry a sticky key (some pinned,
 * some not) and every one a different random number for the weighted tie-break.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { summarize } from './stats.js';
import type { Summary } from './stats.js';

/** The shapes `route()` takes (src/providers/ollama/fleet/types.ts), restated so this file loads any build. */
interface HostView {
  url: string;
  weight: number;
  labels: readonly string[];
  circuit: 'closed' | 'open' | 'half_open';
  trialBusy: boolean;
  models: ReadonlySet<string>;
  loaded: ReadonlySet<string>;
  inFlight: ReadonlyMap<string, number>;
  slots: number;
}
interface RouteContext {
  stickyKey?: string;
  exclude?: ReadonlySet<string>;
}
interface RouteState {
  sticky: ReadonlyMap<string, { host: string; expiresAt: number }>;
  now: number;
  random: number;
}
type RouteFn = (model: string, hosts: readonly HostView[], ctx: RouteContext, state: RouteState) => { host?: string; none?: string };

/** Routing cost at one fleet size. */
export interface RoutePoint {
  hosts: number;
  /** µs per decision over the runs. */
  micros: Summary;
  /** How the decisions came out (host chosen, or why none), over one run: shows the state is varied. */
  outcomes: Record<string, number>;
}

/** The routing-cost figures. */
export interface RouteCost {
  points: RoutePoint[];
  /** Where `route()` came from. */
  module?: string;
  note?: string;
  unavailable?: string;
}

/** A tiny deterministic generator, so every run times the same state. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const MODEL = 'qwen3:8b';

/** `n` synthetic hosts. */
export function syntheticHosts(n: number, seed = 42): HostView[] {
  const rnd = lcg(seed + n);
  const hosts: HostView[] = [];
  for (let i = 0; i < n; i++) {
    const slots = 1 + Math.floor(rnd() * 4);
    const models = new Set<string>();
    for (let m = 0; m < 19; m++) models.add(`model-${(i + m) % 40}:latest`);
    const has = rnd() < 0.67 || i === 0;
    if (has) models.add(MODEL);
    const loaded = new Set<string>();
    if (has && rnd() < 0.4) loaded.add(MODEL);
    loaded.add(`model-${i % 40}:latest`);
    const inFlight = new Map<string, number>();
    if (has) inFlight.set(MODEL, Math.floor(rnd() * (slots + 1)));
    inFlight.set(`model-${i % 40}:latest`, Math.floor(rnd() * 2));
    const r = rnd();
    hosts.push({
      url: `http://10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:11434`,
      weight: 1 + Math.floor(rnd() * 3),
      labels: i % 3 === 0 ? ['gpu'] : [],
      circuit: r < 0.06 ? 'open' : r < 0.09 ? 'half_open' : 'closed',
      trialBusy: r >= 0.075 && r < 0.09,
      models,
      loaded,
      inFlight,
      slots,
    });
  }
  return hosts;
}

/** Where `route()` is loaded from: the build in dist/ unless told otherwise. */
export function defaultRouteModuleUrl(source: 'dist' | 'src' = 'dist'): string {
  const root = fileURLToPath(new URL('../', import.meta.url));
  return pathToFileURL(`${root}${source}/providers/ollama/fleet/router.${source === 'dist' ? 'js' : 'ts'}`).href;
}

/** Times `route()` at each host count. */
export async function measureRouteCost(cfg: { hostCounts: number[]; iterations: number; runs: number }, moduleUrl = defaultRouteModuleUrl()): Promise<RouteCost> {
  let route: RouteFn;
  try {
    const mod = (await import(moduleUrl)) as { route?: unknown };
    if (typeof mod.route !== 'function') return { points: [], module: moduleUrl, unavailable: `${moduleUrl} exports no route()` };
    route = mod.route as RouteFn;
  } catch (err) {
    return { points: [], module: moduleUrl, unavailable: `could not load ${moduleUrl}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const points: RoutePoint[] = [];
  for (const n of cfg.hostCounts) {
    const hosts = syntheticHosts(n);
    const rnd = lcg(7 * n);
    const now = 1_000_000;
    const sticky = new Map<string, { host: string; expiresAt: number }>();
    for (let k = 0; k < 1000; k++) {
      const h = hosts[Math.floor(rnd() * n)] as HostView;
      sticky.set(`conv-${k}`, { host: h.url, expiresAt: k % 10 === 0 ? now - 1 : now + 60_000 });
    }
    const state: RouteState = { sticky, now, random: 0 };
    // Pre-built contexts and random numbers, cycled, so the loop times route() and little else.
    const CASES = 1024;
    const ctxs: RouteContext[] = [];
    const randoms: number[] = [];
    for (let k = 0; k < CASES; k++) {
      const c: RouteContext = {};
      if (k % 2 === 0) c.stickyKey = `conv-${Math.floor(rnd() * 1500)}`;
      if (k % 16 === 1) c.exclude = new Set([(hosts[0] as HostView).url]);
      ctxs.push(c);
      randoms.push(rnd());
    }
    const outcomes: Record<string, number> = {};
    let sink = 0;
    const once = (count: boolean): number => {
      const t0 = performance.now();
      for (let i = 0; i < cfg.iterations; i++) {
        const k = i & (CASES - 1);
        state.random = randoms[k] as number;
        const d = route(MODEL, hosts, ctxs[k] as RouteContext, state);
        if (d.host !== undefined) sink += d.host.length;
        if (count) {
          const key = d.host !== undefined ? 'routed' : `none: ${d.none ?? '?'}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
        }
      }
      return ((performance.now() - t0) * 1000) / cfg.iterations;
    };
    // Warm-up until the JIT has settled, then the counted runs.
    once(false);
    once(false);
    const xs: number[] = [];
    for (let r = 0; r < cfg.runs; r++) xs.push(once(r === 0));
    if (sink === -1) console.log(sink);
    points.push({ hosts: n, micros: summarize(xs), outcomes });
  }
  return {
    points,
    module: moduleUrl,
    note:
      'Synthetic state: 20 models per host, the requested one on about two thirds of the hosts, in-flight counts up to the slots, ' +
      '6 % of circuits open and 3 % half-open, 1,000 sticky conversations (half the decisions name one). ' +
      `Outcomes of the first run: ${points.map((p) => `${p.hosts} hosts: ${Object.entries(p.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('; ')}.`,
  };
}
