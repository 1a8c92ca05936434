import { useCallback, useEffect, useRef, useState } from 'react';

/** The state of a load: loading (with the previous data, if any), loaded, or failed. */
export type AsyncState<T> = { status: 'loading'; data?: T } | { status: 'ok'; data: T } | { status: 'error'; error: unknown; data?: T };

/**
 * Runs `load` when `deps` change and keeps the latest answer only (an older, slower answer is dropped).
 * @example const state = useAsync(() => api.installations(), [api]);
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> & { reload(): void } {
  const [state, setState] = useState<AsyncState<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ status: 'loading', data: s.data }));
    loadRef.current(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ status: 'ok', data }),
      (error: unknown) => !controller.signal.aborted && setState((s) => ({ status: 'error', error, data: s.data })),
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
