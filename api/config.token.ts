/** Injection token of the typed Config object. */
export const CONFIG = Symbol('CONFIG');
/** Injection token of the pipeline registry (tests may pass their own). */
export const PIPELINES = Symbol('PIPELINES');
