// The worker's workflowsPath: every workflow Retrainer runs is exported here.
export { stackCheck } from './stack-check';
export { trainOnVm } from './train-on-vm';
export { runPipeline } from './run-pipeline';
export { planPipeline } from './plan-pipeline';
export { mapBatch } from './map-batch';
export { instanceLease } from './instance-lease';
export { joinDailyRun } from './join-daily-run';
export { reapVms } from './reap-vms';
