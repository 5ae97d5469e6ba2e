// A user error: bad input, bad config, missing file. The CLI prints its message and exits 1,
// without a stack trace; anything else is a bug and exits 2.
import { DatasetError } from '../data/datasets.js';
import { UnreadableImageError } from '../data/image/index.js';

export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** True for errors caused by the user's input rather than by Vigil itself. */
export function isUserError(e: unknown): e is Error {
  return e instanceof UserError || e instanceof DatasetError || e instanceof UnreadableImageError;
}
