/** Pipeline (being built). */

export function PipelinePage() {
  return (
    <section>
      <h1>Pipeline</h1>
    </section>
  );
}
