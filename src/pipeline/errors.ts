// Errors with stable codes. A user error (bad input, config, file or environment) is printed as
// one line and exits 1; an interrupt exits 130 (SIGINT) or 143 (SIGTERM); anything else is a bug
// and exits 2.
import { DatasetError } from '../data/datasets.js';
import { UnreadableImageError } from '../data/image/index.js';
import { MethodInputError } from '../methods/types.js';

export class UserError extends Error {
  /** Stable, machine-readable: e.g. 'USER_ERROR', 'CONFIG_INVALID', 'RUN_NOT_FOUND'. */
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.code = options?.code ?? 'USER_ERROR';
  }
}

export interface ConfigIssue {
  /** Dotted key path, e.g. 'model.train.epochs'. */
  path: string;
  message: string;
}

/** Every problem of a configuration at once, each with its key path. */
export class ConfigError extends UserError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], what = 'configuration') {
    super(`invalid ${what}:\n${issues.map((i) => `  ✖ ${i.path || '(root)'}: ${i.message}`).join('\n')}`, { code: 'CONFIG_INVALID' });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** The user stopped the run (Ctrl-C, SIGTERM); `signal` decides the exit code. */
export class InterruptedError extends Error {
  readonly code = 'INTERRUPTED';
  constructor(readonly signal: 'SIGINT' | 'SIGTERM' = 'SIGINT', message = 'interrupted') {
    super(message);
    this.name = 'InterruptedError';
  }
}

/** True for errors caused by the user's input rather than by Vigil itself. */
export function isUserError(e: unknown): e is Error {
  return e instanceof UserError || e instanceof DatasetError || e instanceof UnreadableImageError || e instanceof MethodInputError
    || (e instanceof Error && e.name === 'MissingWeightsError');
}
