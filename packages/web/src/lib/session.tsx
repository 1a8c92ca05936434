import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { createApiClient, type ApiClient } from '../api/client.ts';

// The tenant API key lives in sessionStorage (gone when the tab closes) and in memory; never in the URL.

const STORAGE_KEY = 'bos.apiKey';

interface SessionValue {
  key: string | null;
  api: ApiClient;
  signIn(key: string): void;
  signOut(): void;
}

const SessionContext = createContext<SessionValue | null>(null);

function readStored(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Holds the API key and an API client that sends it. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [key, setKey] = useState<string | null>(readStored);
  const keyRef = useRef(key);
  keyRef.current = key;
  const api = useMemo(() => createApiClient({ getKey: () => keyRef.current }), []);
  const signIn = useCallback((next: string) => {
    keyRef.current = next;
    setKey(next);
    try {
      window.sessionStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Storage can be disabled; the key then lives in memory only.
    }
  }, []);
  const signOut = useCallback(() => {
    keyRef.current = null;
    setKey(null);
    try {
      window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Nothing stored.
    }
  }, []);
  const value = useMemo(() => ({ key, api, signIn, signOut }), [key, api, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The session: current key, client, sign in/out. */
export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession needs a <SessionProvider> above it');
  return value;
}
