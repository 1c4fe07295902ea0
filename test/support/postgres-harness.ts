/**
 * Runs a real, throwaway PostgreSQL cluster for the tests: Debian's `postgresql` binaries,
 * `initdb` into a temp directory, `postgres` on a free loopback port, password (SCRAM) auth
 * for TCP so a wrong password is refused the way a production server refuses it.
 *
 * initdb refuses to run as root, so as root every server command runs as the `postgres`
 * user through `runuser`. The cluster is always stopped and its directory removed: by
 * `stop()`, and on process exit or SIGINT/SIGTERM for anything still running.
 *
 * scripts/test.ts starts one shared cluster for a run and hands its URL down in
 * OMEGA_TEST_PG_URL; each suite then creates its own database ({@link usePostgresDatabase})
 * so suites never see each other's rows. Without the binaries the tests fail loudly unless
 * OMEGA_SKIP_POSTGRES=1 says to skip them.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { freePort } from './ollama-harness.js';

/** Env var through which the test runner hands its shared cluster (a superuser URL) to test files. */
export const SHARED_PG_URL_ENV = 'OMEGA_TEST_PG_URL';
/** Env var that skips every PostgreSQL test, with a banner. Without it, missing binaries fail the run. */
export const SKIP_PG_ENV = 'OMEGA_SKIP_POSTGRES';
/** Env var naming the directory of `initdb`, `pg_ctl` and `postgres` when they are not in Debian's place. */
export const PG_BIN_ENV = 'OMEGA_PG_BIN';

/** True when the PostgreSQL tests are to be skipped. */
export function skipPostgres(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[SKIP_PG_ENV];
  return v === '1' || v === 'true';
}

/** The reason string for `{ skip }`, or false when the tests run. */
export function postgresSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  return skipPostgres(env) ? `${SKIP_PG_ENV}=1: PostgreSQL tests are NOT RUN` : false;
}

/** A banner that is hard to miss in a CI log. */
export function postgresSkipBanner(): string {
  const line = '!'.repeat(78);
  return [
    line,
    `!!! ${SKIP_PG_ENV}=1 is set: the tests against a real PostgreSQL are SKIPPED.`,
    `!!! Install Debian's postgresql package and unset ${SKIP_PG_ENV} to run them.`,
    line,
  ].join('\n');
}

/**
 * The directory holding initdb/pg_ctl/postgres: $OMEGA_PG_BIN, else the newest
 * /usr/lib/postgresql/<version>/bin. Throws a message saying what to install when none exists.
 */
export function findPgBin(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[PG_BIN_ENV];
  if (explicit !== undefined && explicit !== '') {
    if (!existsSync(join(explicit, 'initdb'))) throw new Error(`${PG_BIN_ENV}=${explicit} has no initdb; point it at PostgreSQL's bin directory.`);
    return explicit;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      `PostgreSQL is not installed (no ${root}/<version>/bin/initdb): run \`apt-get install postgresql\`, set ${PG_BIN_ENV}, or set ${SKIP_PG_ENV}=1 to skip the PostgreSQL tests.`,
    );
  }
  return join(root, newest, 'bin');
}

/** A running throwaway cluster. */
export interface PostgresServer {
  /** Superuser URL with its password, e.g. `postgres://omega:...@127.0.0.1:40123/postgres`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The cluster's data directory. */
  readonly dir: string;
  /** Stops the server (fast shutdown: clients are disconnected) without removing the cluster. */
  halt(): void;
  /** Starts a halted server again on the same port. */
  resume(): void;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): void;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
}

const running = new Set<PostgresServer>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const server of running) server.stop();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const server of running) server.stop();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Runs a server command, as `postgres` through runuser when this process is root. */
function runAs(cmd: string, args: string[], asOther: boolean): { status: number | null; output: string } {
  const [file, argv] = asOther ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const result = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  log?: (line: string) => void;
  /** Registers exit/SIGINT/SIGTERM hooks that stop the server (true by default). */
  handleSignals?: boolean;
  /**
   * Keep PostgreSQL's durable defaults (fsync, synchronous_commit) instead of turning them off
   * for speed: for benchmarks, whose figures must be what a real server does.
   */
  durable?: boolean;
}

/** Creates and starts a throwaway cluster on a free loopback port. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = findPgBin();
  const log = options.log ?? (() => {});
  const asOther = process.getuid?.() === 0;
  // The `postgres` user must be able to reach the cluster's directory: a private TMPDIR of root's is not.
  const parent = asOther && (statSync(tmpdir()).mode & 0o001) === 0 ? '/tmp' : tmpdir();
  const dir = mkdtempSync(join(parent, 'omega-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pw');
  const user = 'omega';
  const password = randomBytes(12).toString('hex');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (asOther) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const uid = Number(ids.stdout.trim());
    const gid = Number(gids.stdout.trim());
    if (!(uid > 0)) throw new Error('Running as root but there is no `postgres` user to run the cluster as; install Debian\'s postgresql package.');
    chownSync(dir, uid, gid);
    chownSync(pwFile, uid, gid);
  }
  chmodSync(dir, 0o700);
  const port = await freePort();
  const host = '127.0.0.1';
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });

  const init = runAs(
    join(bin, 'initdb'),
    ['-D', data, '-U', user, `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
    asOther,
  );
  if (init.status !== 0) {
    cleanup();
    throw new Error(`initdb failed (${init.status}): ${init.output.trim().split('\n').slice(-5).join(' | ')}`);
  }
  // Durability is the kernel's job in a throwaway test cluster; fsync off makes it start and write fast.
  const fast = options.durable === true ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=${host} -c max_connections=200${fast}`;
  let up = false;
  const start = (): void => {
    const r = runAs(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start'], asOther);
    if (r.status !== 0) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
      throw new Error(`pg_ctl start failed (${r.status}): ${r.output.trim()} ${tail}`);
    }
    up = true;
  };
  const halt = (): void => {
    if (!up) return;
    runAs(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'], asOther);
    up = false;
  };
  try {
    start();
  } catch (error) {
    cleanup();
    throw error;
  }
  let stopped = false;
  const server: PostgresServer = {
    url: `postgres://${user}:${password}@${host}:${port}/postgres`,
    host,
    port,
    user,
    password,
    dir,
    halt,
    resume: start,
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      if (existsSync(data)) runAs(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], asOther);
      up = false;
      cleanup();
    },
    logTail(lines = 40) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
  running.add(server);
  if (options.handleSignals !== false) hookExit();
  log(`postgres on ${host}:${port} (${bin})`);
  return server;
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

let ownServer: Promise<PostgresServer> | undefined;

/**
 * The cluster for this test process: the runner's shared one (OMEGA_TEST_PG_URL), or one
 * started here for a file run on its own (stopped when the process exits).
 */
export async function testCluster(): Promise<{ url: string; server?: PostgresServer }> {
  const shared = process.env[SHARED_PG_URL_ENV];
  if (shared !== undefined && shared !== '') return { url: shared };
  ownServer ??= startPostgres();
  const server = await ownServer;
  return { url: server.url, server };
}

/** Creates a fresh database on the cluster at `url` and returns its URL. */
export async function createDatabase(url: string, prefix = 'omega_test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return withDatabase(url, name);
}

/** Drops the database of `dbUrl` (disconnecting anyone still on it). */
export async function dropDatabase(dbUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(dbUrl).pathname.slice(1));
  const admin = new pg.Client({ connectionString: withDatabase(dbUrl, 'postgres') });
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } catch {
    // The cluster may already be gone at the end of a run.
  } finally {
    await admin.end().catch(() => {});
  }
}

/** A suite's own database, live between its `before` and `after` hooks. */
export interface PostgresFixture {
  /** The database URL (with the password). */
  readonly url: string;
  /** The cluster's superuser URL. */
  readonly clusterUrl: string;
}

/**
 * Gives the enclosing suite its own database: created in `before`, dropped in `after`.
 * With OMEGA_SKIP_POSTGRES=1 the getters throw (callers pass {@link postgresSkipReason} as `skip`).
 */
export function usePostgresDatabase(): PostgresFixture {
  let url: string | undefined;
  let clusterUrl: string | undefined;
  before(async () => {
    if (skipPostgres()) return;
    clusterUrl = (await testCluster()).url;
    url = await createDatabase(clusterUrl);
  });
  after(async () => {
    if (url !== undefined) await dropDatabase(url);
  });
  return {
    get url() {
      if (url === undefined) throw new Error('the PostgreSQL database is not ready (outside the suite, or skipped)');
      return url;
    },
    get clusterUrl() {
      if (clusterUrl === undefined) throw new Error('the PostgreSQL cluster is not ready (outside the suite, or skipped)');
      return clusterUrl;
    },
  };
}
