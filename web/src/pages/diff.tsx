/** Diff (being built). */

export function DiffPage({ query }: { query: URLSearchParams }) {
  void query;
  return (
    <section>
      <h1>Diff</h1>
    </section>
  );
}
