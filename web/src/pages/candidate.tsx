/** Candidate (being built). */

export function CandidatePage({ app, digest, env }: { app: string; digest: string; env: string }) {
  void [app, digest, env];
  return (
    <section>
      <h1>Candidate</h1>
    </section>
  );
}
