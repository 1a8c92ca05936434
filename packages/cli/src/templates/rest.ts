import { fixturesFile, type TemplateDefinition } from './types.ts';

/** A generic REST API: CRUD on one resource with an API key, offset pagination and a polling trigger. */
export const restTemplate: TemplateDefinition = {
  id: 'rest',
  summary: 'Generic REST API: list/get/create items, API key header, offset pagination, polling trigger',
  readme: () => [
    '- `listItems`: every item, page by page (offset pagination)',
    '- `getItem`: one item by id',
    '- `createItem`: create an item',
    '- `itemUpdated` (polling trigger): items changed since the last poll, deduplicated by timestamp',
  ].join('\n'),
  files: ({ name, displayName }) => ({
    'src/index.ts': `import { ApiKeyAuth, defineConnector } from '@businessos/connector-sdk';
import { createItem } from './actions/create-item.ts';
import { getItem } from './actions/get-item.ts';
import { listItems } from './actions/list-items.ts';
import { itemUpdated } from './triggers/item-updated.ts';

export default defineConnector({
  name: '${name}',
  version: '0.1.0',
  displayName: '${displayName}',
  description: 'Items of the ${displayName} REST API.',
  category: 'developer-tools',
  auth: new ApiKeyAuth({ in: 'header', name: 'Authorization', prefix: 'Token ', label: 'API token' }),
  baseUrl: 'https://api.${name}.example.com/v2',
  test: { path: '/items', method: 'GET' },
  actions: [listItems, getItem, createItem],
  triggers: [itemUpdated],
});
`,
    'src/schemas.ts': `import type { Infer } from '@businessos/connector-sdk';

/** An item as the API returns it. */
export const itemSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, updatedAt: { type: 'string' } },
  required: ['id', 'name'],
} as const;

export type Item = Infer<typeof itemSchema>;
`,
    'src/actions/list-items.ts': `import { collect, defineAction, paginate } from '@businessos/connector-sdk';

export const listItems = defineAction({
  name: 'listItems',
  description: 'List every item, 100 per request.',
  group: 'item',
  idempotent: true,
  params: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } },
  output: { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } }, required: ['items'] },
  async execute(params, ctx) {
    const items = await collect(
      paginate(
        ctx.http,
        { method: 'GET', url: '/items', query: { offset: 0, limit: 100 } },
        { type: 'offset', offsetParam: 'offset', limitParam: 'limit', pageSize: 100, items: (r) => (r.data as { items: Record<string, unknown>[] }).items },
        { maxItems: params.limit ?? 1000 },
      ),
    );
    return { items };
  },
});
`,
    'src/actions/get-item.ts': `import { defineAction } from '@businessos/connector-sdk';
import { itemSchema, type Item } from '../schemas.ts';

export const getItem = defineAction({
  name: 'getItem',
  description: 'Fetch one item by id.',
  group: 'item',
  idempotent: true,
  params: { id: { type: 'string', minLength: 1, required: true } },
  output: itemSchema,
  async execute({ id }, ctx) {
    return (await ctx.http.get<Item>(\`/items/\${encodeURIComponent(id)}\`)).data;
  },
});
`,
    'src/actions/create-item.ts': `import { defineAction } from '@businessos/connector-sdk';
import { itemSchema, type Item } from '../schemas.ts';

export const createItem = defineAction({
  name: 'createItem',
  description: 'Create an item.',
  group: 'item',
  params: { name: { type: 'string', minLength: 1, required: true }, tags: { type: 'array', items: { type: 'string' } } },
  output: itemSchema,
  async execute(params, ctx) {
    return (await ctx.http.post<Item>('/items', params)).data;
  },
});
`,
    'src/triggers/item-updated.ts': `import { defineTrigger } from '@businessos/connector-sdk';
import { itemSchema } from '../schemas.ts';

export const itemUpdated = defineTrigger({
  name: 'itemUpdated',
  description: 'Fires when an item is created or changed.',
  group: 'item',
  output: itemSchema,
  polling: {
    intervalSeconds: 600,
    dedupe: { by: 'timestamp', path: '/updatedAt' },
    async poll(ctx, state) {
      const since = typeof state === 'string' ? state : undefined;
      const res = await ctx.http.get<{ items: { updatedAt: string }[] }>('/items', { query: { updated_since: since, order: 'updatedAt' } });
      return { items: res.data.items, state: res.data.items.at(-1)?.updatedAt ?? since ?? '' };
    },
  },
});
`,
    'fixtures/items.json': fixturesFile([
      { name: 'missing item', request: { method: 'GET', path: '/items/missing' }, response: { status: 404, body: { message: 'No such item' } } },
      { name: 'one item', request: { method: 'GET', path: '/items/:id' }, response: { status: 200, body: { id: '{{params.id}}', name: 'Widget', updatedAt: '2026-01-01T00:00:00Z' } } },
      {
        name: 'items',
        request: { method: 'GET', path: '/items' },
        response: { status: 200, body: { items: [{ id: 'i_1', name: 'Widget', updatedAt: '2026-01-01T00:00:00Z' }, { id: 'i_2', name: 'Gadget', updatedAt: '2026-01-02T00:00:00Z' }] } },
      },
      { name: 'create an item', request: { method: 'POST', path: '/items' }, response: { status: 201, body: { id: 'i_3', name: '{{body.name}}' } } },
    ]),
  }),
};
