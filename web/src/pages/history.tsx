/** History (being built). */

export function HistoryPage({ query }: { query: URLSearchParams }) {
  void query;
  return (
    <section>
      <h1>History</h1>
    </section>
  );
}
