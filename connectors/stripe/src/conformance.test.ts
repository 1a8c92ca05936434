// Checks the connector against Stripe's official OpenAPI description (../shared/specs/stripe, outside the repo):
// every request the connector can send uses an existing method + path, and every query or form parameter it
// sends is a parameter of that operation. Skipped, and says so, where the spec folder is absent.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { HttpRequest, HttpResponse, JsonSchema } from '@businessos/connector-sdk';
import stripe from './index.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const specPath = path.resolve(repoRoot, '../shared/specs/stripe/spec3.yaml');
const haveSpec = existsSync(specPath);

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: SpecSchema }> };
}
interface SpecSchema {
  properties?: Record<string, SpecSchema>;
  anyOf?: SpecSchema[];
  items?: SpecSchema;
  additionalProperties?: unknown;
  type?: string;
}
type Spec = { paths: Record<string, Record<string, Operation>> };

/** A value for every property of a params schema, so every parameter the connector knows is exercised. */
function sampleFor(schema: JsonSchema): unknown {
  if ('enum' in schema && Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': return 'x';
    case 'integer':
    case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [sampleFor((schema.items ?? { type: 'string' }) as JsonSchema)];
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      if (Object.keys(props).length === 0) return { key: 'value' };
      return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, sampleFor(s)]));
    }
    default: return 'x';
  }
}

function findOperation(spec: Spec, method: string, url: string): { template: string; op: Operation } | undefined {
  const pathname = url.split('?')[0] ?? url;
  for (const [template, item] of Object.entries(spec.paths)) {
    const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
    const op = item[method.toLowerCase()];
    if (re.test(pathname) && op) return { template, op };
  }
  return undefined;
}

/** Nested keys of `value` that `schema` does not declare, as form paths (`address[line9]`). */
function unknownKeys(value: unknown, schema: SpecSchema | undefined, prefix: string): string[] {
  if (!schema || value === null || typeof value !== 'object') return [];
  const variants = schema.anyOf ?? [schema];
  if (Array.isArray(value)) {
    const items = variants.find((v) => v.items)?.items;
    return value.flatMap((v, i) => unknownKeys(v, items, `${prefix}[${i}]`));
  }
  const withProps = variants.find((v) => v.properties);
  // Free-form maps (metadata) accept any key.
  if (!withProps?.properties) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const name = prefix ? `${prefix}[${k}]` : k;
    const sub = withProps.properties?.[k];
    return sub ? unknownKeys(v, sub, name) : [name];
  });
}

/** Records every request and answers with something list- and object-shaped. */
function recorder() {
  const sent: HttpRequest[] = [];
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    sent.push(req);
    return { status: 200, headers: { 'content-type': 'application/json' }, data: { id: 'obj_1', object: 'list', data: [], has_more: false, secret: 'whsec_x' } };
  };
  return { sent, transport };
}

describe.skipIf(!haveSpec)(`Stripe connector conforms to the official OpenAPI description${haveSpec ? '' : ` (skipped: ${specPath} not found)`}`, () => {
  const spec: Spec = haveSpec ? parse(readFileSync(specPath, 'utf8'), { maxAliasCount: -1 }) : { paths: {} };

  function check(req: HttpRequest): void {
    const found = findOperation(spec, req.method, req.url);
    expect(found, `${req.method} ${req.url} is not an operation of the Stripe API`).toBeDefined();
    if (!found) return;
    const queryParams = new Set((found.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
    for (const [key, v] of Object.entries(req.query ?? {})) {
      if (v === undefined) continue;
      const base = key.split('[')[0] ?? key;
      expect(queryParams.has(base), `query parameter ${key} of ${req.method} ${found.template}`).toBe(true);
    }
    if (req.body !== undefined) {
      expect(req.bodyType, `${req.method} ${found.template} takes a form body`).toBe('form');
      const formSchema = found.op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema;
      expect(formSchema, `${req.method} ${found.template} has no form body`).toBeDefined();
      expect(unknownKeys(JSON.parse(JSON.stringify(req.body)), formSchema, ''), `form fields of ${req.method} ${found.template}`).toEqual([]);
    }
  }

  for (const action of stripe.manifest.actions) {
    it(`action ${action.name}: method, path and every parameter exist in the spec`, async () => {
      const cases = [sampleFor(action.params), ...action.examples.map((e) => e.params)];
      for (const params of cases) {
        const { sent, transport } = recorder();
        await stripe.executeAction(action.name, params, { transport });
        expect(sent.length).toBeGreaterThan(0);
        sent.forEach(check);
      }
    });
  }

  it('trigger steps and the connection test use operations of the spec', async () => {
    const { sent, transport } = recorder();
    await stripe.authenticate({ transport });
    await stripe.executeTrigger('paymentIntentSucceeded', 'subscribe', { webhookUrl: 'https://hooks.example.com/webhooks/ep_1' }, { transport });
    await stripe.executeTrigger('paymentIntentSucceeded', 'unsubscribe', { externalId: 'we_1' }, { transport });
    await stripe.executeTrigger('newCustomer', 'poll', undefined, { transport });
    await stripe.executeTrigger('newCustomer', 'poll', { since: 1, idsAtSince: [] }, { transport });
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /v1/balance',
      'POST /v1/webhook_endpoints',
      'DELETE /v1/webhook_endpoints/we_1',
      'GET /v1/customers',
      'GET /v1/customers',
    ]);
    sent.forEach(check);
  });

  it('finds an unknown parameter (the check itself can fail)', () => {
    expect(() => check({ method: 'POST', url: '/v1/customers', body: { emali: 'x' }, bodyType: 'form' })).toThrow(/form fields/);
    expect(() => check({ method: 'GET', url: '/v1/nowhere' })).toThrow(/not an operation/);
  });
});
