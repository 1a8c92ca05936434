/** A piece of TypeScript to print as is inside a literal (e.g. `NodeConnectionTypes.Main`). */
export interface Code {
  readonly code: string;
}

const CODE = Symbol('code');

/** Marks `text` to be printed verbatim by {@link tsLiteral}. */
export function code(text: string): Code {
  return { code: text, [CODE]: true } as Code;
}

function isCode(value: unknown): value is Code {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CODE] === true;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')}'`;
}

/** Prints a JSON-like value as a TypeScript literal in n8n's style: tabs, single quotes, trailing commas. */
export function tsLiteral(value: unknown, indent = 0): string {
  const pad = '\t'.repeat(indent + 1);
  const end = '\t'.repeat(indent);
  if (isCode(value)) return value.code;
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const simple = value.every((v) => typeof v !== 'object' || v === null || isCode(v));
    if (simple) return `[${value.map((v) => tsLiteral(v, indent)).join(', ')}]`;
    return `[\n${value.map((v) => `${pad}${tsLiteral(v, indent + 1)},`).join('\n')}\n${end}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${pad}${IDENT.test(k) ? k : quote(k)}: ${tsLiteral(v, indent + 1)},`).join('\n')}\n${end}}`;
  }
  return 'undefined';
}
