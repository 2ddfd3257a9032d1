/**
 * A malformed dataset. The message names the file and, where known, the 1-based line (line-based files)
 * or row (JSON documents, Parquet), so a front end can print it as is.
 */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly where: { line?: number; row?: number } = {},
  ) {
    const at = where.line !== undefined ? `line ${where.line}: ` : where.row !== undefined ? `row ${where.row}: ` : '';
    super(`${file}: ${at}${problem}`);
    this.name = 'DatasetError';
  }
}
