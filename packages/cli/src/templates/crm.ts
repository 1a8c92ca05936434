import { fixturesFile, type TemplateDefinition } from './types.ts';

/** CRM: contacts and deals behind an API key header, cursor pagination and a polling trigger. */
export const crmTemplate: TemplateDefinition = {
  id: 'crm',
  summary: 'CRM: contacts and deals, API-key auth, cursor pagination, polling trigger for new contacts',
  readme: () => [
    '- `createContact`: create a contact (email required)',
    '- `getContact`: fetch one contact by id',
    '- `listContacts`: list contacts, walking every page (cursor pagination)',
    '- `createDeal`: open a deal for a contact in a pipeline stage',
    '- `newContact` (polling trigger): new contacts since the last poll, deduplicated by id',
  ].join('\n'),
  files: ({ name, displayName }) => ({
    'src/index.ts': `import { ApiKeyAuth, defineConnector } from '@businessos/connector-sdk';
import { createContact } from './actions/create-contact.ts';
import { createDeal } from './actions/create-deal.ts';
import { getContact } from './actions/get-contact.ts';
import { listContacts } from './actions/list-contacts.ts';
import { newContact } from './triggers/new-contact.ts';

export default defineConnector({
  name: '${name}',
  version: '0.1.0',
  displayName: '${displayName}',
  description: 'Manage ${displayName} CRM contacts and deals.',
  category: 'crm',
  // The host adds the tenant's key as \`X-Api-Key\`; this code never sees it.
  auth: new ApiKeyAuth({ in: 'header', name: 'X-Api-Key', label: '${displayName} API key' }),
  baseUrl: 'https://api.${name}.example.com/v1',
  permissions: ['Read and write contacts', 'Create deals'],
  test: { path: '/me' },
  actions: [createContact, getContact, listContacts, createDeal],
  triggers: [newContact],
});
`,
    'src/schemas.ts': `import type { Infer } from '@businessos/connector-sdk';

/** A contact as the API returns it. */
export const contactSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    firstName: { type: 'string' },
    lastName: { type: 'string' },
    company: { type: 'string' },
    createdAt: { type: 'string' },
  },
  required: ['id', 'email'],
} as const;

export type Contact = Infer<typeof contactSchema>;

/** A deal as the API returns it. */
export const dealSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, title: { type: 'string' }, stage: { type: 'string' }, amount: { type: 'number' } },
  required: ['id', 'title', 'stage'],
} as const;

export type Deal = Infer<typeof dealSchema>;
`,
    'src/actions/create-contact.ts': `import { defineAction } from '@businessos/connector-sdk';
import { contactSchema, type Contact } from '../schemas.ts';

export const createContact = defineAction({
  name: 'createContact',
  description: 'Create a contact. Fails with CONFLICT when the email already exists.',
  group: 'contact',
  params: {
    email: { type: 'string', format: 'email', required: true, description: 'Primary email address' },
    firstName: { type: 'string', maxLength: 100 },
    lastName: { type: 'string', maxLength: 100 },
    company: { type: 'string' },
  },
  output: contactSchema,
  examples: [{ description: 'A new lead', params: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' } }],
  async execute(params, ctx) {
    const res = await ctx.http.post<{ contact: Contact }>('/contacts', { contact: params });
    return res.data.contact;
  },
});
`,
    'src/actions/get-contact.ts': `import { defineAction } from '@businessos/connector-sdk';
import { contactSchema, type Contact } from '../schemas.ts';

export const getContact = defineAction({
  name: 'getContact',
  description: 'Fetch one contact by id. Fails with NOT_FOUND when it does not exist.',
  group: 'contact',
  idempotent: true,
  params: { id: { type: 'string', minLength: 1, required: true } },
  output: contactSchema,
  async execute({ id }, ctx) {
    const res = await ctx.http.get<{ contact: Contact }>(\`/contacts/\${encodeURIComponent(id)}\`);
    return res.data.contact;
  },
});
`,
    'src/actions/list-contacts.ts': `import { collect, defineAction, paginate } from '@businessos/connector-sdk';

interface ContactPage {
  contacts: Record<string, unknown>[];
  nextCursor?: string | null;
}

export const listContacts = defineAction({
  name: 'listContacts',
  description: 'List contacts, following the cursor through every page (up to \`limit\` contacts).',
  group: 'contact',
  idempotent: true,
  params: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    company: { type: 'string', description: 'Only contacts at this company' },
  },
  output: {
    type: 'object',
    properties: { contacts: { type: 'array', items: { type: 'object' } } },
    required: ['contacts'],
  },
  async execute(params, ctx) {
    const contacts = await collect(
      paginate(
        ctx.http,
        { method: 'GET', url: '/contacts', query: { company: params.company, page_size: 50 } },
        {
          type: 'cursor',
          cursorParam: 'cursor',
          nextCursor: (r) => (r.data as ContactPage).nextCursor,
          items: (r) => (r.data as ContactPage).contacts,
        },
        { maxItems: params.limit ?? 100 },
      ),
    );
    return { contacts };
  },
});
`,
    'src/actions/create-deal.ts': `import { defineAction } from '@businessos/connector-sdk';
import { dealSchema, type Deal } from '../schemas.ts';

export const createDeal = defineAction({
  name: 'createDeal',
  description: 'Open a deal for a contact.',
  group: 'deal',
  params: {
    title: { type: 'string', minLength: 1, required: true },
    contactId: { type: 'string', required: true },
    amount: { type: 'number', minimum: 0, description: 'Value in the account currency' },
    stage: { type: 'string', enum: ['lead', 'qualified', 'proposal', 'won', 'lost'], default: 'lead' },
  },
  output: dealSchema,
  async execute(params, ctx) {
    const res = await ctx.http.post<{ deal: Deal }>('/deals', { deal: { ...params, stage: params.stage ?? 'lead' } });
    return res.data.deal;
  },
});
`,
    'src/triggers/new-contact.ts': `import { defineTrigger } from '@businessos/connector-sdk';
import { contactSchema } from '../schemas.ts';

interface State {
  since: string;
}

export const newContact = defineTrigger({
  name: 'newContact',
  description: 'Fires for every contact created since the last poll.',
  group: 'contact',
  output: contactSchema,
  sample: { id: 'c_1', email: 'ada@example.com', firstName: 'Ada', createdAt: '2026-01-01T00:00:00Z' },
  polling: {
    intervalSeconds: 300,
    dedupe: { by: 'id', path: '/id' },
    async poll(ctx, state) {
      const since = (state as State | undefined)?.since ?? '1970-01-01T00:00:00Z';
      const res = await ctx.http.get<{ contacts: { createdAt: string }[] }>('/contacts', { query: { created_after: since, sort: 'createdAt' } });
      const items = res.data.contacts;
      const last = items.at(-1)?.createdAt ?? since;
      return { items, state: { since: last } satisfies State };
    },
  },
});
`,
    'fixtures/contacts.json': fixturesFile([
      {
        name: 'create a contact',
        request: { method: 'POST', path: '/contacts', headers: { 'x-api-key': '*' } },
        response: { status: 201, body: { contact: { id: 'c_100', email: '{{body.contact.email}}', firstName: '{{body.contact.firstName}}', createdAt: '2026-01-01T00:00:00Z' } } },
      },
      {
        name: 'missing contact',
        request: { method: 'GET', path: '/contacts/missing' },
        response: { status: 404, body: { error: 'Contact not found' } },
      },
      {
        name: 'one contact',
        request: { method: 'GET', path: '/contacts/:id' },
        response: { status: 200, body: { contact: { id: '{{params.id}}', email: 'ada@example.com', firstName: 'Ada', createdAt: '2026-01-01T00:00:00Z' } } },
      },
      {
        name: 'contacts, page 2',
        request: { method: 'GET', path: '/contacts', query: { cursor: 'page2' } },
        response: { status: 200, body: { contacts: [{ id: 'c_3', email: 'grace@example.com', createdAt: '2026-01-03T00:00:00Z' }], nextCursor: null } },
      },
      {
        name: 'contacts, page 1',
        request: { method: 'GET', path: '/contacts' },
        response: {
          status: 200,
          body: {
            contacts: [
              { id: 'c_1', email: 'ada@example.com', createdAt: '2026-01-01T00:00:00Z' },
              { id: 'c_2', email: 'alan@example.com', createdAt: '2026-01-02T00:00:00Z' },
            ],
            nextCursor: 'page2',
          },
        },
      },
      { name: 'connection test', request: { method: 'GET', path: '/me' }, response: { status: 200, body: { id: 'u_1', name: 'Test user' } } },
    ]),
    'fixtures/deals.json': fixturesFile([
      {
        name: 'create a deal',
        request: { method: 'POST', path: '/deals' },
        response: { status: 201, body: { deal: { id: 'd_1', title: '{{body.deal.title}}', stage: '{{body.deal.stage}}', amount: 5000 } } },
      },
    ]),
  }),
};
