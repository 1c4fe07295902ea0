/**
 * Ollama's "legacy" prompt templates (`.System`, `.Prompt`, `.Response`, `if`/`else`/`end`),
 * rendered the way Ollama renders them for a chat. These are the templates a Modelfile often
 * carries when the GGUF has no chat template of its own (Ollama's default is `{{ .Prompt }}`),
 * and the only ones whose meaning is plain enough to reproduce exactly without a Go template
 * engine. A template using anything else (`.Messages`, `range`, functions) is left to the
 * GGUF's own chat template, which is where Ollama took it from in the first place.
 */

type Field = 'System' | 'Prompt' | 'Response';

type Node = { t: 'text'; v: string } | { t: 'field'; name: Field } | { t: 'if'; name: Field; then: Node[]; else: Node[] };

/** A parsed legacy template. */
export interface LegacyTemplate {
  readonly nodes: readonly Node[];
  /** Whether the template mentions `.System` at all (if not, Ollama drops the system prompt). */
  readonly usesSystem: boolean;
}

const FIELD = /^\.(System|Prompt|Response)$/;
const IF = /^if\s+\.(System|Prompt|Response)$/;

/** Splits into text and `{{ … }}` actions, applying the `{{-` and `-}}` whitespace trims. */
function lex(source: string): ({ t: 'text'; v: string } | { t: 'action'; v: string })[] | undefined {
  const out: ({ t: 'text'; v: string } | { t: 'action'; v: string })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = open < 0 ? source.slice(i) : source.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text !== '') out.push({ t: 'text', v: text });
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close < 0) return undefined;
    let inner = source.slice(open + 2, close);
    if (inner.startsWith('-') && /^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    trimNext = false;
    if (/\s-$/.test(inner)) {
      trimNext = true;
      inner = inner.slice(0, -1);
    }
    if (text !== '') out.push({ t: 'text', v: text });
    const action = inner.trim();
    if (!/^\/\*[\s\S]*\*\/$/.test(action)) out.push({ t: 'action', v: action });
    i = close + 2;
  }
  return out;
}

/**
 * Parses `source` when it uses only the legacy subset; undefined otherwise (the caller then uses
 * the GGUF's own chat template).
 */
export function parseLegacyTemplate(source: string): LegacyTemplate | undefined {
  const tokens = lex(source);
  if (tokens === undefined) return undefined;
  const root: Node[] = [];
  const stack: { node: Extract<Node, { t: 'if' }>; inElse: boolean }[] = [];
  const target = (): Node[] => {
    const top = stack[stack.length - 1];
    return top === undefined ? root : top.inElse ? top.node.else : top.node.then;
  };
  let usesSystem = false;
  for (const token of tokens) {
    if (token.t === 'text') {
      target().push(token);
      continue;
    }
    const field = FIELD.exec(token.v);
    const cond = IF.exec(token.v);
    if (field !== null) {
      if (field[1] === 'System') usesSystem = true;
      target().push({ t: 'field', name: field[1] as Field });
    } else if (cond !== null) {
      if (cond[1] === 'System') usesSystem = true;
      const node: Extract<Node, { t: 'if' }> = { t: 'if', name: cond[1] as Field, then: [], else: [] };
      target().push(node);
      stack.push({ node, inElse: false });
    } else if (token.v === 'else') {
      const top = stack[stack.length - 1];
      if (top === undefined || top.inElse) return undefined;
      top.inElse = true;
    } else if (token.v === 'end') {
      if (stack.pop() === undefined) return undefined;
    } else {
      return undefined;
    }
  }
  if (stack.length > 0) return undefined;
  return { nodes: root, usesSystem };
}

type Values = Record<Field, string>;

/** Renders the nodes; with `cut`, stops right after the first `.Response` (the answer goes there). */
function render(nodes: readonly Node[], values: Values, cut: boolean, out: { text: string; stopped: boolean }): void {
  for (const node of nodes) {
    if (out.stopped) return;
    if (node.t === 'text') out.text += node.v;
    else if (node.t === 'field') {
      out.text += values[node.name];
      if (cut && node.name === 'Response') out.stopped = true;
    } else render(values[node.name] !== '' ? node.then : node.else, values, cut, out);
  }
}

/** A message reduced to what a legacy template sees. */
export interface TemplateMessage {
  role: string;
  content: string;
}

/**
 * The prompt Ollama builds from a legacy template for a chat: consecutive messages of one role
 * are joined, each system/user/assistant group fills one pass of the template, and the last pass
 * stops at `.Response`, where the model's answer begins.
 */
export function renderLegacy(template: LegacyTemplate, messages: readonly TemplateMessage[]): string {
  const collated: TemplateMessage[] = [];
  for (const m of messages) {
    const last = collated[collated.length - 1];
    if (last !== undefined && last.role === m.role && m.role !== 'assistant') last.content += `\n\n${m.content}`;
    else collated.push({ role: m.role, content: m.content });
  }
  const out = { text: '', stopped: false };
  let values: Values = { System: '', Prompt: '', Response: '' };
  const flush = (): void => {
    render(template.nodes, values, false, out);
    values = { System: '', Prompt: '', Response: '' };
  };
  for (const m of collated) {
    if (m.role === 'system') {
      if (values.Prompt !== '' || values.Response !== '') flush();
      values.System = m.content;
    } else if (m.role === 'user') {
      if (values.Response !== '') flush();
      values.Prompt = m.content;
    } else if (m.role === 'assistant') {
      values.Response = m.content;
    }
  }
  const last = { text: '', stopped: false };
  render(template.nodes, values, true, last);
  return out.text + last.text;
}
