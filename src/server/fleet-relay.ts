/**
 * `omega serve` in front of an Ollama fleet: the byte relay of the Ollama-native endpoints that
 * talk to one Ollama server (upstream.ts) made fleet-aware. Calls about one model (`/api/show`,
 * embeddings, relayed generation) go to a healthy host that has it, through the fleet's router
 * and slots, with the host named in `x-omega-host`; calls about the servers themselves are
 * merged over the hosts (`/api/tags` is a union, `/api/ps` lists every host's loaded models,
 * `/api/version` the lowest version any host runs); `/api/pull` pulls on every host with one
 * combined progress stream, or on the one host a client names. See docs/fleet.md.
 */
import type { Dispatcher } from 'undici';
import { ProviderError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FleetLease, OllamaFleet } from '../providers/ollama/fleet/index.js';
import { modelKey } from '../providers/ollama/fleet/index.js';
import type { PullProgress } from '../providers/ollama/types.js';
import { HttpError } from './errors.js';
import type { Exchange } from './exchange.js';
import { StreamWriter, sendJson } from './exchange.js';
import { OllamaUpstream, relayResponse, upstreamError } from './upstream.js';

/** Header naming the fleet host that answered a routed call (and, on a request, the host a pull goes to). */
export const HOST_HEADER = 'x-omega-host';
/** Header listing the hosts whose answers a merged call (`/api/tags`, `/api/ps`) contains. */
export const HOSTS_HEADER = 'x-omega-hosts';

/** Calls that ask every host about itself give up on a silent host after this. */
const META_TIMEOUT_MS = 3000;

/** A failure worth another host: the host did not answer, or answered with a server error. */
function hostFailure(error: unknown): boolean {
  return error instanceof ProviderError && (error.code === 'unavailable' || error.code === 'timeout' || error.code === 'server_error' || error.code === 'busy');
}

/** Compares two Ollama versions (`0.9.6`, `0.17.4-rc1`) numerically; a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): { nums: number[]; pre: boolean } => {
    const [main = '', pre] = v.trim().replace(/^v/, '').split('-', 2);
    return { nums: main.split('.').map((x) => Number.parseInt(x, 10) || 0), pre: pre !== undefined };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.pre === y.pre ? 0 : x.pre ? -1 : 1;
}

/** One host's share of a fleet-wide pull, as the combined progress counts it. */
interface LayerShare {
  total: number;
  completed: number;
}

/** The fleet as `omega serve`'s Ollama front end uses it. */
export class FleetRelay {
  private readonly upstreams = new Map<string, OllamaUpstream>();

  constructor(
    readonly fleet: OllamaFleet,
    private readonly logger: Logger,
    /** Called when a relayed call leaves a failing host for another (for `/metrics`). */
    private readonly onFailover: (from: string, code: string) => void = () => {},
  ) {}

  /** The connection pool to one host (created on first use, with that host's timeouts). */
  upstream(host: string): OllamaUpstream {
    let u = this.upstreams.get(host);
    if (u === undefined) {
      const provider = this.fleet.providerFor(host);
      u = new OllamaUpstream(host, provider?.timeouts, 'its [[provider.ollama.hosts]] url');
      this.upstreams.set(host, u);
    }
    return u;
  }

  /** How many hosts one call may try. */
  get maxAttempts(): number {
    return Math.max(1, this.fleet.options.maxAttempts);
  }

  /** Notes a failover away from `host`. */
  failedOver(host: string, error: unknown, model: string): void {
    const code = error instanceof ProviderError ? error.code : 'error';
    this.onFailover(host, code);
    this.logger.warn({ model, host, code }, 'fleet host failed before the first byte; trying the next best host');
  }

  /**
   * Sends a request about `model` to a host holding one of its slots, failing over to the next
   * best host while nothing has been written; `use` writes the answer. The slot is released
   * with the outcome, so the fleet's passive health checks see it.
   */
  async withSlot(
    ex: Exchange,
    model: string,
    send: (upstream: OllamaUpstream, lease: FleetLease) => Promise<Dispatcher.ResponseData>,
    use: (res: Dispatcher.ResponseData, lease: FleetLease) => Promise<void>,
  ): Promise<void> {
    const exclude = new Set<string>();
    let last: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let lease: FleetLease;
      try {
        lease = await this.fleet.acquire(model, { exclude, signal: ex.signal });
      } catch (error) {
        // No other host: the last host's own failure says more than "no host left".
        throw last ?? error;
      }
      let res: Dispatcher.ResponseData;
      try {
        res = await send(this.upstream(lease.host), lease);
      } catch (error) {
        lease.release({ error });
        if (!hostFailure(error) || ex.signal.aborted || attempt === this.maxAttempts) throw error;
        this.failedOver(lease.host, error, model);
        exclude.add(lease.host);
        last = error;
        continue;
      }
      // A server error, or a model the host no longer has (its list was stale): the next host may do.
      if ((res.statusCode >= 500 || res.statusCode === 404) && attempt < this.maxAttempts) {
        const error = upstreamError(res.statusCode, await res.body.text());
        lease.release({ error });
        this.failedOver(lease.host, error, model);
        exclude.add(lease.host);
        last = error;
        continue;
      }
      let failure: unknown;
      try {
        await use(res, lease);
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        const broke = ex.errorCode === 'connection_lost' ? new ProviderError({ provider: 'ollama', code: 'connection_lost', message: `${lease.host} broke off the answer.` }) : undefined;
        const outcome = failure ?? broke ?? (res.statusCode >= 400 ? upstreamError(res.statusCode, '') : undefined);
        lease.release(outcome === undefined ? undefined : { error: outcome });
      }
      return;
    }
    throw last;
  }

  /** Relays a call about `model` (embeddings) to a host with a free slot; the answer names the host. */
  async relayModelCall(ex: Exchange, model: string, path: string, body: unknown): Promise<void> {
    await this.withSlot(
      ex,
      model,
      (upstream) => upstream.send('POST', path, body, ex.signal, true),
      (res, lease) => relayResponse(ex, res, 'POST', { [HOST_HEADER]: lease.host }),
    );
  }

  /** A JSON call about `model` (OpenAI embeddings) on a host with a free slot; the value and the host. */
  async modelJson<T>(ex: Exchange, model: string, path: string, body: unknown): Promise<{ value: T; host: string }> {
    let out: { value: T; host: string } | undefined;
    await this.withSlot(
      ex,
      model,
      (upstream) => upstream.send('POST', path, body, ex.signal, true),
      async (res, lease) => {
        const text = await res.body.text();
        if (res.statusCode >= 400) throw upstreamError(res.statusCode, text);
        out = { value: JSON.parse(text) as T, host: lease.host };
      },
    );
    if (out === undefined) throw new ProviderError({ provider: 'ollama', code: 'protocol', message: `No answer from the fleet for ${path}.` });
    return out;
  }

  /**
   * `/api/show` on a healthy host that has `model` (no slot needed: nothing runs), the next one
   * when that host does not answer. Discovery is refreshed once when no host lists the model.
   */
  async show(ex: Exchange, model: string, body: unknown): Promise<void> {
    let hosts = this.hostsWith(model);
    if (hosts.length === 0) {
      await this.fleet.refresh();
      hosts = this.hostsWith(model);
    }
    if (hosts.length === 0) throw new HttpError(404, `model '${model}' not found`, 'model_not_found', 'model');
    let last: unknown;
    for (const host of hosts.slice(0, this.maxAttempts)) {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.upstream(host).send('POST', '/api/show', body, ex.signal);
      } catch (error) {
        if (!hostFailure(error) || ex.signal.aborted) throw error;
        this.failedOver(host, error, model);
        last = error;
        continue;
      }
      await relayResponse(ex, res, 'POST', { [HOST_HEADER]: host });
      return;
    }
    throw last;
  }

  /** Hosts that list `model` and are not known to be down: the router's choice first. */
  hostsWith(model: string): string[] {
    const key = modelKey(model);
    const snap = this.fleet.snapshot();
    const healthy = snap.hosts.filter((h) => h.up && h.circuit !== 'open' && h.models.includes(key)).map((h) => h.url);
    const best = this.fleet.hostForModel(model);
    return best !== undefined && healthy.includes(best) ? [best, ...healthy.filter((h) => h !== best)] : healthy;
  }

  /** Asks every host for JSON at `path`; hosts that fail are left out (and logged). */
  private async everyHost<T>(path: string, signal: AbortSignal): Promise<{ host: string; value: T }[]> {
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(META_TIMEOUT_MS)]);
    const answers = await Promise.all(
      this.fleet.hostUrls.map(async (host): Promise<{ host: string; value: T } | undefined> => {
        try {
          const value: T = await this.upstream(host).json<T>('GET', path, undefined, bounded);
          return { host, value };
        } catch (error) {
          this.logger.warn({ host, path, err: error instanceof Error ? error.message : String(error) }, 'a fleet host did not answer');
          return undefined;
        }
      }),
    );
    return answers.filter((a): a is { host: string; value: T } => a !== undefined);
  }

  /** The union of every host's `/api/tags` entries, once per name (the first host's entry wins). */
  async tags(signal: AbortSignal): Promise<{ models: Record<string, unknown>[]; hosts: string[] }> {
    const answers = await this.everyHost<{ models?: Record<string, unknown>[] | null }>('/api/tags', signal);
    if (answers.length === 0) {
      throw new ProviderError({ provider: 'ollama', code: 'unavailable', message: `No Ollama host of the fleet answered (${this.fleet.hostUrls.join(', ')}); start one with \`ollama serve\`.` });
    }
    const seen = new Set<string>();
    const models: Record<string, unknown>[] = [];
    for (const { value } of answers) {
      for (const m of value.models ?? []) {
        const name = String(m.name ?? m.model ?? '');
        if (seen.has(name)) continue;
        seen.add(name);
        models.push(m);
      }
    }
    return { models, hosts: answers.map((a) => a.host) };
  }

  /** `/api/ps` of every host that answers, one after the other. */
  async ps(ex: Exchange): Promise<void> {
    const answers = await this.everyHost<{ models?: Record<string, unknown>[] | null }>('/api/ps', ex.signal);
    const models = answers.flatMap((a) => a.value.models ?? []);
    sendJson(ex, 200, { models }, { [HOSTS_HEADER]: answers.map((a) => a.host).join(', ') });
  }

  /** The lowest version any host that answers runs (what every host supports); undefined when none answers. */
  async version(signal: AbortSignal): Promise<string | undefined> {
    const answers = await this.everyHost<{ version?: unknown }>('/api/version', signal);
    const versions = answers.map((a) => a.value.version).filter((v): v is string => typeof v === 'string' && v !== '');
    return versions.sort(compareVersions)[0];
  }

  /** The configured host a client named (`x-omega-host` header or `?host=`), or undefined for every host. */
  namedHost(ex: Exchange): string | undefined {
    const header = ex.req.headers[HOST_HEADER];
    const q = (ex.req.url ?? '').indexOf('?');
    const query = q === -1 ? null : new URLSearchParams((ex.req.url ?? '').slice(q + 1)).get('host');
    const raw = typeof header === 'string' && header.trim() !== '' ? header.trim() : query !== null && query.trim() !== '' ? query.trim() : undefined;
    if (raw === undefined) return undefined;
    const wanted = raw.replace(/\/+$/, '');
    const host = this.fleet.hostUrls.find((h) => h === wanted || h.replace(/^https?:\/\//, '') === wanted);
    if (host === undefined) {
      throw new HttpError(400, `${raw} is not a host of this fleet; name one of ${this.fleet.hostUrls.join(', ')}, or leave ${HOST_HEADER} out to pull on every host.`, 'bad_request', 'host');
    }
    return host;
  }

  /**
   * `/api/pull` on every host at once, as one progress stream in Ollama's shape: each status
   * line once, each layer's bytes summed over the hosts (so one bar per layer shows the whole
   * fleet's progress), and `success` only when every host succeeded; otherwise the last line is
   * an error naming the hosts that failed. `stream: false` answers once, at the end.
   */
  async pullAll(ex: Exchange, model: string, body: Record<string, unknown>): Promise<void> {
    const stream = body.stream !== false;
    const writer = stream ? new StreamWriter(ex, 200, { 'content-type': 'application/x-ndjson', [HOSTS_HEADER]: this.fleet.hostUrls.join(', ') }) : undefined;
    const statuses = new Set<string>();
    const layers = new Map<string, Map<string, LayerShare>>();
    const onProgress = (host: string, p: PullProgress): void => {
      if (writer === undefined) return;
      if (p.digest !== undefined && p.total !== undefined && p.total > 0) {
        const shares = layers.get(p.digest) ?? new Map<string, LayerShare>();
        layers.set(p.digest, shares);
        shares.set(host, { total: p.total, completed: p.completed ?? 0 });
        let total = 0;
        let completed = 0;
        for (const s of shares.values()) {
          total += s.total;
          completed += s.completed;
        }
        writer.write(`${JSON.stringify({ status: p.status, digest: p.digest, total, completed })}\n`);
        return;
      }
      // `success` is the fleet's to say, once every host is done.
      if (p.status === 'success' || statuses.has(p.status)) return;
      statuses.add(p.status);
      writer.write(`${JSON.stringify({ status: p.status })}\n`);
    };
    const results = await this.fleet.pull(model, { onProgress, signal: ex.signal, insecure: body.insecure === true });
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const detail = failed.map((r) => `${r.host}: ${r.error?.message ?? 'failed'}`).join('; ');
      const okHosts = results.filter((r) => r.ok).map((r) => r.host);
      const message = `pull failed on ${failed.length} of ${results.length} hosts (${detail})${okHosts.length > 0 ? `; it succeeded on ${okHosts.join(', ')}` : ''}`;
      ex.errorCode = 'pull_failed';
      this.logger.warn({ model, failed: failed.map((r) => r.host) }, 'fleet pull failed on some hosts');
      if (writer !== undefined) writer.end(`${JSON.stringify({ error: message })}\n`);
      else if (okHosts.length === 0 && failed[0]?.error instanceof ProviderError) throw new ProviderError({ provider: 'ollama', code: failed[0].error.code, message, providerMessage: message, ...(failed[0].error.status === undefined ? {} : { status: failed[0].error.status }) });
      else sendJson(ex, 500, { error: message });
      return;
    }
    if (writer !== undefined) writer.end(`${JSON.stringify({ status: 'success' })}\n`);
    else sendJson(ex, 200, { status: 'success' }, { [HOSTS_HEADER]: this.fleet.hostUrls.join(', ') });
  }

  /** `/api/pull` relayed byte for byte to one named host. */
  async pullOne(ex: Exchange, host: string, body: unknown): Promise<void> {
    const res = await this.upstream(host).send('POST', '/api/pull', body, ex.signal);
    await relayResponse(ex, res, 'POST', { [HOST_HEADER]: host });
  }

  /** Releases every host's pooled connections (the fleet itself is closed with the gateway). */
  async close(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
    this.upstreams.clear();
  }
}
