// The one version constant (package.json) and the model-format tag; no torch import, so `vigil
// --help` and `--version` stay fast.
import { readFileSync } from 'node:fs';

export const VIGIL_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Written into every model/manifest.json; a reader refuses other formats. */
export const MODEL_FORMAT = 'vigil-model/1';
