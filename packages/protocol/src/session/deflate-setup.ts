/** Turns the `perMessageDeflate` option into negotiation settings and an engine factory. */
import type { DeflateEngineFactory, PerMessageDeflateOptions } from '../extensions/deflate-engine.ts';

/** Settings in force for one server or client, with the engine resolved. */
export interface DeflateSetup extends PerMessageDeflateOptions {
  readonly engine: DeflateEngineFactory;
  readonly threshold: number;
}

/**
 * `option` is the user's `perMessageDeflate`; `enabledByDefault` applies when it is
 * undefined. Returns undefined when compression is off. Throws when it is asked for
 * and neither the option nor the runtime supplies an engine.
 */
export function resolveDeflate(
  option: boolean | PerMessageDeflateOptions | undefined,
  runtimeEngine: DeflateEngineFactory | undefined,
  enabledByDefault: boolean,
): DeflateSetup | undefined {
  if (option === false || (option === undefined && !enabledByDefault)) return undefined;
  const settings: PerMessageDeflateOptions = typeof option === 'object' ? option : {};
  const engine = settings.engine ?? runtimeEngine;
  if (engine === undefined) {
    if (option === undefined) return undefined;
    throw new TypeError('perMessageDeflate needs an engine: pass perMessageDeflate.engine');
  }
  const threshold = settings.threshold ?? 1024;
  if (!(threshold >= 0)) throw new RangeError('perMessageDeflate.threshold must be a non-negative number');
  return { ...settings, engine, threshold };
}
