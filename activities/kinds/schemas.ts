import { z } from 'zod';
import { durationSchema } from '../../pipelines/core/params';
import { isRepoPath } from '../code-files';

/** Zod pieces the kinds' spec schemas share. */

/** `YYYY-MM-DD`, e.g. `'{{cutoff}}'` once filled in. */
export const dateString = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date YYYY-MM-DD' });

/** A Temporal duration string, or milliseconds. */
export const durationLike = z.union([durationSchema, z.number().nonnegative()], {
  error: (issue) => `invalid duration ${JSON.stringify(issue.input)} (expected e.g. "5 hours", "90 seconds")`,
});

/** A scalar that ends up as text (an environment variable; `'{{train_steps}}'` fills in a number). */
export const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/**
 * The folder of the step's repository that is its program (`models`): shipped alone, and its content
 * at the pinned commit is in the key.
 */
export const programFolder = z
  .string()
  .refine(isRepoPath, { error: 'expected a folder of the repository, e.g. models' })
  .default('models');

/** A non-empty name (a table, a model, an artifact). */
export const name = z.string().min(1, { error: 'must not be empty' });
