/** The dtypes of the safetensors specification, with their width in bits. */
export const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

export type Dtype = keyof typeof DTYPE_BITS;

/** Float dtypes this project converts between and computes in (as float32). */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BITS, value);
}

export function isFloatDtype(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Bytes a tensor occupies, or undefined when its bit count is not a whole number of bytes
 * (the reference implementation rejects such tensors too).
 */
export function byteLength(dtype: Dtype, shape: readonly number[]): number | undefined {
  const bits = elementCount(shape) * DTYPE_BITS[dtype];
  return bits % 8 === 0 ? bits / 8 : undefined;
}
