# Reference side of functional.test.ts: evaluates each case's Python expression (a function of the
# list x of inputs) on the TS inputs, backpropagates the TS output gradient, and records the
# output, the gradients of the inputs marked differentiable and the inputs after the call (for
# ops that update buffers in place).
import json, sys
import torch
import torch.nn.functional as F

DIR = sys.argv[1]
torch.set_num_threads(1)
inp = torch.load(f'{DIR}/in.pth', weights_only=True)
spec = json.load(open(f'{DIR}/spec.json'))
out = {}
for i, c in enumerate(spec['cases']):
    p = f'c{i}.'
    x = [inp[f'{p}in{j}'].clone().requires_grad_(g) for j, g in enumerate(c['grad'])]
    if c.get('seed') is not None:
        torch.manual_seed(c['seed'])
    y = eval(c['py'])
    out[p + 'y'] = y.detach().clone()
    if any(c['grad']):
        y.backward(inp[p + 'gout'])
        for j, g in enumerate(c['grad']):
            if g:
                out[f'{p}grad{j}'] = x[j].grad.clone()
    for j in c.get('after', []):
        out[f'{p}after{j}'] = x[j].detach().clone()
torch.save(out, f'{DIR}/out.pth')
