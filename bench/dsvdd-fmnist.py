# Reference side of bench/dsvdd-fmnist.ts: Deep SVDD on one Fashion-MNIST class with the data path of
# lukasruff/Deep-SAD-PyTorch (torchvision FashionMNIST over the IDX files, per-sample PIL image +
# ToTensor, DataLoader batch 128, shuffled, 0 workers) and its AETrainer / DeepSADTrainer (eta term
# unused: no labelled samples) steps. Networks: test/methods/dsvdd/dsvdd_ref.py. Initial weights are
# the ones Vigil saved, so both sides start equal.
# argv: DIR (spec.json in, scores.json out)
import json, os, sys, time
import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import FashionMNIST
import torchvision.transforms as transforms

DIR = sys.argv[1]
spec = json.load(open(os.path.join(DIR, 'spec.json')))
ns = {}
src = open(spec['netsPy']).read().split('spec = json.load')[0]
sys.argv = [sys.argv[0], DIR]
exec(src, ns)
torch.set_num_threads(spec['threads'])
torch.manual_seed(spec['seed'])
t_start = time.time()
Net, AE, prefix = ns['NETS']['fmnist']
net = Net(); ae = AE()
net.load_state_dict(torch.load(spec['initNet'])); ae.load_state_dict(torch.load(spec['initAe']))

tf = transforms.ToTensor()
train = FashionMNIST(spec['root'], train=True, transform=tf, download=False)
test = FashionMNIST(spec['root'], train=False, transform=tf, download=False)
idx = np.argwhere(train.targets.numpy() == spec['normalClass']).flatten().tolist()
train_loader = DataLoader(Subset(train, idx), batch_size=128, shuffle=True, num_workers=0)
test_loader = DataLoader(test, batch_size=128, shuffle=False, num_workers=0)


def lr_at(base, ms, e): return base * 0.1 ** sum(1 for m in ms if m <= e)


times = {}
t0 = time.time()
p = spec['pretrain']
opt = torch.optim.Adam(ae.parameters(), lr=p['lr'], weight_decay=p['weightDecay'])
crit = torch.nn.MSELoss(reduction='none')
ae.train()
for e in range(p['epochs']):
    for g in opt.param_groups: g['lr'] = lr_at(p['lr'], p['milestones'], e)
    for x, _ in train_loader:
        opt.zero_grad(); loss = torch.mean(crit(ae(x), x)); loss.backward(); opt.step()
times['pretrain'] = time.time() - t0

t0 = time.time()
nd = net.state_dict()
nd.update({k[len(prefix):]: v for k, v in ae.state_dict().items() if k.startswith(prefix) and k[len(prefix):] in nd})
net.load_state_dict(nd)
c = torch.zeros(net.rep_dim); n = 0
net.eval()
with torch.no_grad():
    for x, _ in train_loader:
        o = net(x); n += o.shape[0]; c += o.sum(0)
c /= n
c[(abs(c) < 0.1) & (c < 0)] = -0.1
c[(abs(c) < 0.1) & (c > 0)] = 0.1
t = spec['train']
opt = torch.optim.Adam(net.parameters(), lr=t['lr'], weight_decay=t['weightDecay'])
net.train()
for e in range(t['epochs']):
    for g in opt.param_groups: g['lr'] = lr_at(t['lr'], t['milestones'], e)
    for x, _ in train_loader:
        opt.zero_grad(); loss = torch.mean(torch.sum((net(x) - c) ** 2, dim=1)); loss.backward(); opt.step()
times['train'] = time.time() - t0

t0 = time.time()
scores, labels = [], []
net.eval()
with torch.no_grad():
    for x, y in test_loader:
        scores += torch.sum((net(x) - c) ** 2, dim=1).tolist()
        labels += (y != spec['normalClass']).int().tolist()
times['test'] = time.time() - t0
times['total'] = time.time() - t_start
json.dump({'scores': scores, 'labels': labels, 'times': times}, open(os.path.join(DIR, 'scores.json'), 'w'))
