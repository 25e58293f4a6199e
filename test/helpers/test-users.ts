/** Credentials of the users that test registries and the fake token server accept. */

/** A username and its plain-text password (test-only secrets). */
export interface TestUser {
  /** Login name. */
  username: string;
  /** Plain-text password. */
  password: string;
}

/** The default user of authenticated test registries. */
export const DEFAULT_TEST_USER: Readonly<TestUser> = Object.freeze({
  username: 'alice',
  password: 'wonderland-secret',
});

/** The users a test registry gets when none are given: just {@link DEFAULT_TEST_USER}. */
export function defaultTestUsers(): TestUser[] {
  return [{ ...DEFAULT_TEST_USER }];
}
