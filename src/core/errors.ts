/**
 * The base of every error a user can cause and fix: a bad file, a wrong option, a checkpoint the
 * tools cannot handle. Messages name the thing (file, tensor, "layer range 9-20"), never a front end's
 * flag, since the extension shows them too. Front ends print `message` as is, with no stack trace.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * An error about a checkpoint that names what a user must look at: the file and, where it applies,
 * the tensor.
 */
export class CheckpointError extends InputError {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? `${file}: ${problem}` : `${file}: tensor '${tensor}': ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** The output folder of a merge exists and replacing it was not asked for. */
export class OutputExistsError extends CheckpointError {
  /** `notes`: what was found and done beside it (an interrupted replacement rolled back). */
  constructor(
    file: string,
    readonly notes: string[] = [],
  ) {
    super(
      file,
      `output folder exists; choose another folder or ask for it to be replaced${notes.map((n) => `\nnote: ${n}`).join('')}`,
    );
    this.name = 'OutputExistsError';
  }
}

/**
 * A value a caller chose that does not fit (a layer range past the model, a non-finite scale).
 * `option` is the key of the merge option, so a front end can name its own flag for it.
 */
export class OptionError extends InputError {
  constructor(
    readonly option: string,
    readonly thing: string,
    readonly problem: string,
  ) {
    super(`${thing} ${problem}`);
    this.name = 'OptionError';
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
