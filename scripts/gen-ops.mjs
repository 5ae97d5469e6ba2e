// Generates src/torch/ops.generated.ts and src/torch/methods.generated.ts from libtorch's
// native_functions.yaml: one typed TS function per public ATen op (PyTorch's names and argument
// order; arguments with defaults and keyword-only arguments go into an options object), and Tensor
// methods for ops that PyTorch exposes as methods. The output is committed; building needs no Python.
// Usage: node scripts/gen-ops.mjs [path/to/native_functions.yaml]
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { parse } from 'yaml';

const yamlPath = process.argv[2] ?? '/usr/lib/python3/dist-packages/torchgen/packaged/ATen/native/native_functions.yaml';
const entries = parse(readFileSync(yamlPath, 'utf8'));

// Hand-written on Tensor/elsewhere, or Python-level in PyTorch: not generated.
const SKIP = new Set(['size', 'stride', 'dim', 'numel', 'item', 'backward', 'grad', 'data', 'requires_grad_', 'to',
  'is_leaf', 'output_nr', 'retain_grad', 'retains_grad', 'set_data', 'element_size', 'is_complex', 'is_floating_point',
  'constructor', 'toString', 'valueOf', 'shape', 'dtype', 'device', 'dispose', 'native', 'set_', 'item', 'type_as',
  'is_same_size', 'is_nonzero', 'is_set_to', 'is_inference', 'is_conj', 'is_neg', 'is_signed', 'is_distributed',
  'record_stream', 'sym_size', 'sym_stride', 'sym_numel', 'sym_storage_offset']);
const RESERVED = new Set(['var', 'new', 'delete', 'in', 'for', 'if', 'function', 'return', 'import', 'export', 'default', 'class', 'const', 'let']);
// Private ops that are worth exposing (they have no public alias).
const PRIVATE_OK = new Set(['_upsample_bilinear2d_aa', '_upsample_bicubic2d_aa', '_foreach_add_', '_foreach_mul_',
  '_foreach_addcmul_', '_foreach_addcdiv_', '_foreach_sqrt', '_foreach_div_', '_foreach_zero_', '_unique2', '_log_softmax', '_softmax']);

function splitArgs(s) {
  const out = []; let depth = 0; let cur = '';
  for (const ch of s) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseFunc(func) {
  const m = /^([\w.]+)\((.*)\) -> (.*)$/.exec(func);
  if (!m) throw new Error(`cannot parse ${func}`);
  const [name, overload = ''] = m[1].split('.');
  const args = []; let kwOnly = false;
  for (const a of splitArgs(m[2])) {
    if (a === '*') { kwOnly = true; continue; }
    const eq = a.indexOf('=');
    const decl = eq >= 0 ? a.slice(0, eq) : a;
    const def = eq >= 0 ? a.slice(eq + 1) : undefined;
    const sp = decl.lastIndexOf(' ');
    args.push({ type: decl.slice(0, sp).trim(), name: decl.slice(sp + 1), def, kwOnly });
  }
  let ret = m[3].trim();
  const rets = ret === '()' ? [] : ret.startsWith('(') ? splitArgs(ret.slice(1, -1)) : [ret];
  return { name, overload, args, rets: rets.map((r) => r.split(' ')[0]) };
}

// Argument type → [TS type, runtime kind] (null: unsupported, the overload is skipped).
function tsType(t) {
  const base = t.replace(/\([a-z!]+\)/, '').replace(/\(a -> \*\)/, '');
  const opt = base.endsWith('?');
  const b = opt ? base.slice(0, -1) : base;
  let ts; let kind;
  if (b === 'Tensor') { ts = 'Tensor'; kind = 'T'; }
  else if (/^Tensor(\([a-z]!?\))?\[\]$/.test(b)) { ts = 'Tensor[]'; kind = 'L'; }
  else if (b === 'Tensor?[]') { ts = '(Tensor | null)[]'; kind = 'L?'; }
  else if (b === 'int' || b === 'SymInt') { ts = 'number'; kind = 'n'; }
  else if (/^(int|SymInt)\[\d*\]$/.test(b)) { ts = 'number | number[]'; kind = 'n[]'; }
  else if (b === 'float') { ts = 'number'; kind = 'n'; }
  else if (/^float\[\d*\]$/.test(b)) { ts = 'number[]'; kind = 'n[]'; }
  else if (b === 'bool') { ts = 'boolean'; kind = 'b'; }
  else if (/^bool\[\d*\]$/.test(b)) { ts = 'boolean[]'; kind = 'b[]'; }
  else if (b === 'Scalar') { ts = 'number | boolean'; kind = 's'; }
  else if (b === 'Scalar[]') { ts = 'number[]'; kind = 'n[]'; }
  else if (b === 'ScalarType') { ts = 'DType'; kind = 'dtype'; }
  else if (b === 'Layout') { ts = "'strided'"; kind = 'layout'; }
  else if (b === 'MemoryFormat') { ts = 'MemoryFormat'; kind = 'mf'; }
  else if (b === 'Device') { ts = 'string'; kind = 'str'; }
  else if (b === 'str') { ts = 'string'; kind = 'str'; }
  else if (b === 'Generator') { ts = 'null'; kind = 'gen'; }
  else return null;
  return { ts: opt ? `${ts} | null` : ts, kind: opt ? kind + '?' : kind, optional: opt };
}

function retType(r) {
  const b = r.replace(/\([a-z!]+\)/, '');
  if (b === 'Tensor') return 'Tensor';
  if (/^Tensor(\[\])$/.test(b) || /^Tensor\([a-z]!?\)\[\]$/.test(r)) return 'Tensor[]';
  if (b === 'int' || b === 'SymInt' || b === 'float') return 'number';
  if (b === 'bool') return 'boolean';
  if (b === 'Scalar') return 'number';
  if (b === 'ScalarType') return 'number';
  if (b === 'int[]' || b === 'SymInt[]') return 'number[]';
  return null;
}

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

// Collect usable overloads per op name.
const byName = new Map();
for (const e of entries) {
  const f = parseFunc(e.func);
  if (SKIP.has(f.name)) continue;
  if (f.name.startsWith('_') && !PRIVATE_OK.has(f.name)) continue;
  if (f.overload === 'out' || f.overload.endsWith('_out') || f.overload.startsWith('out')) continue;
  if (f.args.some((a) => /Dimname|Storage|Stream|QScheme|Quantizer|Dict|Any|Layout\b(?!\?)|ScalarType\[\]|str\[\]|Tensor\(.!?\) out|SymFloat/.test(a.type) && !/^Layout\?$/.test(a.type))) continue;
  if (f.args.some((a) => a.name === 'out' || a.name.startsWith('out')) && f.args.filter((a) => a.type.includes('!')).length > 0 && !f.name.endsWith('_')) continue;
  if (f.args.some((a) => a.kwOnly && a.type.includes('!'))) continue; // out= variants
  const args = f.args.map((a) => ({ ...a, t: tsType(a.type) }));
  if (args.some((a) => a.t === null)) continue;
  const rets = f.rets.map(retType);
  if (rets.some((r) => r === null)) continue;
  const variants = String(e.variants ?? 'function').split(',').map((s) => s.trim());
  const ov = { ...f, args, rets, variants, schema: e.func };
  if (!byName.has(f.name)) byName.set(f.name, []);
  byName.get(f.name).push(ov);
}

// Positional: arguments before `*`. Required ones have no default; those with a default may be
// given positionally (as in Python) or in the options object, which also holds keyword-only ones.
function split(ov, dropSelf) {
  const pos = []; const opt = []; const req = [];
  ov.args.forEach((a, i) => {
    if (dropSelf && i === ov.selfIndex) return;
    if (!a.kwOnly) pos.push({ ...a, index: i });
    if (!a.kwOnly && a.def === undefined) req.push({ ...a, index: i });
    if (a.kwOnly || a.def !== undefined) opt.push({ ...a, index: i });
  });
  // A required argument after a defaulted one (rare) makes everything before it required.
  let lastReq = -1;
  pos.forEach((a, k) => { if (a.def === undefined) lastReq = k; });
  return { pos, opt, nreq: lastReq + 1 };
}

function retTs(ov) {
  if (ov.rets.length === 0) return 'void';
  if (ov.rets.length === 1) return ov.rets[0];
  return `[${ov.rets.join(', ')}]`;
}

// One TS signature per number of defaulted positionals given.
function sigVariants(ov, dropSelf) {
  const { pos, opt, nreq } = split(ov, dropSelf);
  const out = [];
  const optType = opt.length ? `options?: { ${opt.map((a) => `${camel(a.name)}?: ${a.t.ts}`).join('; ')} }` : '';
  for (let n = nreq; n <= pos.length; n++) {
    const ps = pos.slice(0, n).map((a) => `${safe(camel(a.name))}: ${a.t.ts}`);
    if (optType) ps.push(optType);
    out.push(ps.join(', '));
  }
  return out;
}
const safe = (n) => (RESERVED.has(n) ? n + '_' : n);

let fnOut = `// GENERATED by scripts/gen-ops.mjs from libtorch's native_functions.yaml. Do not edit.
/* eslint-disable */
import type { Tensor } from './tensor.js';
import type { DType, MemoryFormat } from './dtype.js';
import { defineOp } from './dispatch.js';

`;
let methOut = `// GENERATED by scripts/gen-ops.mjs from libtorch's native_functions.yaml. Do not edit.
/* eslint-disable */
import type { Tensor } from './tensor.js';
import type { DType, MemoryFormat } from './dtype.js';
import * as ops from './ops.generated.js';

/** Tensor methods that PyTorch exposes as \`x.op(...)\`; each forwards to the op of the same name. */
export abstract class TensorMethods {
`;
const exportsList = [];
let nOps = 0; let nOverloads = 0; let nMethods = 0;

for (const [name, ovs] of [...byName.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
  for (const ov of ovs) ov.selfIndex = ov.args.findIndex((a) => a.name === 'self' && a.t.kind === 'T');
  // Table the dispatcher uses to pick an overload from the positional arguments given.
  const table = ovs.map((ov) => {
    const { pos, opt, nreq } = split(ov, false);
    const selfPos = pos.findIndex((a) => a.index === ov.selfIndex);
    return `[${JSON.stringify(ov.overload)}, ${JSON.stringify(pos.map((a) => a.t.kind))}, ${JSON.stringify(pos.map((a) => a.index))}, ${JSON.stringify(Object.fromEntries(opt.map((a) => [camel(a.name), [a.index, a.t.kind]])))}, ${ov.args.length}, ${selfPos}, ${nreq}]`;
  });
  const id = `op_${name}`;
  fnOut += `const ${id} = defineOp('aten::${name}', [\n  ${table.join(',\n  ')},\n]);\n`;
  const fns = ovs.filter((ov) => ov.variants.includes('function'));
  if (fns.length) {
    const fname = safe(name);
    for (const ov of fns) for (const sig of sigVariants(ov, false)) fnOut += `/** \`${ov.schema}\` */\nexport function ${fname}(${sig}): ${retTs(ov)};\n`;
    fnOut += `export function ${fname}(...args: unknown[]): unknown { return ${id}(args); }\n\n`;
    if (fname !== name) exportsList.push(`export { ${fname} as ${name} };`);
    nOps++; nOverloads += fns.length;
  }
  const meths = ovs.filter((ov) => ov.variants.includes('method') && ov.selfIndex >= 0);
  if (meths.length) {
    for (const ov of meths) for (const sig of sigVariants(ov, true)) methOut += `  /** \`${ov.schema}\` */\n  ${name}(${sig}): ${retTs(ov)};\n`;
    methOut += `  ${name}(...args: unknown[]): unknown { return ops._method_${name}(this as unknown as Tensor, args); }\n`;
    fnOut += `export function _method_${name}(self: Tensor, args: unknown[]): unknown { return ${id}.method(self, args); }\n\n`;
    nMethods++;
  }
}
methOut += '}\n';
// Tensor.to() is hand-written (it accepts a dtype or a device string); it calls this.
fnOut += `const op_to = defineOp('aten::to', [["dtype_layout", ["T"], [0], {"dtype":[1,"dtype?"],"layout":[2,"layout?"],"device":[3,"str?"],"pinMemory":[4,"b?"],"nonBlocking":[5,"b"],"copy":[6,"b"],"memoryFormat":[7,"mf?"]}, 8, 0, 1]]);
/** @internal \`to.dtype_layout\` */
export function _to(self: Tensor, options: { dtype?: DType; device?: string; copy?: boolean; nonBlocking?: boolean }): Tensor { return op_to([self, options]) as Tensor; }
`;
fnOut += exportsList.join('\n') + '\n';
fnOut += `\nexport const GENERATED_STATS = { ops: ${nOps}, overloads: ${nOverloads}, methods: ${nMethods} } as const;\n`;

function atomicWrite(path, text) { writeFileSync(path + '.tmp', text); renameSync(path + '.tmp', path); }
atomicWrite('src/torch/ops.generated.ts', fnOut);
atomicWrite('src/torch/methods.generated.ts', methOut);
console.log(`gen-ops: ${nOps} functions (${nOverloads} overloads), ${nMethods} methods`);
