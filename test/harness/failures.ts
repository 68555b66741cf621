import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';

/** Awaits a promise that must reject with a typed failure; returns it for further checks. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}
