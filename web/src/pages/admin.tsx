/**
 * Administration (`/admin`, admin role only): API tokens (create, with the secret shown once;
 * revoke) and the webhook delivery log (redeliver).
 */
import { useSignal } from '@preact/signals';
import { api } from '../api';
import type { CreatedToken, Pipeline, TokenInfo } from '../api-types';
import { session } from '../auth';
import { Age, Dialog, ErrorNote, useLoad } from '../components';
import { ReviewTableWrap } from '../review-fields';
import { ReviewDeliveries } from '../review-deliveries';

const ROLES = ['admin', 'ci', 'deployer', 'viewer', 'registry'] as const;

export function AdminPage() {
  if (!session.value?.may.admin)
    return (
      <section>
        <h1>Admin</h1>
        <p class="error" role="alert">
          The Admin page needs the admin role. Ask an administrator for a token with it.
        </p>
      </section>
    );
  return (
    <section>
      <h1>Admin</h1>
      <Tokens />
      <ReviewDeliveries />
    </section>
  );
}

/** A form field's trimmed text ('' when absent). */
function text(value: FormDataEntryValue | null): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** A comma- or space-separated list as its entries. */
function list(value: FormDataEntryValue | null): string[] {
  return typeof value === 'string' ? value.split(/[\s,]+/).filter((s) => s !== '') : [];
}

function Tokens() {
  const tokens = useLoad(() => api<{ tokens: TokenInfo[] }>('GET', '/api/v1/tokens'), []);
  const pipeline = useLoad(() => api<Pipeline>('GET', '/api/v1/pipeline'), []);
  const created = useSignal<CreatedToken | undefined>(undefined);
  const revoking = useSignal<TokenInfo | undefined>(undefined);
  const createError = useSignal<unknown>(undefined);
  const busy = useSignal(false);
  const now = Date.now();

  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = text(data.get('name'));
    const roles = data.getAll('roles').filter((r): r is string => typeof r === 'string');
    const expiresIn = text(data.get('expiresIn'));
    const groups = list(data.get('groups'));
    const teams = list(data.get('teams'));
    createError.value = undefined;
    if (!name) return void (createError.value = 'Give the token a name.');
    if (roles.length === 0) return void (createError.value = 'Choose at least one role.');
    busy.value = true;
    try {
      created.value = await api<CreatedToken>('POST', '/api/v1/tokens', {
        name,
        roles,
        ...(groups.length > 0 && { groups }),
        ...(teams.length > 0 && { teams }),
        ...(expiresIn && { expiresIn }),
      });
      form.reset();
      await tokens.reload();
    } catch (err) {
      createError.value = err;
    } finally {
      busy.value = false;
    }
  };

  const envs = pipeline.data.value?.environments.map((e) => e.name) ?? [];
  const all = tokens.data.value?.tokens ?? [];
  return (
    <>
      <h2 id="tokens-heading">API tokens</h2>
      <ErrorNote error={tokens.error.value} />
      {tokens.data.value && all.length === 0 && <p class="muted">No tokens.</p>}
      {all.length > 0 && (
        <ReviewTableWrap label="API tokens">
          <table class="review-stack">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Roles</th>
                <th scope="col">Groups</th>
                <th scope="col">Teams</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {all.map((t) => {
                const expired = t.expiresAt !== null && Date.parse(t.expiresAt) <= now;
                return (
                  <tr key={t.id}>
                    <td data-label="Name">
                      <span>
                        {t.name} <code class="muted">{t.id}</code>
                        {t.id === session.value?.token.id && <span class="muted"> (this session)</span>}
                      </span>
                    </td>
                    <td data-label="Roles">{t.roles.join(', ')}</td>
                    <td data-label="Groups">{t.groups.join(', ') || <span class="muted">—</span>}</td>
                    <td data-label="Teams">{t.teams.join(', ') || <span class="muted">all</span>}</td>
                    <td data-label="Created">
                      <Age time={t.createdAt} now={now} />
                    </td>
                    <td data-label="Expires">
                      {t.expiresAt ? (
                        <time dateTime={t.expiresAt}>
                          {new Date(t.expiresAt).toISOString().slice(0, 16)}Z
                        </time>
                      ) : (
                        <span class="muted">never</span>
                      )}
                    </td>
                    <td data-label="State">
                      {t.revokedAt ? (
                        <span class="badge bad">revoked</span>
                      ) : expired ? (
                        <span class="badge off">expired</span>
                      ) : (
                        <span class="badge ok">active</span>
                      )}
                    </td>
                    <td data-label="Actions">
                      {!t.revokedAt && (
                        <button
                          type="button"
                          onClick={() => (revoking.value = t)}
                          aria-label={`Revoke ${t.name}`}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}

      <h2 id="create-heading">Create a token</h2>
      <form class="card review-form" onSubmit={(e) => void create(e)} aria-labelledby="create-heading">
        <div class="field">
          <label for="token-name">Name</label>
          <input id="token-name" name="name" required maxLength={100} autocomplete="off" />
        </div>
        <fieldset class="review-choices">
          <legend>Roles</legend>
          {[...ROLES, ...envs.map((e) => `approver:${e}`)].map((r) => (
            <label key={r} class="review-choice">
              <input type="checkbox" name="roles" value={r} /> {r}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="token-groups">Approval groups (optional, comma-separated)</label>
          <input id="token-groups" name="groups" autocomplete="off" />
        </div>
        <div class="field">
          <label for="token-teams">Teams (optional: limits the token to their applications)</label>
          <input id="token-teams" name="teams" autocomplete="off" />
        </div>
        <div class="field">
          <label for="token-expires">Expires in (optional, e.g. 90d, 24h; empty: never)</label>
          <input id="token-expires" name="expiresIn" autocomplete="off" maxLength={32} />
        </div>
        <ErrorNote error={createError.value} />
        <button type="submit" class="primary" disabled={busy.value}>
          {busy.value ? 'Creating…' : 'Create token'}
        </button>
      </form>

      {created.value && <SecretDialog created={created.value} onClose={() => (created.value = undefined)} />}
      {revoking.value && (
        <RevokeDialog
          token={revoking.value}
          onClose={() => (revoking.value = undefined)}
          onDone={() => {
            revoking.value = undefined;
            void tokens.reload();
          }}
        />
      )}
    </>
  );
}

/** The new token's secret, shown this once. */
function SecretDialog({ created, onClose }: { created: CreatedToken; onClose: () => void }) {
  const copied = useSignal<string | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      copied.value = 'Copied to the clipboard.';
    } catch {
      (document.getElementById('token-secret') as HTMLInputElement | null)?.select();
      copied.value = 'The browser refused the clipboard: the secret is selected, copy it with Ctrl+C (⌘C).';
    }
  };
  return (
    <Dialog open title={`Token “${created.name}” created`} onClose={onClose}>
      <p class="review-warning">
        <strong>Copy the secret now: it will not be shown again.</strong> Gantry keeps only its hash.
      </p>
      <div class="field">
        <label for="token-secret">Secret</label>
        <input
          id="token-secret"
          readOnly
          value={created.token}
          spellcheck={false}
          class="review-secret"
          onFocus={(e) => e.currentTarget.select()}
        />
      </div>
      <p role="status" class="muted">
        {copied.value}
      </p>
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()}>
          Copy secret
        </button>
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

function RevokeDialog({
  token,
  onClose,
  onDone,
}: {
  token: TokenInfo;
  onClose: () => void;
  onDone: () => void;
}) {
  const busy = useSignal(false);
  const error = useSignal<unknown>(undefined);
  const revoke = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      await api('DELETE', `/api/v1/tokens/${encodeURIComponent(token.id)}`);
      onDone();
    } catch (err) {
      error.value = err;
    } finally {
      busy.value = false;
    }
  };
  return (
    <Dialog open title={`Revoke “${token.name}”?`} onClose={onClose}>
      <p>
        Every request with this token is refused from now on. This is recorded in the ledger and cannot be
        undone.
      </p>
      <ErrorNote error={error.value} />
      <div class="actions">
        <button type="button" class="danger" disabled={busy.value} onClick={() => void revoke()}>
          {busy.value ? 'Revoking…' : 'Revoke token'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
