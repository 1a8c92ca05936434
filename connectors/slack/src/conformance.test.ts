// Checks the connector against Slack's official Web API OpenAPI description (../shared/specs/slack, outside the
// repo): every method the connector calls exists with that HTTP verb, and every argument it sends (query or
// JSON body) is an argument of that method. Skipped, and says so, where the spec folder is absent.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse, JsonSchema } from '@businessos/connector-sdk';
import slack from './index.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const specPath = path.resolve(repoRoot, '../shared/specs/slack/slack_web_openapi_v2.json');
const haveSpec = existsSync(specPath);

interface Operation {
  parameters?: { name: string; in: string }[];
}
type Spec = { basePath: string; paths: Record<string, Record<string, Operation>> };

function sampleFor(schema: JsonSchema): unknown {
  if ('enum' in schema && Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [sampleFor((schema.items ?? { type: 'string' }) as JsonSchema)];
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      if (Object.keys(props).length === 0) return { type: 'section' };
      return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, sampleFor(s)]));
    }
    default: return 'x';
  }
}

function recorder() {
  const sent: HttpRequest[] = [];
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    sent.push(req);
    return { status: 200, headers: { 'content-type': 'application/json' }, data: { ok: true, channel: 'C1', ts: '1.1', channels: [], user: { id: 'U1' }, response_metadata: { next_cursor: '' } } };
  };
  return { sent, transport };
}

describe.skipIf(!haveSpec)(`Slack connector conforms to the official Web API description${haveSpec ? '' : ` (skipped: ${specPath} not found)`}`, () => {
  const spec: Spec = haveSpec ? JSON.parse(readFileSync(specPath, 'utf8')) : { basePath: '/api', paths: {} };

  /** Slack accepts GET and POST for every Web API method; `verbStrict` also requires the verb the spec names. */
  function check(req: HttpRequest, verbStrict = true): void {
    const item = spec.paths[req.url.split('?')[0] ?? req.url];
    expect(item, `${req.url} is not a Slack Web API method`).toBeDefined();
    if (!item) return;
    const verb = req.method.toLowerCase();
    const op = item[verb] ?? (verbStrict ? undefined : Object.values(item)[0]);
    expect(op, `Slack ${req.url} is not documented for ${req.method} (it is for ${Object.keys(item).join(', ')})`).toBeDefined();
    if (!op) return;
    const where = verb === 'get' ? 'query' : 'formData';
    const known = new Set((op.parameters ?? []).filter((p) => p.in === where).map((p) => p.name));
    const sentArgs = verb === 'get' ? Object.entries(req.query ?? {}) : Object.entries((req.body ?? {}) as Record<string, unknown>);
    for (const [name, value] of sentArgs) {
      if (value === undefined) continue;
      expect(known.has(name), `argument ${name} of Slack ${req.url}`).toBe(true);
    }
    if (req.body !== undefined) expect(req.bodyType ?? 'json', `Slack ${req.url} body`).toBe('json');
  }

  it('uses the documented base path', () => {
    expect(slack.manifest.baseUrl).toBe(`https://slack.com${spec.basePath}`);
  });

  for (const action of slack.manifest.actions) {
    it(`action ${action.name}: method and every argument exist in the spec`, async () => {
      for (const params of [sampleFor(action.params), ...action.examples.map((e) => e.params)]) {
        const { sent, transport } = recorder();
        await slack.executeAction(action.name, params, { transport });
        expect(sent.length).toBeGreaterThan(0);
        for (const req of sent) check(req);
      }
    });
  }

  it('the connection test calls a documented method', async () => {
    const { sent, transport } = recorder();
    await slack.authenticate({ transport });
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /auth.test']);
    // The spec lists auth.test under GET; Slack takes POST for every method, so only the method name is checked.
    for (const req of sent) check(req, false);
  });

  it('finds an unknown argument (the check itself can fail)', () => {
    expect(() => check({ method: 'POST', url: '/chat.postMessage', body: { channel: 'C1', txet: 'x' } })).toThrow(/argument txet/);
    expect(() => check({ method: 'GET', url: '/chat.postMessage' })).toThrow(/not documented for GET/);
  });
});
