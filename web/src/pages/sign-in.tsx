/** The sign-in form: an API token (`gty_…`), checked against the server before it is kept. */
import { useSignal } from '@preact/signals';
import { signIn, tokenMethod } from '../auth';

export function SignIn({ reason }: { reason?: string | undefined }) {
  const error = useSignal<string | undefined>(reason);
  const busy = useSignal(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const value = new FormData(form).get('token');
    const token = typeof value === 'string' ? value.trim() : '';
    if (!token) {
      error.value = 'Enter an API token.';
      return;
    }
    busy.value = true;
    error.value = undefined;
    try {
      await signIn(tokenMethod(token));
      document.title = 'Pipeline · Gantry';
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err);
    } finally {
      busy.value = false;
    }
  };
  document.title = 'Sign in · Gantry';
  return (
    <main id="main" class="sign-in">
      <form onSubmit={(e) => void submit(e)} aria-describedby="sign-in-help">
        <h1>Sign in to Gantry</h1>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="gty_…"
          required
          aria-invalid={error.value ? 'true' : undefined}
          aria-describedby={error.value ? 'sign-in-error' : undefined}
        />
        <p id="sign-in-help" class="muted">
          An administrator creates tokens on the Admin page (or with <code>POST /api/v1/tokens</code>). The
          token is kept for this browser session only.
        </p>
        {error.value && (
          <p id="sign-in-error" class="error" role="alert">
            {error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy.value}>
          {busy.value ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
