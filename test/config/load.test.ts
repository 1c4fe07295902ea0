import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from '../../src/core/errors.js';
import {
  API_PROVIDER_DEFAULTS,
  DEFAULT_API_TIMEOUTS,
  DEFAULT_TIMEOUTS,
  configSearchPaths,
  defaultConfig,
  expandHome,
  loadConfig,
  parseConfig,
} from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/types.js';

const root = mkdtempSync(join(tmpdir(), 'omega-config-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCounter = 0;
/** A fresh directory layout: a fake home and a working directory, never the real ~. */
function sandbox(): { home: string; cwd: string } {
  const base = join(root, `case-${++dirCounter}`);
  const home = join(base, 'home');
  const cwd = join(base, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  return { home, cwd };
}

const FILE = '/etc/omega/config.toml';
const HOME = '/home/tester';

function parse(text: string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  return parseConfig(text, FILE, env, { home: HOME });
}

/** Runs `fn`, expecting a ConfigError, and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${inspect(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError, but nothing was thrown');
}

describe('defaults and zero-config', () => {
  test('defaultConfig: Ollama is the enabled default provider at localhost', () => {
    const config = defaultConfig({}, { home: HOME });
    assert.equal(config.provider.default, 'ollama');
    assert.deepEqual(config.provider.fallback, []);
    assert.equal(config.provider.ollama.enabled, true);
    assert.equal(config.provider.ollama.baseUrl, 'http://localhost:11434');
    assert.equal(config.provider.ollama.baseUrlSource, 'default');
    assert.equal(config.provider.ollama.model, 'llama3');
    assert.equal(config.provider.ollama.keepAlive, undefined);
    assert.deepEqual(config.provider.ollama.timeouts, { connectMs: 5000, loadMs: 600000, idleMs: 120000, requestMs: 0 });
    assert.deepEqual(config.provider.ollama.options, {});
  });

  test('defaultConfig: the other sections', () => {
    const config = defaultConfig({}, { home: HOME });
    assert.equal(config.omega.name, 'Omega');
    assert.equal(config.omega.dataDir, join(HOME, '.omega'));
    assert.equal(config.omega.logLevel, 'info');
    assert.ok(config.omega.systemPrompt.length > 0);
    assert.equal(config.memory.backend, 'sqlite');
    assert.equal(config.memory.dbPath, join(HOME, '.omega', 'data', 'memory.db'));
    assert.equal(config.memory.maxContextMessages, 50);
    for (const name of ['anthropic', 'openai', 'openrouter'] as const) {
      const p = config.provider[name];
      assert.equal(p.enabled, false, name);
      assert.equal(p.apiKey, undefined, name);
      assert.equal(p.baseUrl, API_PROVIDER_DEFAULTS[name].baseUrl);
      assert.equal(p.model, API_PROVIDER_DEFAULTS[name].model);
      assert.deepEqual(p.timeouts, DEFAULT_API_TIMEOUTS);
    }
    assert.equal(config.provider.anthropic.baseUrl, 'https://api.anthropic.com');
    assert.equal(config.provider.openai.baseUrl, 'https://api.openai.com/v1');
    assert.equal(config.provider.openrouter.baseUrl, 'https://openrouter.ai/api/v1');
    assert.equal(config.provider.anthropic.apiKeyEnv, 'ANTHROPIC_API_KEY');
    assert.deepEqual(config.provider['claude-code'], { enabled: false, command: 'claude', timeoutSecs: 300, maxTurns: 1 });
  });

  test('DEFAULT_TIMEOUTS match the brief', () => {
    assert.deepEqual({ ...DEFAULT_TIMEOUTS }, { connectMs: 5000, loadMs: 600000, idleMs: 120000, requestMs: 0 });
  });

  test('loadConfig without any file runs zero-config and reports no file', () => {
    const { home, cwd } = sandbox();
    const loaded = loadConfig({ env: {}, home, cwd });
    assert.equal(loaded.file, undefined);
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.config.provider.default, 'ollama');
    assert.equal(loaded.config.provider.ollama.enabled, true);
    assert.equal(loaded.config.omega.dataDir, join(home, '.omega'));
  });

  test('an empty config file behaves like zero-config', () => {
    const loaded = parse('');
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.config, defaultConfig({}, { home: HOME }));
  });

  test('zero-config follows OLLAMA_HOST', () => {
    const { home, cwd } = sandbox();
    const loaded = loadConfig({ env: { OLLAMA_HOST: 'example.com:8080' }, home, cwd });
    assert.equal(loaded.config.provider.ollama.baseUrl, 'http://example.com:8080');
    assert.equal(loaded.config.provider.ollama.baseUrlSource, 'env');
  });
});

describe('file search order', () => {
  const write = (path: string, model: string): string => {
    writeFileSync(path, `[provider.ollama]\nmodel = "${model}"\n`);
    return path;
  };

  test('--config beats OMEGA_CONFIG, ./config.toml and ~/.omega/config.toml', () => {
    const { home, cwd } = sandbox();
    mkdirSync(join(home, '.omega'));
    write(join(home, '.omega', 'config.toml'), 'home');
    write(join(cwd, 'config.toml'), 'cwd');
    const envFile = write(join(cwd, 'env.toml'), 'env');
    const explicit = write(join(cwd, 'explicit.toml'), 'explicit');
    const env = { OMEGA_CONFIG: envFile };

    let loaded = loadConfig({ path: explicit, env, home, cwd });
    assert.equal(loaded.file, explicit);
    assert.equal(loaded.config.provider.ollama.model, 'explicit');

    loaded = loadConfig({ env, home, cwd });
    assert.equal(loaded.file, envFile);
    assert.equal(loaded.config.provider.ollama.model, 'env');

    loaded = loadConfig({ env: {}, home, cwd });
    assert.equal(loaded.file, join(cwd, 'config.toml'));
    assert.equal(loaded.config.provider.ollama.model, 'cwd');

    rmSync(join(cwd, 'config.toml'));
    loaded = loadConfig({ env: {}, home, cwd });
    assert.equal(loaded.file, join(home, '.omega', 'config.toml'));
    assert.equal(loaded.config.provider.ollama.model, 'home');
  });

  test('a relative --config path is resolved against cwd, and ~ against home', () => {
    const { home, cwd } = sandbox();
    write(join(cwd, 'mine.toml'), 'relative');
    write(join(home, 'other.toml'), 'tilde');
    assert.equal(loadConfig({ path: 'mine.toml', env: {}, home, cwd }).config.provider.ollama.model, 'relative');
    assert.equal(loadConfig({ path: '~/other.toml', env: {}, home, cwd }).config.provider.ollama.model, 'tilde');
  });

  test('a missing --config file is a ConfigError naming it', () => {
    const { home, cwd } = sandbox();
    write(join(cwd, 'config.toml'), 'cwd');
    const missing = join(cwd, 'nope.toml');
    const error = configError(() => loadConfig({ path: missing, env: {}, home, cwd }));
    assert.equal(error.file, missing);
    assert.match(error.message, /nope\.toml does not exist/);
  });

  test('OMEGA_CONFIG pointing to a missing file is a ConfigError rather than a silent fallback', () => {
    const { home, cwd } = sandbox();
    write(join(cwd, 'config.toml'), 'cwd');
    const error = configError(() => loadConfig({ env: { OMEGA_CONFIG: join(cwd, 'gone.toml') }, home, cwd }));
    assert.equal(error.key, 'OMEGA_CONFIG');
    assert.match(error.message, /OMEGA_CONFIG/);
    assert.match(error.message, /gone\.toml/);
  });

  test('an empty OMEGA_CONFIG is ignored', () => {
    const { home, cwd } = sandbox();
    write(join(cwd, 'config.toml'), 'cwd');
    assert.equal(loadConfig({ env: { OMEGA_CONFIG: '' }, home, cwd }).config.provider.ollama.model, 'cwd');
  });

  test('--config naming a directory is a ConfigError', () => {
    const { home, cwd } = sandbox();
    const error = configError(() => loadConfig({ path: cwd, env: {}, home, cwd }));
    assert.match(error.message, /directory/);
  });

  test('configSearchPaths lists the candidates in order', () => {
    const { home, cwd } = sandbox();
    assert.deepEqual(configSearchPaths({ env: { OMEGA_CONFIG: '~/x.toml' }, home, cwd }), [
      { path: join(home, 'x.toml'), source: 'env' },
      { path: join(cwd, 'config.toml'), source: 'cwd' },
      { path: join(home, '.omega', 'config.toml'), source: 'home' },
    ]);
  });

  test('relative paths inside a file are relative to that file; ~ is expanded', () => {
    const { home, cwd } = sandbox();
    const dir = join(cwd, 'conf');
    mkdirSync(dir);
    const file = join(dir, 'config.toml');
    writeFileSync(file, '[omega]\ndata_dir = "state"\n[memory]\ndb_path = "~/db/omega.db"\n');
    const { config } = loadConfig({ path: file, env: {}, home, cwd });
    assert.equal(config.omega.dataDir, join(dir, 'state'));
    assert.equal(config.memory.dbPath, join(home, 'db', 'omega.db'));
  });
});

describe('values from the file', () => {
  test('every section is read and converted', () => {
    const { config, warnings } = parse(`
[omega]
name = "Jarvis"
data_dir = "~/jarvis"
log_level = "debug"
system_prompt = ""

[provider]
default = "ollama"
fallback = ["openai"]

[provider.ollama]
base_url = "http://10.0.0.5:11434/"
model = "qwen3:0.6b"
keep_alive = "1h30m"

[provider.ollama.timeouts]
connect = 2.5
load = 0
idle = 30
request = 900

[provider.ollama.options]
temperature = 0.2
num_ctx = 8192
seed = 7
stop = ["###", "User:"]
use_mmap = false

[provider.openai]
enabled = true
api_key = "sk-test-file-key-0000"
model = "gpt-4.1"
max_tokens = 800
timeouts = { connect = 3, request = 60 }

[provider.claude-code]
enabled = true
command = "/opt/claude/bin/claude"
model = "opus"
timeout_secs = 60
max_turns = 3

[memory]
max_context_messages = 0
`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.omega, {
      name: 'Jarvis',
      dataDir: join(HOME, 'jarvis'),
      logLevel: 'debug',
      systemPrompt: '',
    });
    assert.deepEqual(config.provider.fallback, ['openai']);
    const ollama = config.provider.ollama;
    assert.equal(ollama.enabled, true, 'ollama is the default and enabled is not written');
    assert.equal(ollama.baseUrl, 'http://10.0.0.5:11434');
    assert.equal(ollama.baseUrlSource, 'config');
    assert.equal(ollama.model, 'qwen3:0.6b');
    assert.equal(ollama.keepAlive, '1h30m');
    assert.deepEqual(ollama.timeouts, { connectMs: 2500, loadMs: 0, idleMs: 30000, requestMs: 900000 });
    assert.deepEqual(ollama.options, { temperature: 0.2, num_ctx: 8192, seed: 7, stop: ['###', 'User:'], use_mmap: false });
    const openai = config.provider.openai;
    assert.equal(openai.enabled, true);
    assert.equal(openai.apiKey, 'sk-test-file-key-0000');
    assert.equal(openai.model, 'gpt-4.1');
    assert.equal(openai.maxTokens, 800);
    assert.deepEqual(openai.timeouts, { ...DEFAULT_API_TIMEOUTS, connectMs: 3000, requestMs: 60000 });
    assert.deepEqual(config.provider['claude-code'], {
      enabled: true,
      command: '/opt/claude/bin/claude',
      model: 'opus',
      timeoutSecs: 60,
      maxTurns: 3,
    });
    assert.equal(config.memory.dbPath, join(HOME, 'jarvis', 'data', 'memory.db'), 'db_path follows data_dir');
    assert.equal(config.memory.maxContextMessages, 0);
  });

  test('keep_alive accepts numbers of seconds, including 0 and negatives', () => {
    assert.equal(parse('[provider.ollama]\nkeep_alive = 0').config.provider.ollama.keepAlive, 0);
    assert.equal(parse('[provider.ollama]\nkeep_alive = -1').config.provider.ollama.keepAlive, -1);
    assert.equal(parse('[provider.ollama]\nkeep_alive = 300').config.provider.ollama.keepAlive, 300);
    assert.equal(parse('[provider.ollama]\nkeep_alive = "0"').config.provider.ollama.keepAlive, '0');
    assert.equal(parse('[provider.ollama]\nkeep_alive = "-1m"').config.provider.ollama.keepAlive, '-1m');
  });

  test('[memory] for PostgreSQL: backend, url, pool_size, and statement_timeout in seconds or with a unit', () => {
    const { config } = parse('[memory]\nbackend = "postgres"\nurl = "postgres://omega:pw-4411@db:5432/omega"\npool_size = 20\nstatement_timeout = 2.5');
    assert.equal(config.memory.backend, 'postgres');
    assert.equal(config.memory.url, 'postgres://omega:pw-4411@db:5432/omega');
    assert.equal(config.memory.poolSize, 20);
    assert.equal(config.memory.statementTimeoutMs, 2500);
    const ms = (v: string): number | undefined => parse(`[memory]\nstatement_timeout = ${v}`).config.memory.statementTimeoutMs;
    assert.equal(ms('"500ms"'), 500);
    assert.equal(ms('"5s"'), 5000);
    assert.equal(ms('"1m"'), 60_000);
    assert.equal(ms('0'), 0);
    const defaults = parse('').config.memory;
    assert.deepEqual([defaults.url, defaults.poolSize, defaults.statementTimeoutMs], [undefined, 10, 5000]);
  });

  test('the password of [memory] url never appears in a config error', () => {
    const error = configError(() => parse('[memory]\nurl = "postgres://omega:pw-secret-8812@db/omega"\npool_size = "many"'));
    assert.equal(error.key, 'memory.pool_size');
    const bad = configError(() => parse('[memory]\nurl = "mysql://omega:pw-secret-8812@db/omega"'));
    assert.equal(bad.key, 'memory.url');
    for (const e of [error, bad]) assert.ok(!e.message.includes('pw-secret-8812'), 'the password leaked into a config error');
  });

  test('keep_alive as a number in quotes is refused with the fix', () => {
    const error = configError(() => parse('[provider.ollama]\nkeep_alive = "3600"'));
    assert.equal(error.key, 'provider.ollama.keep_alive');
    assert.match(error.message, /3600s/);
  });

  test('unknown Ollama options pass through with a warning', () => {
    const { config, warnings } = parse('[provider.ollama.options]\nmirostat = 2\ntemprature = 0.1');
    assert.equal(config.provider.ollama.options.mirostat, 2);
    assert.equal(config.provider.ollama.options.temprature, 0.1);
    assert.deepEqual(
      warnings.map((w) => [w.key, w.line]),
      [
        ['provider.ollama.options.mirostat', 2],
        ['provider.ollama.options.temprature', 3],
      ],
    );
    assert.match(warnings[1]?.message ?? '', /did you mean temperature\?/);
  });

  test('dotted keys and inline tables are understood', () => {
    const { config } = parse('[provider]\nollama.model = "a"\nopenai = { enabled = true, api_key = "k-123456" }');
    assert.equal(config.provider.ollama.model, 'a');
    assert.equal(config.provider.openai.enabled, true);
    const error = configError(() => parse('[provider]\nollama.model = "a"\nopenai = { enabled = true, max_tokens = "x" }'));
    assert.equal(error.key, 'provider.openai.max_tokens');
    assert.equal(error.line, 3, 'an inline table reports the line of its parent key');
    const dottedError = configError(() => parse('[provider]\nollama.model = 1'));
    assert.equal(dottedError.line, 2);
  });
});

describe('enabling providers', () => {
  test('a file that never mentions Ollama keeps it enabled as the default', () => {
    const { config } = parse('[omega]\nname = "x"\n');
    assert.equal(config.provider.ollama.enabled, true);
  });

  test('a file with default = "ollama" but no enabled key keeps Ollama enabled', () => {
    const { config } = parse('[provider]\ndefault = "ollama"\n[provider.ollama]\nmodel = "m"\n');
    assert.equal(config.provider.ollama.enabled, true);
  });

  test('Ollama is disabled by default when another provider is the default', () => {
    const { config } = parse('[provider]\ndefault = "openai"\n[provider.openai]\nenabled = true\napi_key = "k-12345678"\n');
    assert.equal(config.provider.ollama.enabled, false);
  });

  test('Ollama named in fallback without an enabled key counts as enabled', () => {
    const { config, warnings } = parse(
      '[provider]\ndefault = "openai"\nfallback = ["ollama"]\n[provider.openai]\nenabled = true\napi_key = "k-12345678"\n',
    );
    assert.equal(config.provider.ollama.enabled, true);
    assert.deepEqual(config.provider.fallback, ['ollama']);
    assert.deepEqual(warnings, []);
  });

  test('an explicit enabled = false on the default provider is a ConfigError saying how to enable it', () => {
    const error = configError(() => parse('[provider.ollama]\nenabled = false\n'));
    assert.match(error.message, /default provider "ollama" is disabled/);
    assert.match(error.message, /enabled = true under \[provider\.ollama\]/);
    assert.equal(error.file, FILE);
    assert.equal(error.key, 'provider.ollama.enabled');
    assert.equal(error.line, 2);
  });

  test('a hosted default provider that is not enabled is a ConfigError', () => {
    const error = configError(() => parse('[provider]\ndefault = "anthropic"\n'));
    assert.equal(error.key, 'provider.default');
    assert.match(error.message, /\[provider\.anthropic\]/);
  });

  test('a disabled provider in fallback is dropped with a warning', () => {
    const { config, warnings } = parse('[provider]\nfallback = ["anthropic"]\n');
    assert.deepEqual(config.provider.fallback, []);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.key, 'provider.fallback');
    assert.equal(warnings[0]?.line, 2);
    assert.match(warnings[0]?.message ?? '', /anthropic.*disabled/);
  });

  test('the default provider and repeats in fallback are dropped with warnings', () => {
    const { config, warnings } = parse(
      '[provider]\nfallback = ["ollama", "openai", "openai"]\n[provider.openai]\nenabled = true\napi_key = "k-12345678"\n',
    );
    assert.deepEqual(config.provider.fallback, ['openai']);
    assert.equal(warnings.length, 2);
  });

  test('an enabled hosted provider without any API key gives a warning naming the variable', () => {
    const { warnings } = parse('[provider.anthropic]\nenabled = true\n');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.key, 'provider.anthropic.api_key');
    assert.match(warnings[0]?.message ?? '', /ANTHROPIC_API_KEY/);
  });
});

describe('environment', () => {
  test('API keys come from the environment when the file leaves them empty', () => {
    const env = {
      ANTHROPIC_API_KEY: 'env-anthropic-key-1',
      OPENAI_API_KEY: ' env-openai-key-2 ',
      OPENROUTER_API_KEY: 'env-openrouter-key-3',
    };
    const { config } = parse('[provider.anthropic]\napi_key = ""\n[provider.openrouter]\napi_key = "file-key-wins"\n', env);
    assert.equal(config.provider.anthropic.apiKey, 'env-anthropic-key-1');
    assert.equal(config.provider.openai.apiKey, 'env-openai-key-2');
    assert.equal(config.provider.openrouter.apiKey, 'file-key-wins');
    assert.equal(defaultConfig(env, { home: HOME }).provider.anthropic.apiKey, 'env-anthropic-key-1');
  });

  test('an empty API key variable counts as unset', () => {
    assert.equal(parse('', { OPENAI_API_KEY: '  ' }).config.provider.openai.apiKey, undefined);
  });

  test('OLLAMA_HOST sets base_url when the file does not', () => {
    const forms: Array<[string, string]> = [
      ['localhost', 'http://localhost:11434'],
      ['example.com:8080', 'http://example.com:8080'],
      ['http://h', 'http://h:80'],
      ['https://h', 'https://h:443'],
      ['0.0.0.0', 'http://0.0.0.0:11434'],
      ['"[::1]"', 'http://[::1]:11434'],
      ['https://example.com/ollama', 'https://example.com:443/ollama'],
    ];
    for (const [host, url] of forms) {
      const { config } = parse('[provider.ollama]\nmodel = "m"\n', { OLLAMA_HOST: host });
      assert.equal(config.provider.ollama.baseUrl, url, host);
      assert.equal(config.provider.ollama.baseUrlSource, 'env', host);
    }
  });

  test('an empty OLLAMA_HOST counts as unset', () => {
    const { config } = parse('', { OLLAMA_HOST: '' });
    assert.equal(config.provider.ollama.baseUrl, 'http://localhost:11434');
    assert.equal(config.provider.ollama.baseUrlSource, 'default');
  });

  test('base_url in the file wins over OLLAMA_HOST', () => {
    const { config } = parse('[provider.ollama]\nbase_url = "http://127.0.0.1:9999"\n', { OLLAMA_HOST: 'example.com' });
    assert.equal(config.provider.ollama.baseUrl, 'http://127.0.0.1:9999');
    assert.equal(config.provider.ollama.baseUrlSource, 'config');
  });

  test('a bare host[:port] base_url is read the way OLLAMA_HOST is, as OllamaProvider reads it', () => {
    const forms: Array<[string, string]> = [
      ['localhost:11434', 'http://localhost:11434'],
      ['10.0.0.5:8080', 'http://10.0.0.5:8080'],
      ['example.com', 'http://example.com:11434'],
      ['[::1]:9000', 'http://[::1]:9000'],
    ];
    for (const [value, url] of forms) {
      const { config, warnings } = parse(`[provider.ollama]\nbase_url = "${value}"\n`, { OLLAMA_HOST: 'elsewhere:1' });
      assert.deepEqual(warnings, [], value);
      assert.equal(config.provider.ollama.baseUrl, url, value);
      assert.equal(config.provider.ollama.baseUrlSource, 'config', value);
    }
  });

  test('an OLLAMA_HOST with an unsupported scheme is a ConfigError', () => {
    const error = configError(() => parse('', { OLLAMA_HOST: 'ftp://example.com' }));
    assert.equal(error.key, 'OLLAMA_HOST');
  });

  test('expandHome expands only a leading ~', () => {
    assert.equal(expandHome('~', '/h'), '/h');
    assert.equal(expandHome('~/a/b', '/h'), join('/h', 'a', 'b'));
    assert.equal(expandHome('/x/~/y', '/h'), '/x/~/y');
    assert.equal(expandHome('~user/x', '/h'), '~user/x');
  });
});

describe('errors', () => {
  test('a TOML syntax error names the file, line and column', () => {
    const error = configError(() => parse('[omega]\nname = "ok"\nlog_level = info\n'));
    assert.equal(error.file, FILE);
    assert.equal(error.line, 3);
    assert.equal(typeof error.column, 'number');
    assert.match(error.message, /syntax error/);
    assert.ok(error.message.includes(`${FILE}:3:`), error.message);
  });

  test('a syntax error without a file still gives the line', () => {
    const error = configError(() => parseConfig('\n\n[omega\n', undefined, {}));
    assert.equal(error.file, undefined);
    assert.equal(error.line, 3);
    assert.match(error.message, /line 3/);
  });

  test('a wrong type names the dotted key, the expectation and the line', () => {
    const error = configError(() => parse('[omega]\nname = "x"\n\n[provider.ollama.timeouts]\nconnect = "5s"\n'));
    assert.equal(error.key, 'provider.ollama.timeouts.connect');
    assert.equal(error.line, 5);
    assert.equal(error.file, FILE);
    assert.match(error.message, /provider\.ollama\.timeouts\.connect must be a number of seconds/);
    assert.match(error.message, /line 5/);
    assert.match(error.message, /a string/);
    assert.ok(error.expected);
  });

  test('wrong types across the schema each name their key', () => {
    const cases: Array<[string, string]> = [
      ['[omega]\ndata_dir = 3', 'omega.data_dir'],
      ['[omega]\nlog_level = "loud"', 'omega.log_level'],
      ['omega = "x"', 'omega'],
      ['[provider]\nfallback = "openai"', 'provider.fallback'],
      ['[provider.ollama]\nenabled = "yes"', 'provider.ollama.enabled'],
      ['[provider.ollama]\nmodel = ""', 'provider.ollama.model'],
      ['[provider.ollama]\nkeep_alive = true', 'provider.ollama.keep_alive'],
      ['[provider.ollama.timeouts]\nidle = -1', 'provider.ollama.timeouts.idle'],
      ['[provider.ollama.options]\nnum_ctx = 1.5', 'provider.ollama.options.num_ctx'],
      ['[provider.ollama.options]\nstop = "###"', 'provider.ollama.options.stop'],
      ['[provider.ollama.options]\ntemperature = "hot"', 'provider.ollama.options.temperature'],
      ['[provider.ollama.options]\ntop_p = 2', 'provider.ollama.options.top_p'],
      ['[provider.openai]\nmax_tokens = 0', 'provider.openai.max_tokens'],
      ['[provider.openai.timeouts]\nconnect = inf', 'provider.openai.timeouts.connect'],
      ['[provider.claude-code]\nmax_turns = 0', 'provider.claude-code.max_turns'],
      ['[memory]\nbackend = "mysql"', 'memory.backend'],
      ['[memory]\npool_size = 0', 'memory.pool_size'],
      ['[memory]\nstatement_timeout = -1', 'memory.statement_timeout'],
      ['[memory]\nstatement_timeout = "soon"', 'memory.statement_timeout'],
      ['[memory]\nurl = "mysql://db/x"', 'memory.url'],
      ['[memory]\nmax_context_messages = -5', 'memory.max_context_messages'],
      ['[memory]\ndb_path = 1979-05-27', 'memory.db_path'],
    ];
    for (const [text, key] of cases) {
      const error = configError(() => parse(text));
      assert.equal(error.key, key, text);
      assert.ok(error.message.includes(key), `${text}: ${error.message}`);
      assert.equal(error.file, FILE, text);
    }
  });

  test('an invalid or non-http(s) URL is a ConfigError', () => {
    for (const url of ['ftp://example.com', 'not a url', 'http://', 'file:///tmp/x']) {
      const error = configError(() => parse(`[provider.ollama]\nbase_url = "${url}"\n`));
      assert.equal(error.key, 'provider.ollama.base_url', url);
      assert.equal(error.line, 2, url);
      assert.match(error.message, /http:\/\/ or https:\/\//, url);
    }
    const error = configError(() => parse('[provider.openrouter]\nbase_url = "gopher://x"\n'));
    assert.equal(error.key, 'provider.openrouter.base_url');
  });

  test('a URL with credentials is never repeated in the message', () => {
    const error = configError(() => parse('[provider.openai]\nbase_url = "ftp://user:hunter2pass@example.com"\n'));
    assert.ok(!error.message.includes('hunter2pass'), error.message);
  });

  test('an unknown provider in default, fallback or a [provider.x] table lists the valid names', () => {
    const cases: Array<[string, string]> = [
      ['[provider]\ndefault = "gemini"', 'provider.default'],
      ['[provider]\nfallback = ["openai", "mistral"]', 'provider.fallback'],
      ['[provider.claude_code]\nenabled = true', 'provider.claude_code'],
    ];
    for (const [text, key] of cases) {
      const error = configError(() => parse(text));
      assert.equal(error.key, key, text);
      assert.match(error.message, /ollama, anthropic, openai, openrouter, claude-code/, text);
    }
    assert.match(configError(() => parse('[provider.claude_code]\nenabled = true')).message, /did you mean \[provider\.claude-code\]/);
  });

  test('unknown keys are warnings naming the file, key and line', () => {
    const { config, warnings } = parse(`[omega]
name = "x"
colour = "blue"

[provider.ollama]
modle = "llama3.2"

[extras]
a = 1
`);
    assert.equal(config.omega.name, 'x');
    assert.equal(config.provider.ollama.model, 'llama3');
    assert.deepEqual(
      warnings.map((w) => ({ file: w.file, key: w.key, line: w.line })),
      [
        { file: FILE, key: 'extras', line: 8 },
        { file: FILE, key: 'omega.colour', line: 3 },
        { file: FILE, key: 'provider.ollama.modle', line: 6 },
      ],
    );
    assert.match(warnings[2]?.message ?? '', /did you mean model\?/);
    for (const w of warnings) assert.ok(w.message.includes(FILE), w.message);
  });
});

describe('secrets', () => {
  const fileKey = 'sk-ant-api03-FILEKEYabcdefghijklmnop';
  const envKey = 'plain-secret-from-env-0123456789';
  const env = { ANTHROPIC_API_KEY: envKey, OPENAI_API_KEY: envKey };
  const broken: string[] = [
    // Syntax errors on and around the key's own line.
    `[provider.anthropic]\napi_key = "${fileKey}`,
    `[provider.anthropic]\napi_key = ${fileKey}`,
    `[provider.anthropic]\napi_key = "${fileKey}" extra`,
    `[provider.anthropic]\napi_key = "${fileKey}"\napi_key = "${fileKey}"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\nmodel = `,
    // Semantic errors in a file that holds a key.
    `[provider.anthropic]\napi_key = "${fileKey}"\nbase_url = "${fileKey}"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\n[provider]\ndefault = "${fileKey}"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\n[provider]\ndefault = "anthropic"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\n[omega]\nlog_level = "${fileKey}"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\nmax_tokens = "${fileKey}"`,
    `[provider.anthropic]\napi_key = ["${fileKey}"]`,
    `[provider.anthropic]\napi_key = "${fileKey}"\n[provider.ollama]\nkeep_alive = "${envKey}"`,
    `[provider.anthropic]\napi_key = "${fileKey}"\n[provider.${fileKey}]\nx = 1`,
  ];

  test('no error message, hint or inspection ever contains an API key', () => {
    for (const text of broken) {
      const error = configError(() => parse(text, env));
      const everything = [error.message, error.hint ?? '', String(error), inspect(error, { depth: 5 }), JSON.stringify(error)].join('\n');
      assert.ok(!everything.includes(fileKey), `file key leaked for:\n${text}\n${error.message}`);
      assert.ok(!everything.includes(envKey), `env key leaked for:\n${text}\n${error.message}`);
    }
  });

  test('no warning contains an API key, even one pasted where a key name belongs', () => {
    const { warnings } = parse(
      `[provider.anthropic]\napi_key = "${fileKey}"\nenabled = true\n[provider.openrouter]\nenabled = true\n[omega]\n"${fileKey}" = 1\n"${envKey}" = 2\n`,
      env,
    );
    assert.equal(warnings.length, 3);
    for (const w of warnings) {
      const text = JSON.stringify(w);
      assert.ok(!text.includes(envKey) && !text.includes(fileKey), text);
    }
  });
});

describe('OpenRouter attribution', () => {
  test('app_url and app_name are read for openrouter and reach the provider config', () => {
    const { config, warnings } = parse(`[provider.openrouter]
app_url = "https://example.com/my-app"
app_name = "My App"
`);
    assert.equal(config.provider.openrouter.appUrl, 'https://example.com/my-app');
    assert.equal(config.provider.openrouter.appName, 'My App');
    assert.deepEqual(warnings, []);
  });

  test('they are unknown keys elsewhere, and a bad URL is a ConfigError naming the key', () => {
    const { warnings } = parse(`[provider.openai]
app_name = "x"
`);
    assert.deepEqual(
      warnings.map((w) => w.key),
      ['provider.openai.app_name'],
    );
    const error = configError(() => parse(`[provider.openrouter]\napp_url = "ftp://example.com"\n`));
    assert.equal(error.key, 'provider.openrouter.app_url');
    assert.equal(error.line, 2);
  });
});
