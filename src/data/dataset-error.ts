/**
 * Error raised by the dataset readers. `code` is stable so callers (the CLI) can react
 * to a kind of failure without parsing the message; `path` names the offending file or folder.
 */
export type DatasetErrorCode =
  | 'not-found'
  | 'bad-format'
  | 'empty'
  | 'missing-mask'
  | 'bad-option'
  | 'checksum'
  | 'download'
  | 'extract'
  | 'missing-dependency';

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly path: string | undefined;

  constructor(code: DatasetErrorCode, message: string, path?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetError';
    this.code = code;
    this.path = path;
  }
}
