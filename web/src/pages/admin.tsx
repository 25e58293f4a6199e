/** Admin (being built). */

export function AdminPage() {
  return (
    <section>
      <h1>Admin</h1>
    </section>
  );
}
