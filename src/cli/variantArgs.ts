import { parseLayerRange } from '../core/merge/recipes';
import { UsageError } from './usage';

/** --scale and --layers as `taia merge` and `taia eval` read them. */
export function scaleAndLayers(values: { scale?: string; layers?: string }): {
  scale?: number;
  layers?: [number, number];
} {
  // Number('') and Number('  ') are 0: an empty --scale= must not silently mean "take base".
  const scale = values.scale === undefined ? undefined : values.scale.trim() === '' ? NaN : Number(values.scale);
  if (scale !== undefined && !Number.isFinite(scale))
    throw new UsageError(`--scale must be a number, got '${values.scale}'`);
  try {
    return { scale, layers: values.layers === undefined ? undefined : parseLayerRange(values.layers) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
