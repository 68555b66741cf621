import { definePipeline, param } from '../core';

/**
 * A small pipeline with the shapes every real one has: a shared preparation, two model branches
 * that run concurrently, an optional approval and a cleanup. Its `activity` steps run the generic
 * handlers of activities/steps.ts, so it needs nothing but a worker.
 */
export const demoPipeline = definePipeline('demo', {
  description: 'prepare → two branches → evaluate → (approval) → promote → cleanup',
  parameters: {
    region: param.string({ default: 'eu', choices: ['eu', 'us'] }),
    epochs: param.number({ default: 3 }),
    require_approval: param.boolean({ default: false, privileged: true }),
  },
})
  .step('prepare', {
    kind: 'echo',
    spec: { message: 'prepare data for {{region}} up to {{cutoff}}' },
    outputs: ['table'],
    cache: true,
  })
  .step('share.train', {
    kind: 'echo',
    after: ['prepare'],
    spec: { message: 'train share on {{steps.prepare.table}} for {{epochs}} epochs', epochs: '{{epochs}}' },
    outputs: ['model'],
    cache: true,
  })
  .step('quality.train', {
    kind: 'echo',
    after: ['prepare'],
    spec: { message: 'train quality on {{steps.prepare.table}}' },
    outputs: ['model'],
    cache: true,
  })
  .step('evaluate', {
    kind: 'echo',
    after: ['share.train', 'quality.train'],
    spec: { message: 'compare {{steps.share.train.model}} and {{steps.quality.train.model}}' },
  })
  .step('promote', {
    kind: 'echo',
    after: ['evaluate'],
    approval: '{{require_approval}}',
    spec: { message: 'promote' },
  })
  .step('cleanup', {
    kind: 'echo',
    after: ['promote'],
    cleanup: true,
    spec: { message: 'drop scratch tables' },
  })
  .build();
