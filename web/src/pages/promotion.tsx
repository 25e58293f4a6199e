/** Promotion (being built). */

export function PromotionPage({ id }: { id: string }) {
  void id;
  return (
    <section>
      <h1>Promotion</h1>
    </section>
  );
}
