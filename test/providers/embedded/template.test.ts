/**
 * Ollama's legacy templates as the embedded engine renders them: the subset it takes on
 * (`.System`, `.Prompt`, `.Response`, `if`/`else`/`end`, whitespace trims), the chat collapsed
 * into one pass per exchange with the last cut at `.Response`, and templates it leaves to the
 * GGUF's own chat template.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLegacyTemplate, renderLegacy } from '../../../src/providers/embedded/template.js';
import type { LegacyTemplate } from '../../../src/providers/embedded/template.js';

function parsed(source: string): LegacyTemplate {
  const t = parseLegacyTemplate(source);
  assert.ok(t !== undefined, `expected ${JSON.stringify(source)} to parse`);
  return t;
}

describe('legacy templates', () => {
  test("Ollama's default `{{ .Prompt }}` is the user's text as is (the system prompt is dropped)", () => {
    const t = parsed('{{ .Prompt }}');
    assert.equal(t.usesSystem, false);
    assert.equal(
      renderLegacy(t, [
        { role: 'system', content: 'ignored' },
        { role: 'user', content: 'The capital of France is' },
      ]),
      'The capital of France is',
    );
  });

  test('a ChatML-style template renders each exchange, and the last one stops where the answer goes', () => {
    const t = parsed(
      '{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n',
    );
    const out = renderLegacy(t, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Bye' },
    ]);
    assert.equal(
      out,
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n' +
        '<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  test('consecutive messages of one role are joined with a blank line', () => {
    const t = parsed('[{{ .Prompt }}]{{ .Response }}');
    assert.equal(
      renderLegacy(t, [
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
      ]),
      '[a\n\nb]',
    );
  });

  test('`{{-` and `-}}` trim the whitespace beside them; else branches and comments work', () => {
    const t = parsed('A  \n  {{- if .System -}}  \n sys={{ .System }} {{- else -}} none {{- end }}\n{{/* a comment */}}{{ .Prompt }}');
    assert.equal(renderLegacy(t, [{ role: 'user', content: 'p' }]), 'Anone\np');
    assert.equal(
      renderLegacy(t, [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'p' },
      ]),
      'Asys=S\np',
    );
  });

  test('templates beyond the legacy subset are left to the GGUF (undefined)', () => {
    for (const source of [
      '{{ range .Messages }}{{ .Content }}{{ end }}',
      '{{ if .Tools }}x{{ end }}{{ .Prompt }}',
      '{{ .Prompt | trim }}',
      '{{ if .System }}unclosed',
      '{{ end }}',
      '{{ .Prompt }',
    ]) {
      assert.equal(parseLegacyTemplate(source), undefined, source);
    }
  });
});
