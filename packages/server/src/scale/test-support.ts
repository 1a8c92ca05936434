import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP proxy in front of a Redis, which a test can take away without touching the Redis behind it. */
export interface RedisProxy {
  /** The Redis URL to give the code under test (the target's, with the proxy's host and port). */
  url: string;
  /** Open connections (clients and their upstreams). */
  open(): number;
  /** Stops listening and cuts every open connection: from then on connecting is refused, as with a Redis that is down. */
  kill(): Promise<void>;
}

/**
 * Starts a {@link RedisProxy} on loopback in front of `target`, so a test can simulate a Redis outage while the
 * machine's real Redis keeps running for everyone else.
 * @example const proxy = await startRedisProxy(new URL(process.env.REDIS_URL!)); ...; await proxy.kill();
 */
export async function startRedisProxy(target: URL): Promise<RedisProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  let killed: Promise<void> | undefined;
  return {
    url: url.toString(),
    open: () => sockets.size,
    kill() {
      killed ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return killed;
    },
  };
}
