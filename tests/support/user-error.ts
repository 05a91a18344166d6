import { expect } from 'vitest';
import { UserError } from '../../core/errors.js';

/** Awaits a promise that must reject with a UserError, and returns it for the test to read. */
export async function rejectsWithUserError(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}
