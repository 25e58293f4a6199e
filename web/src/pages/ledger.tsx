/** Ledger (being built). */

export function LedgerPage({ query }: { query: URLSearchParams }) {
  void query;
  return (
    <section>
      <h1>Ledger</h1>
    </section>
  );
}
