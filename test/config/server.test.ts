/**
 * The `[server]` section: defaults, validation messages, and tokens from the environment or a
 * file (never from config.toml, never in a message).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { DEFAULT_BODY_LIMIT_BYTES, isLoopbackHost, parseListen, parseServerSection } from '../../src/config/server.js';
import { loadConfig } from '../../src/config/load.js';

describe('[server] config', () => {
  test('defaults: loopback 11435, no tokens, CORS off, 32 MiB, 30 s drain', () => {
    const c = parseServerSection(undefined, { env: {} });
    assert.deepEqual(c, {
      listen: { host: '127.0.0.1', port: 11435 },
      tokens: [],
      tokensSource: 'none',
      corsOrigins: [],
      bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
      drainTimeoutMs: 30_000,
      aliases: {},
    });
  });

  test('listen addresses, and what is loopback', () => {
    assert.deepEqual(parseListen('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListen('[::1]:11435'), { host: '::1', port: 11435 });
    assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
    for (const bad of ['11435', ':11435', 'host:99999', 'a b:1']) {
      assert.throws(() => parseListen(bad), (e: unknown) => e instanceof ConfigError && /must be host:port such as 127\.0\.0\.1:11435/.test(e.message), bad);
    }
    assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('192.168.1.2'));
  });

  test('tokens come from OMEGA_SERVER_TOKENS and tokens_file, never from the file itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omega-server-cfg-'));
    try {
      writeFileSync(join(dir, 'tokens'), '# one per line\nfile-token-aaaaaaaa\n\nfile-token-bbbbbbbb\n');
      const c = parseServerSection({ tokens_file: 'tokens' }, { file: join(dir, 'config.toml'), env: { OMEGA_SERVER_TOKENS: 'env-token-cccccccc, env-token-dddddddd' } });
      assert.deepEqual(c.tokens, ['file-token-aaaaaaaa', 'file-token-bbbbbbbb', 'env-token-cccccccc', 'env-token-dddddddd']);
      assert.equal(c.tokensSource, 'file');
      assert.throws(() => parseServerSection({ tokens: ['inline-secret-value'] }, { env: {} }), (e: unknown) => e instanceof ConfigError && e.key === 'server.tokens' && !e.message.includes('inline-secret-value'));
      assert.throws(() => parseServerSection(undefined, { env: { OMEGA_SERVER_TOKENS: 'short' } }), (e: unknown) => e instanceof ConfigError && /shorter than 8/.test(e.message) && !e.message.includes('short,'));
      assert.throws(() => parseServerSection({ tokens_file: 'missing' }, { file: join(dir, 'config.toml'), env: {} }), /Cannot read the server token file .*missing \(ENOENT\)/);
      writeFileSync(join(dir, 'config.toml'), '[server]\nlisten = "127.0.0.1:9999"\nbody_limit_mb = 1\ndrain_timeout = 2.5\ncors_origins = ["http://localhost:3000/"]\n\n[server.aliases]\n"gpt-4o-mini" = "ollama/llama3.2"\n');
      const loaded = loadConfig({ path: join(dir, 'config.toml'), env: {} }).config.server!;
      assert.deepEqual(loaded.listen, { host: '127.0.0.1', port: 9999 });
      assert.equal(loaded.bodyLimitBytes, 1024 * 1024);
      assert.equal(loaded.drainTimeoutMs, 2500);
      assert.deepEqual(loaded.corsOrigins, ['http://localhost:3000']);
      assert.deepEqual(loaded.aliases, { 'gpt-4o-mini': 'ollama/llama3.2' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad values name the key and what is expected', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ listen: 11435 }, /server\.listen must be a "host:port" string/],
      [{ body_limit_mb: -1 }, /server\.body_limit_mb must be a number of MiB/],
      [{ drain_timeout: 'soon' }, /server\.drain_timeout must be a number of seconds/],
      [{ cors_origins: 'http://x' }, /server\.cors_origins must be an array of origins/],
      [{ aliases: { a: 1 } }, /server\.aliases\."a" must be a model name/],
      [{ lisen: 'x' }, /Unknown key server\.lisen.*valid keys are listen/],
    ];
    for (const [table, re] of cases) assert.throws(() => parseServerSection(table, { env: {} }), (e: unknown) => e instanceof ConfigError && re.test(e.message), re.source);
  });
});
