// The typed error `run` throws; anything else thrown, or nothing thrown, fails the test.
export function thrownBy<E extends Error>(ErrorType: abstract new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (err) {
    if (err instanceof ErrorType) return err;
    throw err;
  }
  throw new Error(`expected a ${ErrorType.name}, but nothing was thrown`);
}
