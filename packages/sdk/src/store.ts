/** Per-connection key/value storage for trigger state (cursors, last seen ids). Values are JSON. */
export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A store that keeps values in memory; what tests and the local simulator use. */
export function createMemoryStore(initial: Record<string, unknown> = {}): KeyValueStore & { snapshot(): Record<string, unknown> } {
  const data = new Map<string, string>(Object.entries(initial).map(([k, v]) => [k, JSON.stringify(v)]));
  return {
    async get<T>(key: string) {
      const raw = data.get(key);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    },
    async set(key, value) {
      data.set(key, JSON.stringify(value));
    },
    async delete(key) {
      data.delete(key);
    },
    snapshot() {
      return Object.fromEntries([...data].map(([k, v]) => [k, JSON.parse(v) as unknown]));
    },
  };
}
