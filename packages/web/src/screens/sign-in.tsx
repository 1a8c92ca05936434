import { useState, type FormEvent } from 'react';
import { isApiError } from '../api/client.ts';
import { ErrorNotice } from '../components/ui.tsx';
import { useRouter } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';

/** Sign in with a tenant API key: checked against the service before it is kept (in session storage only). */
export function SignInScreen() {
  const { api, signIn, signOut } = useSession();
  const { navigate } = useRouter();
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (!key) return;
    setBusy(true);
    setError(null);
    signIn(key);
    try {
      await api.installations();
      setValue('');
      navigate('/installed');
    } catch (err) {
      signOut();
      setError(isApiError(err) && err.status === 401 ? new Error('The service does not accept this key. Check that you copied all of it and that it was not revoked.') : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <h1>Sign in</h1>
      <p className="lead">Use an API key of your tenant (it starts with <code>bos_</code>). It stays in this browser tab only and is forgotten when you close it.</p>
      <form onSubmit={submit} className="panel">
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input id="api-key" type="password" autoComplete="off" spellCheck={false} required value={value} onChange={(e) => setValue(e.target.value)} aria-describedby="api-key-help" />
          <p id="api-key-help" className="help">
            A tenant admin creates keys with <code>POST /api-keys</code>; each is shown once.
          </p>
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error !== null && <ErrorNotice error={error} what="Sign in" />}
      </form>
    </div>
  );
}
