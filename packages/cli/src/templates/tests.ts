import type { TemplateDefinition, TemplateNames } from './types.ts';

const HEADER = `import { fileURLToPath } from 'node:url';
import { createTestHarness, type TestHarness } from '@businessos/connector-sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import connector from './index.ts';

// The simulator answers from fixtures/*.json; nothing leaves this machine.
const fixturesDir = fileURLToPath(new URL('../fixtures', import.meta.url));
`;

function suite(name: string, harnessOptions: string, body: string): string {
  return `${HEADER}
describe('${name} connector', () => {
  let h: TestHarness;
  beforeAll(async () => {
    h = await createTestHarness({ connector, fixturesDir${harnessOptions} });
  });
  afterAll(() => h.close());

  it('declares a valid manifest', () => {
    expect(connector.manifest.name).toBe('${name}');
    expect(connector.manifest.actions.length).toBeGreaterThan(0);
  });
${body}});
`;
}

const BODIES: Record<TemplateDefinition['id'], (n: TemplateNames) => string> = {
  crm: () => `
  it('creates a contact, with the API key added by the host', async () => {
    const contact = await h.run('createContact', { email: 'ada@example.com', firstName: 'Ada' });
    expect(contact).toMatchObject({ id: 'c_100', email: 'ada@example.com', firstName: 'Ada' });
    const sent = h.api.requests.at(-1);
    expect(sent?.headers['x-api-key']).toBe('test-api-key');
    expect(sent?.body).toEqual({ contact: { email: 'ada@example.com', firstName: 'Ada' } });
  });

  it('rejects an invalid email before calling the API', async () => {
    const before = h.api.requests.length;
    await expect(h.run('createContact', { email: 'not-an-email' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(h.api.requests.length).toBe(before);
  });

  it('maps a 404 to NOT_FOUND', async () => {
    await expect(h.run('getContact', { id: 'missing' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('walks every page of contacts', async () => {
    const out = await h.run<{ contacts: { id: string }[] }>('listContacts', {});
    expect(out.contacts.map((c) => c.id)).toEqual(['c_1', 'c_2', 'c_3']);
  });

  it('opens a deal in the lead stage by default', async () => {
    expect(await h.run('createDeal', { title: 'Pilot', contactId: 'c_1' })).toMatchObject({ id: 'd_1', stage: 'lead' });
  });

  it('polls new contacts and remembers where it stopped', async () => {
    const { items, state } = await h.poll('newContact');
    expect(items.length).toBeGreaterThan(0);
    expect(state).toEqual({ since: '2026-01-02T00:00:00Z' });
  });
`,
  commerce: () => `
  it('gets a token from the local OAuth provider and lists every page of orders', async () => {
    const out = await h.run<{ orders: { id: number }[] }>('listOrders', {});
    expect(out.orders.map((o) => o.id)).toEqual([1001, 1002, 1003]);
    expect(h.credentials?.accessToken).toBeTruthy();
    expect(h.api.requests[0]?.headers.authorization).toBe(\`Bearer \${h.credentials?.accessToken}\`);
  });

  it('fetches one order and maps a 404 to NOT_FOUND', async () => {
    expect(await h.run('getOrder', { id: 1001 })).toMatchObject({ id: 1001, financial_status: 'paid' });
    await expect(h.run('getOrder', { id: 404 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('validates product variants', async () => {
    await expect(h.run('createProduct', { title: 'Mug', variants: [{ price: 'free' }] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await h.run('createProduct', { title: 'Mug', variants: [{ sku: 'MUG-1', price: '9.90' }] })).toMatchObject({ id: 501, title: 'Mug' });
  });

  it('subscribes the order webhook and turns a delivery into an event', async () => {
    expect(await h.subscribe('orderCreated')).toEqual({ externalId: '9001' });
    const events = await h.deliver('orderCreated', { body: { id: 1001, name: '#1001' } });
    expect(events).toEqual([{ id: 1001, name: '#1001' }]);
  });
`,
  payments: () => `
  it('sends form-encoded bodies with the secret key as a bearer token', async () => {
    const customer = await h.run('createCustomer', { email: 'ada@example.com', metadata: { plan: 'pro' } });
    expect(customer).toMatchObject({ id: 'cus_1', email: 'ada@example.com' });
    const sent = h.api.requests.at(-1);
    expect(sent?.headers['content-type']).toContain('application/x-www-form-urlencoded');
    expect(sent?.rawBody).toContain('metadata%5Bplan%5D=pro');
    expect(sent?.headers.authorization).toBe('Bearer test-token');
  });

  it('charges with an idempotency key', async () => {
    const charge = await h.run('createCharge', { amount: 2000, currency: 'eur', customer: 'cus_1', idempotencyKey: 'order-42' });
    expect(charge).toMatchObject({ id: 'ch_1', status: 'succeeded' });
    expect(h.api.requests.at(-1)?.headers['idempotency-key']).toBe('order-42');
  });

  it('reports a declined card as a typed error', async () => {
    await expect(h.run('createCharge', { amount: 2000, currency: 'eur', customer: 'cus_declined' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
  });

  it('rejects a currency that is not a 3-letter code', async () => {
    await expect(h.run('createCharge', { amount: 1, currency: 'euro', customer: 'cus_1' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('emits only charge.succeeded events', async () => {
    const charge = { id: 'ch_9', amount: 500, currency: 'eur', status: 'succeeded', customer: null };
    expect(await h.deliver('chargeSucceeded', { body: { id: 'evt_1', type: 'charge.succeeded', data: { object: charge } } })).toEqual([charge]);
    expect(await h.deliver('chargeSucceeded', { body: { id: 'evt_2', type: 'charge.refunded', data: { object: charge } } })).toEqual([]);
  });
`,
  messaging: () => `
  it('posts a message with the bot token', async () => {
    expect(await h.run('sendMessage', { channel: 'C1', text: 'hello' })).toEqual({ channel: 'C1', ts: '1767225600.000100' });
    expect(h.api.requests.at(-1)?.headers.authorization).toBe('Bearer test-token');
  });

  it('turns ok:false into a typed error', async () => {
    await expect(h.run('sendMessage', { channel: 'C_MISSING', text: 'hello' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
  });

  it('lists channels across pages', async () => {
    const out = await h.run<{ channels: { name: string }[] }>('listChannels', {});
    expect(out.channels.map((c) => c.name)).toEqual(['general', 'deploys', 'random']);
  });

  it('emits messages and ignores other events', async () => {
    const message = { type: 'event_callback', event: { type: 'message', channel: 'C1', user: 'U1', text: 'hi', ts: '1.2' } };
    expect(await h.deliver('messageReceived', { body: message })).toEqual([{ channel: 'C1', user: 'U1', text: 'hi', ts: '1.2' }]);
    expect(await h.deliver('messageReceived', { body: { type: 'url_verification', challenge: 'x' } })).toEqual([]);
  });
`,
  rest: () => `
  it('lists items with the API token added by the host', async () => {
    const out = await h.run<{ items: { id: string }[] }>('listItems', {});
    expect(out.items.map((i) => i.id)).toEqual(['i_1', 'i_2']);
    expect(h.api.requests.at(-1)?.headers.authorization).toBe('Token test-api-key');
  });

  it('gets, creates, and maps 404 to NOT_FOUND', async () => {
    expect(await h.run('getItem', { id: 'i_1' })).toMatchObject({ id: 'i_1', name: 'Widget' });
    expect(await h.run('createItem', { name: 'Gizmo' })).toMatchObject({ name: 'Gizmo' });
    await expect(h.run('getItem', { id: 'missing' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('polls changed items and keeps the last timestamp', async () => {
    const { items, state } = await h.poll('itemUpdated');
    expect(items).toHaveLength(2);
    expect(state).toBe('2026-01-02T00:00:00Z');
  });
`,
};

/** The scaffold's test file: the connector run through `createTestHarness` against its fixtures. */
export function testFile(template: TemplateDefinition['id'], names: TemplateNames): string {
  return suite(names.name, '', BODIES[template](names));
}
