# Reference side of optim.test.ts: the same parameters, losses and schedules through torch.optim;
# records the parameters after every step and the lr each step used.
import json, sys
import torch

DIR = sys.argv[1]
torch.set_num_threads(1)
inp = torch.load(f'{DIR}/in.pth', weights_only=True)
spec = json.load(open(f'{DIR}/spec.json'))
NP, S = spec['numParams'], spec['steps']
out, lrs = {}, []


def scheduler(s, opt):
    kind = s.pop('type')
    return getattr(torch.optim.lr_scheduler, kind)(opt, **s)


for i, c in enumerate(spec['cases']):
    params = [inp[f'p{j}'].clone().requires_grad_(True) for j in range(NP)]
    groups = [dict(params=[params[j] for j in g], **kw) for g, kw in zip(c['groups'], c['groupKw'])]
    opt = getattr(torch.optim, c['opt'])(groups, **c['kw'])
    sched = scheduler(dict(c['sched']), opt)
    used = []
    for s in range(S):
        opt.zero_grad()
        loss = sum((p * inp[f'g{s}.{j}']).sum() + 0.05 * (p * p).sum() for j, p in enumerate(params))
        loss.backward()
        opt.step()
        used.append([g['lr'] for g in opt.param_groups])
        sched.step()
        for j, p in enumerate(params):
            out[f'c{i}.s{s}.p{j}'] = p.detach().clone()
    lrs.append(used)
torch.save(out, f'{DIR}/out.pth')
json.dump({'lrs': lrs}, open(f'{DIR}/out.json', 'w'))
