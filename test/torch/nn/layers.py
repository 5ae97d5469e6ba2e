# Reference side of layers.test.ts: builds each layer from its Python expression under the same
# seed, records PyTorch's default initialisation, loads the TS initial state, replays the same
# train/eval steps (inputs and output gradients from the TS side) and records outputs, input and
# parameter gradients and the final state; then the nn.init cases and calculate_gain values.
import json, math, sys
import torch
import torch.nn as nn

DIR = sys.argv[1]
torch.set_num_threads(1)
inp = torch.load(f'{DIR}/in.pth', weights_only=True)
spec = json.load(open(f'{DIR}/spec.json'))
out = {}

for i, c in enumerate(spec['cases']):
    p = f'c{i}.'
    torch.manual_seed(c['seed'])
    m = eval(c['py'])
    for k, v in m.state_dict().items():
        out[p + 'pyinit.' + k] = v.clone()
    m.load_state_dict({k[len(p) + 5:]: v for k, v in inp.items() if k.startswith(p + 'init.')})
    for s, st in enumerate(c['steps']):
        q = f'{p}s{s}.'
        m.train(st['mode'] == 'train')
        x = inp[q + 'x'].clone().requires_grad_(True)
        if 'seed' in st:
            torch.manual_seed(st['seed'])
        y = m(x)
        y.backward(inp[q + 'gout'])
        out[q + 'y'] = y.detach().clone()
        out[q + 'xgrad'] = x.grad.clone()
        for n, prm in m.named_parameters():
            if prm.grad is not None:
                out[q + 'grad.' + n] = prm.grad.clone()
        m.zero_grad()
    for k, v in m.state_dict().items():
        out[p + 'final.' + k] = v.clone()

for i, c in enumerate(spec['inits']):
    torch.manual_seed(c['seed'])
    t = torch.empty(c['shape'])
    r = eval('nn.init.' + c['py'])
    assert r is t
    out[f'init{i}'] = t

gains = [nn.init.calculate_gain(*args) for args in spec['gains']]
torch.save(out, f'{DIR}/out.pth')
json.dump({'gains': gains}, open(f'{DIR}/out.json', 'w'))
