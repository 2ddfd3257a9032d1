/**
 * An error about a checkpoint that names what a user must look at: the file and, where it applies,
 * the tensor. Front ends print `message` as is.
 */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? `${file}: ${problem}` : `${file}: tensor '${tensor}': ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** Raised when a caller's AbortSignal fires; long operations clean up before throwing it. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
