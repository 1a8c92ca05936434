// The connectors the n8n end-to-end script runs in real n8n: for each, the credential n8n imports, the node's
// parameters, a loopback mock of the provider's API and the checks on what n8n printed and what the mock saw.

/** One request the loopback mock received. */
export interface SeenRequest {
  method: string;
  /** Path and query, without the connector's `/<name>` prefix. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What the mock answers. */
export interface MockReply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** One connector run in n8n. */
export interface E2eCase {
  /** Folder under connectors/. */
  connector: string;
  /** The node's type name inside the package and its name in the workflow. */
  nodeType: string;
  nodeName: string;
  credentialType: string;
  /** The credential's data as `n8n import:credentials` takes it; `mockBase` is `http://127.0.0.1:<port>/<connector>`. */
  credentialData(mockBase: string): Record<string, unknown>;
  parameters: Record<string, unknown>;
  /** The mock API; `mockBase` lets it write absolute URLs (Link headers). */
  handle(request: SeenRequest, mockBase: string): MockReply;
  /** Undefined when n8n's output items and the mock's requests are what they should be, else what is wrong. */
  check(items: Array<Record<string, unknown>>, seen: SeenRequest[]): string | undefined;
  /** One line for the summary: what the mock saw. */
  describe(seen: SeenRequest[]): string;
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): MockReply => ({ status, body, headers });
const header = (r: SeenRequest, name: string): string | undefined => {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};
const seenLine = (seen: SeenRequest[], auth: string) => seen.map((s) => `${s.method} ${s.url} (${auth}: ${String(header(s, auth.toLowerCase()))})`).join('; ');

const STRIPE_KEY = 'sk_test_e2e';
const stripe: E2eCase = {
  connector: 'stripe',
  nodeType: 'stripe',
  nodeName: 'Stripe',
  credentialType: 'bosStripeApi',
  credentialData: (mockBase) => ({ token: STRIPE_KEY, baseUrl: mockBase }),
  parameters: { resource: 'customer', operation: 'createCustomer', additionalFields: { email: 'jenny@example.com', name: 'Jenny Rosen', metadata: '{"crm_id":"4711"}' } },
  handle(req) {
    if (header(req, 'authorization') !== `Bearer ${STRIPE_KEY}`) return json({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }, 401);
    if (req.method !== 'POST' || req.url !== '/v1/customers') return json({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url})` } }, 404);
    const form = new URLSearchParams(req.body);
    return json({ id: 'cus_E2E123', object: 'customer', created: 1700000000, email: form.get('email'), name: form.get('name'), livemode: false, metadata: { crm_id: form.get('metadata[crm_id]') } });
  },
  check(items, seen) {
    const item = items[0];
    if (items.length !== 1 || item?.id !== 'cus_E2E123' || item.email !== 'jenny@example.com') return `expected one created customer cus_E2E123, got ${JSON.stringify(items)}`;
    const call = seen.find((s) => s.method === 'POST' && s.url === '/v1/customers');
    if (!call) return `the mock saw no POST /v1/customers (saw ${JSON.stringify(seen)})`;
    if (header(call, 'authorization') !== `Bearer ${STRIPE_KEY}`) return `POST /v1/customers carried Authorization ${String(header(call, 'authorization'))}, not the credential's bearer key`;
    const form = new URLSearchParams(call.body);
    if (form.get('email') !== 'jenny@example.com' || form.get('metadata[crm_id]') !== '4711') return `unexpected form body ${call.body}`;
    return undefined;
  },
  describe: (seen) => `${seenLine(seen, 'Authorization')}, body ${seen[0]?.body ?? ''}`,
};

// Slack's oauth.v2.access answers token_type "bot" for a bot token; n8n's OAuth2 client would put any token type
// other than "bearer" into the query string, which Slack refuses for apps created since 2021.
const SLACK_TOKEN = 'xoxb-e2e-0001';
const SLACK_TEXT = 'Order #1001 shipped';
const slack: E2eCase = {
  connector: 'slack',
  nodeType: 'slack',
  nodeName: 'Slack',
  credentialType: 'bosSlackOAuth2Api',
  credentialData: (mockBase) => ({
    clientId: 'e2e-client-id',
    clientSecret: 'e2e-client-secret',
    baseUrl: `${mockBase}/api`,
    oauthTokenData: { ok: true, access_token: SLACK_TOKEN, token_type: 'bot', scope: 'chat:write,channels:read', bot_user_id: 'U0E2EBOT', app_id: 'A0E2E', team: { id: 'T0E2E', name: 'E2E' } },
  }),
  parameters: { resource: 'message', operation: 'postMessage', channel: 'C0E2E0001', additionalFields: { text: SLACK_TEXT } },
  handle(req) {
    // Slack answers HTTP 200 with ok: false for auth problems.
    if (header(req, 'authorization') !== `Bearer ${SLACK_TOKEN}`) return json({ ok: false, error: 'not_authed' });
    if (req.method !== 'POST' || req.url !== '/api/chat.postMessage') return json({ ok: false, error: 'unknown_method' }, 404);
    const body = JSON.parse(req.body || '{}') as { channel?: string; text?: string };
    const ts = '1700000000.000100';
    return json({ ok: true, channel: body.channel, ts, message: { type: 'message', text: body.text, ts, bot_id: 'B0E2E', user: 'U0E2EBOT' } });
  },
  check(items, seen) {
    const item = items[0];
    const message = item?.message as { text?: unknown } | undefined;
    if (items.length !== 1 || item?.ok !== true || item.channel !== 'C0E2E0001' || message?.text !== SLACK_TEXT) return `expected one posted message in C0E2E0001, got ${JSON.stringify(items)}`;
    const call = seen.find((s) => s.method === 'POST' && s.url === '/api/chat.postMessage');
    if (!call) return `the mock saw no POST /api/chat.postMessage (saw ${JSON.stringify(seen)})`;
    if (header(call, 'authorization') !== `Bearer ${SLACK_TOKEN}`) return `chat.postMessage carried Authorization ${String(header(call, 'authorization'))}, not Bearer <the credential's OAuth access token>`;
    if (call.url.includes('access_token')) return `the access token leaked into the query string: ${call.url}`;
    const body = JSON.parse(call.body || '{}') as Record<string, unknown>;
    if (body.channel !== 'C0E2E0001' || body.text !== SLACK_TEXT) return `unexpected JSON body ${call.body}`;
    return undefined;
  },
  describe: (seen) => `${seenLine(seen, 'Authorization')}, body ${seen[0]?.body ?? ''}`,
};

// Shopify's access-token answer has no token_type; the token goes in X-Shopify-Access-Token.
const SHOPIFY_TOKEN = 'shpat_e2e0001';
const SHOP = 'e2e-shop';
const SHOPIFY_PATH = `/shops/${SHOP}/admin/api/2025-01/orders.json`;
const order = (id: number, name: string) => ({ id, name, email: 'jenny@example.com', total_price: '20.00', currency: 'USD', financial_status: 'paid', created_at: '2025-01-15T12:00:00-05:00' });
const shopify: E2eCase = {
  connector: 'shopify',
  nodeType: 'shopify',
  nodeName: 'Shopify',
  credentialType: 'bosShopifyOAuth2Api',
  // {shop} in the Base URL is filled from the credential's Shop field, as in the default https://{shop}.myshopify.com/...
  credentialData: (mockBase) => ({
    shop: SHOP,
    clientId: 'e2e-client-id',
    clientSecret: 'e2e-client-secret',
    baseUrl: `${mockBase}/shops/{shop}/admin/api/2025-01`,
    oauthTokenData: { access_token: SHOPIFY_TOKEN, scope: 'read_orders,write_orders,read_products,write_products' },
  }),
  parameters: { resource: 'order', operation: 'listOrders', additionalFields: { financial_status: 'paid', max_items: 3 } },
  handle(req, mockBase) {
    if (header(req, 'x-shopify-access-token') !== SHOPIFY_TOKEN) return json({ errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }, 401);
    const url = new URL(req.url, 'http://mock');
    if (req.method !== 'GET' || url.pathname !== SHOPIFY_PATH) return json({ errors: 'Not Found' }, 404);
    if (url.searchParams.get('page_info') === 'p2') return json({ orders: [order(1003, '#1003')] });
    return json({ orders: [order(1001, '#1001'), order(1002, '#1002')] }, 200, { link: `<${mockBase}${SHOPIFY_PATH}?limit=3&page_info=p2>; rel="next"` });
  },
  check(items, seen) {
    const orders = items[0]?.orders;
    const names = Array.isArray(orders) ? orders.map((o: { name?: unknown }) => o.name) : [];
    if (items.length !== 1 || names.join(',') !== '#1001,#1002,#1003') return `expected one item with orders #1001, #1002, #1003 (two pages), got ${JSON.stringify(items)}`;
    if (seen.length !== 2) return `expected two GET ${SHOPIFY_PATH} (first page, then the Link header's next page), saw ${JSON.stringify(seen.map((s) => `${s.method} ${s.url}`))}`;
    const first = new URL(seen[0]?.url ?? '/', 'http://mock');
    if (first.searchParams.get('financial_status') !== 'paid' || first.searchParams.get('status') !== 'any' || first.searchParams.get('limit') !== '3') return `unexpected first page query ${first.search}`;
    if (!seen[1]?.url.includes('page_info=p2')) return `the second request did not follow the Link header: ${String(seen[1]?.url)}`;
    const bad = seen.find((s) => header(s, 'x-shopify-access-token') !== SHOPIFY_TOKEN);
    if (bad) return `${bad.url} carried X-Shopify-Access-Token ${String(header(bad, 'x-shopify-access-token'))}, not the credential's OAuth access token`;
    return undefined;
  },
  describe: (seen) => seenLine(seen, 'X-Shopify-Access-Token'),
};

/** Stripe (API key), Slack (OAuth2, bearer) and Shopify (OAuth2, token header, templated host, Link pages). */
export const E2E_CASES: readonly E2eCase[] = [stripe, slack, shopify];
