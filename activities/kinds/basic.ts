import { z } from 'zod';
import { defineKind } from './kind';

/**
 * `echo` (demos, tests, the overhead benchmark): returns its planned outputs and its message. Any other
 * spec field is kept. A local activity: no work, so no activity task round trip either.
 */
export const echoKind = defineKind({
  name: 'echo',
  version: '1',
  runs: { by: 'local-activity' },
  spec: z.looseObject({ message: z.string().optional() }),
  handler: () => ({
    async run(execution) {
      return { outputs: execution.outputs, info: { message: execution.step.spec.message ?? null } };
    },
  }),
});

/** `gate`: runs nothing; an approval point or a join of branches. */
export const gateKind = defineKind({
  name: 'gate',
  version: '1',
  runs: { by: 'nothing' },
  spec: z.strictObject({}),
});
