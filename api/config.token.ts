/** Injection token of the typed Config object. */
export const CONFIG = Symbol('CONFIG');
