// Test support: a loopback mock of the part of the Stripe API the `newCustomer` polling trigger reads.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A customer as the mock stores it (the fields the connector's schema requires). */
export interface MockCustomer {
  id: string;
  object: 'customer';
  created: number;
  email: string;
  name: string;
  livemode: false;
  metadata: Record<string, string>;
}

/** One request the mock answered. */
export interface MockRequest {
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  /** The status answered. */
  status: number;
}

/** The running mock: add customers, read what was asked. */
export interface StripeCustomersMock {
  url: string;
  requests: MockRequest[];
  /** Adds a customer created `created` (Unix seconds; default: one second after the newest). */
  addCustomer(name: string, created?: number): MockCustomer;
  /** Replaces the key the mock accepts (a key revoked at Stripe: every request with the old one gets 401). */
  rotateKey(secretKey: string): void;
  /**
   * From now on every request waits, unanswered, until the returned function is called (a slow API, to catch a
   * poll in the middle). {@link held} counts the requests waiting.
   */
  hold(): () => void;
  /** Requests waiting for a {@link hold} to be released. */
  readonly held: number;
  close(): Promise<void>;
}

/**
 * Starts `GET /v1/customers` on 127.0.0.1 the way Stripe answers it: newest first, `limit`, `created[gte]`,
 * `starting_after` cursor pagination, `{ object: 'list', data, has_more }`; 401 without `Bearer <secretKey>`.
 */
export async function startStripeCustomersMock(initialKey: string): Promise<StripeCustomersMock> {
  let secretKey = initialKey;
  const customers: MockCustomer[] = [];
  const requests: MockRequest[] = [];
  let counter = 0;
  let gate: Promise<void> | undefined;
  let held = 0;
  const server: Server = createServer(async (req, res) => {
    if (gate) {
      held += 1;
      await gate;
      held -= 1;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const request: MockRequest = { path: url.pathname, query, authorization: req.headers.authorization, status: 200 };
    requests.push(request);
    res.setHeader('content-type', 'application/json');
    res.setHeader('request-id', `req_${requests.length}`);
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      res.statusCode = request.status = 401;
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }));
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/v1/customers') {
      res.statusCode = request.status = 404;
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } }));
      return;
    }
    const limit = Math.min(100, Number(query.limit ?? '10'));
    const gte = query['created[gte]'] === undefined ? undefined : Number(query['created[gte]']);
    let list = [...customers].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
    if (gte !== undefined) list = list.filter((c) => c.created >= gte);
    if (query.starting_after) list = list.slice(list.findIndex((c) => c.id === query.starting_after) + 1);
    res.end(JSON.stringify({ object: 'list', url: '/v1/customers', data: list.slice(0, limit), has_more: list.length > limit }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addCustomer(name, created) {
      counter += 1;
      const newest = customers.reduce((max, c) => Math.max(max, c.created), 1_700_000_000);
      const customer: MockCustomer = { id: `cus_${String(counter).padStart(4, '0')}${name.toLowerCase()}`, object: 'customer', created: created ?? newest + 1, email: `${name.toLowerCase()}@example.com`, name, livemode: false, metadata: {} };
      customers.push(customer);
      return customer;
    },
    rotateKey(key) {
      secretKey = key;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => { release = resolve; });
      return () => {
        gate = undefined;
        release();
      };
    },
    get held() {
      return held;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
