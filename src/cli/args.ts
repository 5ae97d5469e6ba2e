// A small argument parser: --flag, --opt value, --opt=value, repeatable options, positionals.
import { UserError } from '../pipeline/errors.js';

export interface OptionSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  help: string;
  /** Shown in help, e.g. <spec>. */
  arg?: string;
}

export interface Parsed {
  options: Record<string, string | number | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>, verb: string): Parsed {
  const options: Parsed['options'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a === '-h' && 'help' in spec) { options.help = true; continue; }
    if (!a.startsWith('--') || a === '-') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UserError(`${verb}: unknown option --${name} (valid: ${Object.keys(spec).map((k) => `--${k}`).join(', ')}); see vigil ${verb} --help`);
    if (s.type === 'boolean') {
      if (eq >= 0) throw new UserError(`${verb}: --${name} takes no value`);
      options[name] = true;
      continue;
    }
    let v: string;
    if (eq >= 0) v = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UserError(`${verb}: --${name} needs a value${s.arg ? ` ${s.arg}` : ''}`);
      v = argv[++i]!;
    }
    if (s.type === 'number') {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UserError(`${verb}: --${name} must be a number, got '${v}'`);
      options[name] = n;
    } else if (s.type === 'list') {
      options[name] = [...((options[name] as string[] | undefined) ?? []), v];
    } else {
      options[name] = v;
    }
  }
  return { options, positionals };
}

export function helpText(usage: string, description: string, spec: Record<string, OptionSpec>, extra = ''): string {
  const rows = Object.entries(spec).map(([k, s]) => [`--${k}${s.arg ? ` ${s.arg}` : ''}`, s.help + (s.type === 'list' ? ' (repeatable)' : '')] as const);
  const w = Math.max(...rows.map(([a]) => a.length), 10);
  return `usage: ${usage}\n\n${description}\n\noptions:\n${rows.map(([a, h]) => `  ${a.padEnd(w)}  ${h}`).join('\n')}\n${extra ? `\n${extra}\n` : ''}`;
}
