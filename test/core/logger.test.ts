import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('../../src/core/logger.ts', import.meta.url));

/** Runs `body` in a child with the logger imported as `L`, and returns what it wrote. */
function runWithLogger(body: string): { stdout: string; stderr: string; status: number | null } {
  const script = `const L = await import(${JSON.stringify(LOGGER)});\n${body}`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe('createLogger', () => {
  it('writes JSON lines to stderr only, so stdout stays clean for answers', () => {
    const { stdout, stderr, status } = runWithLogger(`L.createLogger({ level: 'info' }).info({ provider: 'ollama' }, 'hello');`);
    assert.equal(status, 0);
    assert.equal(stdout, '');
    const line = JSON.parse(stderr.trim()) as Record<string, unknown>;
    assert.equal(line.msg, 'hello');
    assert.equal(line.provider, 'ollama');
    assert.equal(line.name, 'omega');
  });

  it('redacts API keys and authorization headers handed to it by mistake', () => {
    const secret = 'sk-live-0123456789abcdefghij';
    const { stderr, status } = runWithLogger(
      `const log = L.createLogger({ level: 'debug' });
       log.info({ apiKey: '${secret}' }, 'a');
       log.info({ config: { api_key: '${secret}' } }, 'b');
       log.debug({ headers: { authorization: 'Bearer ${secret}', 'x-api-key': '${secret}' } }, 'c');`,
    );
    assert.equal(status, 0);
    assert.equal(stderr.trim().split('\n').length, 3);
    assert.equal(stderr.includes(secret), false);
    assert.equal(stderr.split('[REDACTED]').length - 1, 4);
  });

  it('honours the level, and the silent logger writes nothing', () => {
    const { stderr, status } = runWithLogger(
      `const log = L.createLogger({ level: 'warn' }); log.info('hidden'); log.warn('shown'); L.silentLogger.error('never');`,
    );
    assert.equal(status, 0);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0] ?? '{}') as { msg?: string }).msg, 'shown');
  });
});
