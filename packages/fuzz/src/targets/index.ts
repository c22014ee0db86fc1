import type { FuzzTarget } from '../target.ts';
import { framesTarget } from './frames.ts';
import { headerValuesTarget } from './header-values.ts';
import { httpTarget } from './http.ts';
import { inflateTarget } from './inflate.ts';

/** The targets CI fuzzes, by name. */
export const TARGETS: Readonly<Record<string, FuzzTarget>> = {
  http: httpTarget,
  'header-values': headerValuesTarget,
  frames: framesTarget,
  inflate: inflateTarget,
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);

/** A target by name; the planted one is loaded on demand so that it stays a script of its own. */
export async function loadTarget(name: string): Promise<FuzzTarget> {
  if (name === 'planted') return (await import('./planted.ts')).plantedTarget;
  const target = TARGETS[name];
  if (target === undefined)
    throw new Error(`unknown target ${JSON.stringify(name)}: one of ${TARGET_NAMES.join(', ')}, planted`);
  return target;
}
