/** The webhook delivery log on the Admin page: newest first, with a redelivery per delivery. */
import { useSignal } from '@preact/signals';
import { api } from './api';
import type { WebhookDelivery as Delivery } from './api-types';
import { Age, ErrorNote, useLoad } from './components';
import { ReviewTableWrap } from './review-fields';

const TONE: Record<Delivery['state'], string> = { pending: 'wait', delivered: 'ok', dead: 'bad' };

export function ReviewDeliveries() {
  const deliveries = useLoad(
    () => api<{ deliveries: Delivery[]; next?: string }>('GET', '/api/v1/webhooks/deliveries'),
    [],
  );
  const error = useSignal<unknown>(undefined);
  const done = useSignal<string | undefined>(undefined);
  const busy = useSignal<string | undefined>(undefined);
  const redeliver = async (d: Delivery) => {
    busy.value = d.id;
    error.value = undefined;
    done.value = undefined;
    try {
      await api('POST', `/api/v1/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`);
      done.value = `${d.event} is being delivered to ${d.endpoint} again.`;
      await deliveries.reload();
    } catch (err) {
      error.value = err;
    } finally {
      busy.value = undefined;
    }
  };
  const all = deliveries.data.value?.deliveries ?? [];
  return (
    <>
      <h2>Webhook deliveries</h2>
      <ErrorNote error={deliveries.error.value ?? error.value} />
      <p role="status" class="muted">
        {done.value}
      </p>
      {deliveries.data.value && all.length === 0 && (
        <p class="muted">
          No webhook deliveries yet (endpoints are configured under webhooks: in gantry.yaml).
        </p>
      )}
      {all.length > 0 && (
        <ReviewTableWrap label="Webhook deliveries">
          <table class="review-stack">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Endpoint</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">When</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {all.map((d) => (
                <tr key={d.id}>
                  <td data-label="Event">
                    <span>
                      <code>{d.event}</code> <span class="muted review-wrap">{d.subject}</span>
                    </span>
                  </td>
                  <td data-label="Endpoint">{d.endpoint}</td>
                  <td data-label="State">
                    <span class={`badge ${TONE[d.state]}`}>{d.state}</span>
                  </td>
                  <td data-label="Attempts">{d.attempts}</td>
                  <td data-label="Last error" class="review-wrap">
                    {d.lastError ??
                      (d.lastStatus !== null ? `HTTP ${d.lastStatus}` : <span class="muted">—</span>)}
                  </td>
                  <td data-label="When">
                    <Age time={d.updatedAt} />
                  </td>
                  <td data-label="Actions">
                    {d.state === 'pending' ? (
                      <span class="muted">being delivered</span>
                    ) : (
                      <button
                        type="button"
                        disabled={busy.value !== undefined}
                        onClick={() => void redeliver(d)}
                        aria-label={`Redeliver ${d.event} to ${d.endpoint}`}
                      >
                        {busy.value === d.id ? 'Redelivering…' : 'Redeliver'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ReviewTableWrap>
      )}
    </>
  );
}
