/**
 * `omega pull MODEL`: downloads a model into Ollama with a progress bar per layer.
 */
import { Command } from 'commander';
import type cliProgress from 'cli-progress';
import { ProviderError, UsageError } from '../../core/errors.js';
import { OllamaProvider, ollamaSpec } from '../../providers/ollama/index.js';
import { OllamaFleet } from '../../providers/ollama/fleet/index.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { FleetPullView, hostLabel, pullOnEveryHost } from '../fleet-pull.js';
import { formatBytes, formatDuration, formatRate, progressBars, type OutStream, type Style } from '../output.js';

/** One line of pull progress, as the Ollama provider yields it. */
interface Progress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

/** Throughput over a sliding window, so the speed and ETA follow the current rate. */
class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  add(bytes: number, now: number = performance.now()): void {
    this.samples.push({ t: now, bytes });
    while (this.samples.length > 2 && now - (this.samples[0]?.t ?? now) > 5000) this.samples.shift();
  }

  /** Bytes per second, or 0 until there are two samples. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.t - first.t < 200) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

interface Layer {
  short: string;
  total: number;
  completed: number;
  meter: RateMeter;
  lastPrinted: number;
  done: boolean;
}

function layerTexts(layer: Layer): { done: string; size: string; speed: string; left: string } {
  const rate = layer.meter.rate();
  const remaining = layer.total - layer.completed;
  return {
    done: formatBytes(layer.completed),
    size: formatBytes(layer.total),
    speed: formatRate(rate),
    // Not `eta`: cli-progress fills a token of that name itself, in raw seconds.
    left: layer.done || remaining <= 0 ? '0s' : rate > 0 ? formatDuration((remaining / rate) * 1000) : '-',
  };
}

/** Draws pull progress; one implementation for terminals, one for logs and pipes. */
interface PullView {
  status(line: string): void;
  layer(digest: string, total: number, completed: number): void;
  stop(): void;
}

/** cli-progress bars, one per layer, redrawn in place. */
class BarView implements PullView {
  private readonly stream: OutStream;
  private readonly style: Style;
  private multibar: cliProgress.MultiBar | undefined;
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; layer: Layer }>();

  constructor(stream: OutStream, style: Style) {
    this.stream = stream;
    this.style = style;
  }

  status(line: string): void {
    // Status lines come between layers, so the bars above are finished: freeze them first.
    this.stopBars();
    this.stream.write(`${line}\n`);
  }

  layer(digest: string, total: number, completed: number): void {
    let entry = this.bars.get(digest);
    if (entry === undefined) {
      this.multibar ??= progressBars(this.stream, this.style, '{speed} | ETA {left}');
      const layer: Layer = { short: shortDigest(digest), total, completed, meter: new RateMeter(), lastPrinted: 0, done: false };
      layer.meter.add(completed);
      const bar = this.multibar.create(total, completed, { label: `pulling ${layer.short}`, ...layerTexts(layer) });
      entry = { bar, layer };
      this.bars.set(digest, entry);
    }
    const { bar, layer } = entry;
    layer.total = total;
    layer.completed = completed;
    layer.meter.add(completed);
    layer.done = completed >= total;
    bar.setTotal(total);
    bar.update(completed, layerTexts(layer));
  }

  private stopBars(): void {
    if (this.multibar === undefined) return;
    this.multibar.stop();
    this.multibar = undefined;
    this.bars.clear();
  }

  stop(): void {
    this.stopBars();
  }
}

/** Plain lines: a layer's progress at most every few seconds, plus its completion. */
class LineView implements PullView {
  private readonly stream: OutStream;
  private readonly layers = new Map<string, Layer>();
  private lastStatus = '';

  constructor(stream: OutStream) {
    this.stream = stream;
  }

  status(line: string): void {
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.stream.write(`${line}\n`);
  }

  layer(digest: string, total: number, completed: number): void {
    let layer = this.layers.get(digest);
    const now = performance.now();
    if (layer === undefined) {
      layer = { short: shortDigest(digest), total, completed, meter: new RateMeter(), lastPrinted: 0, done: false };
      this.layers.set(digest, layer);
    }
    if (layer.done) return;
    layer.total = total;
    layer.completed = completed;
    layer.meter.add(completed, now);
    layer.done = completed >= total;
    if (!layer.done && layer.lastPrinted !== 0 && now - layer.lastPrinted < 2000) return;
    layer.lastPrinted = now;
    const t = layerTexts(layer);
    const percent = total > 0 ? Math.floor((completed / total) * 100) : 100;
    const tail = layer.done ? '' : `, ${t.speed}, ETA ${t.left}`;
    this.lastStatus = '';
    this.stream.write(`pulling ${layer.short}: ${percent}% (${t.done}/${t.size}${tail})\n`);
  }

  stop(): void {}
}

/** Ollama's own short form of a layer digest: 12 hex digits after `sha256:`. */
function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * A pull failure as the user should see it. The provider already words registry errors
 * (unknown model, registry unreachable); only a malformed name is re-cast as a usage error.
 */
function pullError(model: string, error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  const detail = error.providerMessage ?? error.message;
  if (error.code === 'bad_request' && /invalid model name/i.test(detail)) {
    return new UsageError(`"${model}" is not a valid model name; use a name like llama3.2 or llama3.2:1b.`, { cause: error });
  }
  return error;
}

/** Builds the `pull` command. */
export function pullCommand(ctx: CliContext): Command {
  return new Command('pull')
    .description('download a model into Ollama, with progress')
    .argument('<model>', 'model name, e.g. llama3.2 or llama3.2:1b')
    .option('--insecure', 'allow an insecure (http, self-signed) registry')
    .option('--all-hosts', 'with several [[provider.ollama.hosts]]: pull on every host at once, a progress bar per host')
    .option('--host <url>', 'with several [[provider.ollama.hosts]]: pull on this one host only')
    .addHelpText(
      'after',
      '\nExamples:\n  omega pull llama3.2\n  omega pull qwen3:0.6b\n  omega pull qwen3:8b --all-hosts\n  omega pull qwen3:8b --host http://192.168.1.20:11434\n\n' +
        'With --all-hosts the exit status is 1 when the pull failed on any host.',
    )
    .action(async (model: string, options: { insecure?: boolean; allHosts?: boolean; host?: string }) => {
      const config = ctx.config.provider.ollama;
      if (config.hosts !== undefined) {
        await fleetPull(ctx, model, options);
        return;
      }
      if (options.host !== undefined && options.host.replace(/\/+$/, '') !== config.baseUrl) {
        throw new UsageError(`--host names one of several [[provider.ollama.hosts]], and none are configured; set [provider.ollama] base_url to ${options.host} instead.`);
      }
      const provider = OllamaProvider.fromConfig(config, ctx.logger);
      await pullWithView(ctx, provider, model, options.insecure === true);
    });
}

/** One Ollama's pull, with a bar (terminal) or lines (pipe) per layer. */
async function pullWithView(ctx: CliContext, provider: OllamaProvider, model: string, insecure: boolean, close = true): Promise<void> {
  const stream = ctx.io.stderr;
  const view: PullView = stream.isTTY === true ? new BarView(stream, ctx.err) : new LineView(stream);
  try {
    await ctx.interruptible(async (signal) => {
      for await (const progress of provider.pull(model, { signal, insecure }) as AsyncIterable<Progress>) {
        if (progress.digest !== undefined && progress.total !== undefined && progress.total > 0) {
          view.layer(progress.digest, progress.total, progress.completed ?? 0);
        } else {
          view.status(progress.status);
        }
      }
    });
  } catch (error) {
    throw pullError(model, error);
  } finally {
    view.stop();
    if (close) await provider.close();
  }
}

/**
 * `omega pull` with several hosts: every host at once (`--all-hosts`), or the one `--host`
 * names. Without either it refuses, since a pull can be many gigabytes per host.
 */
async function fleetPull(ctx: CliContext, model: string, options: { insecure?: boolean; allHosts?: boolean; host?: string }): Promise<void> {
  const fleet = ollamaSpec.create(ctx.config.provider.ollama, ctx.logger);
  try {
    if (!(fleet instanceof OllamaFleet)) throw new UsageError('[[provider.ollama.hosts]] did not make a fleet; check the config with `omega status`.');
    const urls = fleet.hostUrls;
    if (options.host !== undefined) {
      const wanted = options.host.replace(/\/+$/, '');
      const url = urls.find((u) => u === wanted || hostLabel(u) === wanted);
      if (url === undefined) throw new UsageError(`--host ${options.host} is not one of the configured hosts (${urls.join(', ')}); use one of them, or --all-hosts.`);
      await pullWithView(ctx, fleet.providerFor(url) as OllamaProvider, model, options.insecure === true, false);
      return;
    }
    if (options.allHosts !== true) {
      throw new UsageError(`${urls.length} Ollama hosts are configured; add --all-hosts to pull ${model} on every one, or --host URL to pull it on one (${urls.join(', ')}).`);
    }
    const view = new FleetPullView(ctx.io.stderr, ctx.err, urls);
    let outcomes;
    try {
      outcomes = await ctx.interruptible((signal) => pullOnEveryHost(fleet, model, view, { signal, insecure: options.insecure === true }));
    } finally {
      view.stop();
    }
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length === 0) {
      ctx.io.stderr.write(`Pulled ${model} on all ${outcomes.length} hosts.\n`);
      return;
    }
    for (const f of failed) ctx.io.stderr.write(`omega: ${hostLabel(f.host)}: ${f.error ?? 'failed'}\n`);
    const ok = outcomes.length - failed.length;
    ctx.io.stderr.write(`omega: the pull of ${model} failed on ${failed.length} of ${outcomes.length} hosts${ok > 0 ? ` (it succeeded on ${ok})` : ''}; fix those hosts and run the same command again.\n`);
    ctx.exitCode = EXIT.error;
  } finally {
    await fleet.close();
  }
}
