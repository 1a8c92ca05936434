import type { Rule } from 'eslint';

/** A known credential format: what it is, and a regular expression that finds it inside a string. */
export interface SecretPattern {
  kind: string;
  pattern: RegExp;
}

/** Credential formats with a recognisable prefix or shape. */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  { kind: 'Stripe live secret key', pattern: /\b(sk|rk)_live_[0-9a-zA-Z]{16,}/ },
  { kind: 'Stripe test secret key', pattern: /\b(sk|rk)_test_[0-9a-zA-Z]{16,}/ },
  { kind: 'Slack token', pattern: /\bxox[abprs]-[0-9A-Za-z-]{10,}/ },
  { kind: 'GitHub token', pattern: /\b(ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{30,}/ },
  { kind: 'GitHub fine-grained token', pattern: /\bgithub_pat_[0-9A-Za-z_]{40,}/ },
  { kind: 'AWS access key id', pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { kind: 'Shopify access token', pattern: /\bshp(at|ss|ca|pa)_[0-9a-fA-F]{32}/ },
  { kind: 'Google API key', pattern: /\bAIza[0-9A-Za-z_-]{35}/ },
  { kind: 'SendGrid API key', pattern: /\bSG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}/ },
  { kind: 'private key', pattern: /-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----/ },
];

/** Names that say "this holds a credential": `apiKey`, `client_secret`, `accessToken`, `PASSWORD`... */
const SECRET_NAME = /(secret|token|passw(or)?d|passwd|pwd|api_?key|access_?key|private_?key|auth_?key|credentials?)$/i;

/** Values that are references or descriptions, not secrets: `config.client_secret`, `field:token`, URLs, `{placeholders}`. */
const REFERENCE_VALUE = /^(config|field|env|secret|vault)[.:]|:\/\/|[{}\s]/i;

/** Shannon entropy of a string, in bits per character. */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** True when a value assigned to a secret-looking name reads like a real credential (long, random-looking). */
export function looksLikeRandomSecret(value: string): boolean {
  if (value.length < 16 || REFERENCE_VALUE.test(value)) return false;
  return shannonEntropy(value) >= 3.5;
}

/** The kind of credential a string contains, if it contains a known one. */
export function findKnownSecret(value: string): string | undefined {
  return SECRET_PATTERNS.find((p) => p.pattern.test(value))?.kind;
}

type Node = Rule.Node;

function nameOf(node: unknown): string | undefined {
  const n = node as { type?: string; name?: string; value?: unknown; property?: unknown };
  if (n?.type === 'Identifier') return n.name;
  if (n?.type === 'Literal' && typeof n.value === 'string') return n.value;
  if (n?.type === 'MemberExpression') return nameOf(n.property);
  return undefined;
}

function stringValue(node: unknown): string | undefined {
  const n = node as { type?: string; value?: unknown; quasis?: { value: { cooked: string | null } }[]; expressions?: unknown[] };
  if (n?.type === 'Literal' && typeof n.value === 'string') return n.value;
  if (n?.type === 'TemplateLiteral' && n.expressions?.length === 0) return n.quasis?.[0]?.value.cooked ?? undefined;
  return undefined;
}

/**
 * `bos/no-hardcoded-secret`: string literals holding a known credential format (Stripe, Slack, GitHub, AWS,
 * Shopify, Google, SendGrid keys, PEM private keys), and random-looking strings assigned to names such as
 * `secret`, `token`, `password` or `apiKey`. Credentials belong in the connection, applied by the host.
 */
export const noHardcodedSecretRule: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: { description: 'Disallow credentials written into connector source' },
    schema: [],
    messages: {
      known: 'String contains what looks like a {{kind}}; credentials must never be in connector code.',
      named: '"{{name}}" is assigned a random-looking string literal; this looks like a hard-coded credential.',
    },
  },
  create(context) {
    const reported = new Set<unknown>();
    const report = (node: Node, messageId: 'known' | 'named', data: Record<string, string>) => {
      if (reported.has(node)) return;
      reported.add(node);
      context.report({ node, messageId, data });
    };
    const checkLiteral = (node: Node) => {
      const value = stringValue(node);
      if (value === undefined) return;
      const kind = findKnownSecret(value);
      if (kind) report(node, 'known', { kind });
    };
    const checkNamed = (nameNode: unknown, valueNode: unknown) => {
      const name = nameOf(nameNode);
      const value = stringValue(valueNode);
      if (!name || value === undefined || !SECRET_NAME.test(name)) return;
      if (findKnownSecret(value)) return;
      if (looksLikeRandomSecret(value)) report(valueNode as Node, 'named', { name });
    };
    return {
      Literal: checkLiteral,
      TemplateLiteral: checkLiteral,
      VariableDeclarator(node) {
        checkNamed(node.id, node.init);
      },
      Property(node) {
        checkNamed(node.key, node.value);
      },
      AssignmentExpression(node) {
        checkNamed(node.left, node.right);
      },
      PropertyDefinition(node) {
        checkNamed(node.key, node.value);
      },
    };
  },
};
