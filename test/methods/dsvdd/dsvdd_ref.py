# PyTorch reference for test/methods/dsvdd/parity.test.ts: the LeNet networks, DCAE and Deep SVDD
# steps written from the structure of lukasruff/Deep-SVDD-PyTorch (mnist, cifar10, cifar10 ELU) and
# Deep-SAD-PyTorch (fmnist), with the original's per-epoch learning-rate rule. Reads DIR/spec.json and
# the .pth files the TS side wrote; writes DIR/out.json.
import json, os, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
DIR = sys.argv[1]


def bn2(c): return nn.BatchNorm2d(c, eps=1e-04, affine=False)
def bn1(c): return nn.BatchNorm1d(c, eps=1e-04, affine=False)
def cv(i, o): return nn.Conv2d(i, o, 5, bias=False, padding=2)
def dc(i, o, p): return nn.ConvTranspose2d(i, o, 5, bias=False, padding=p)
def xl(w): nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain('leaky_relu'))


class MnistNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rep_dim = 32
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = cv(1, 8); self.bn1 = bn2(8); self.conv2 = cv(8, 4); self.bn2 = bn2(4)
        self.fc1 = nn.Linear(196, 32, bias=False)

    def forward(self, x):
        x = self.pool(F.leaky_relu(self.bn1(self.conv1(x))))
        x = self.pool(F.leaky_relu(self.bn2(self.conv2(x))))
        return self.fc1(x.view(x.size(0), -1))


class MnistAE(MnistNet):
    def __init__(self):
        super().__init__()
        self.deconv1 = dc(2, 4, 2); self.bn3 = bn2(4); self.deconv2 = dc(4, 8, 3); self.bn4 = bn2(8)
        self.deconv3 = dc(8, 1, 2)

    def forward(self, x):
        x = super().forward(x)
        x = F.interpolate(F.leaky_relu(x.view(x.size(0), 2, 4, 4)), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn3(self.deconv1(x))), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn4(self.deconv2(x))), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


class FmnistNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rep_dim = 64
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = cv(1, 16); self.bn2d1 = bn2(16); self.conv2 = cv(16, 32); self.bn2d2 = bn2(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 128, bias=False); self.bn1d1 = bn1(128)
        self.fc2 = nn.Linear(128, 64, bias=False)

    def forward(self, x):
        x = self.pool(F.leaky_relu(self.bn2d1(self.conv1(x))))
        x = self.pool(F.leaky_relu(self.bn2d2(self.conv2(x))))
        x = F.leaky_relu(self.bn1d1(self.fc1(x.view(x.size(0), -1))))
        return self.fc2(x)


class FmnistDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc3 = nn.Linear(64, 128, bias=False); self.bn1d2 = bn1(128)
        self.deconv1 = dc(8, 32, 2); self.bn2d3 = bn2(32); self.deconv2 = dc(32, 16, 3); self.bn2d4 = bn2(16)
        self.deconv3 = dc(16, 1, 2)

    def forward(self, x):
        x = self.bn1d2(self.fc3(x))
        x = F.interpolate(F.leaky_relu(x.view(x.size(0), 8, 4, 4)), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn2d3(self.deconv1(x))), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn2d4(self.deconv2(x))), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


class FmnistAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = FmnistNet(); self.decoder = FmnistDecoder()

    def forward(self, x): return self.decoder(self.encoder(x))


class CifarNet(nn.Module):
    def __init__(self, elu=False):
        super().__init__()
        self.act = F.elu if elu else F.leaky_relu
        self.rep_dim = 128
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = cv(3, 32); self.bn2d1 = bn2(32); self.conv2 = cv(32, 64); self.bn2d2 = bn2(64)
        self.conv3 = cv(64, 128); self.bn2d3 = bn2(128); self.fc1 = nn.Linear(2048, 128, bias=False)

    def forward(self, x):
        a = self.act
        x = self.pool(a(self.bn2d1(self.conv1(x))))
        x = self.pool(a(self.bn2d2(self.conv2(x))))
        x = self.pool(a(self.bn2d3(self.conv3(x))))
        return self.fc1(x.view(x.size(0), -1))


class CifarAE(nn.Module):
    def __init__(self, elu=False):
        super().__init__()
        self.act = F.elu if elu else F.leaky_relu
        ini = (lambda w: nn.init.xavier_uniform_(w)) if elu else xl
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = cv(3, 32); ini(self.conv1.weight); self.bn2d1 = bn2(32)
        self.conv2 = cv(32, 64); ini(self.conv2.weight); self.bn2d2 = bn2(64)
        self.conv3 = cv(64, 128); ini(self.conv3.weight); self.bn2d3 = bn2(128)
        self.fc1 = nn.Linear(2048, 128, bias=False); self.bn1d = bn1(128)
        self.deconv1 = dc(8, 128, 2); ini(self.deconv1.weight); self.bn2d4 = bn2(128)
        self.deconv2 = dc(128, 64, 2); ini(self.deconv2.weight); self.bn2d5 = bn2(64)
        self.deconv3 = dc(64, 32, 2); ini(self.deconv3.weight); self.bn2d6 = bn2(32)
        self.deconv4 = dc(32, 3, 2); ini(self.deconv4.weight)

    def forward(self, x):
        a = self.act
        x = self.pool(a(self.bn2d1(self.conv1(x))))
        x = self.pool(a(self.bn2d2(self.conv2(x))))
        x = self.pool(a(self.bn2d3(self.conv3(x))))
        x = self.bn1d(self.fc1(x.view(x.size(0), -1)))
        x = a(x.view(x.size(0), 8, 4, 4))
        x = F.interpolate(a(self.bn2d4(self.deconv1(x))), scale_factor=2)
        x = F.interpolate(a(self.bn2d5(self.deconv2(x))), scale_factor=2)
        x = F.interpolate(a(self.bn2d6(self.deconv3(x))), scale_factor=2)
        return torch.sigmoid(self.deconv4(x))


NETS = {
    'mnist': (MnistNet, MnistAE, ''),
    'fmnist': (FmnistNet, FmnistAE, 'encoder.'),
    'cifar10': (CifarNet, CifarAE, ''),
    'cifar10-elu': (lambda: CifarNet(True), lambda: CifarAE(True), ''),
}


def max_diff(a, b):
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)


def epoch_lr(base, milestones, gamma, e):
    # Deep-SVDD-PyTorch under torch 0.4.1: scheduler.step() at the start of epoch e sets last_epoch = e
    # (the authors' gamma is 0.1; the test also runs another).
    return base * gamma ** sum(1 for m in milestones if m <= e)


def run_case(c):
    Net, AE, prefix = NETS[c['network']]
    torch.manual_seed(c['seed'])
    own_net = Net(); own_ae = AE()
    ours_net = torch.load(os.path.join(DIR, c['initNet'])); ours_ae = torch.load(os.path.join(DIR, c['initAe']))
    net = Net().double(); ae = AE().double()
    net.load_state_dict(ours_net, strict=True); ae.load_state_dict(ours_ae, strict=True)
    out = {'initNetDiff': max_diff(own_net.state_dict(), net.state_dict()),
           'initAeDiff': max_diff(own_ae.state_dict(), ae.state_dict()),
           'netKeys': list(net.state_dict().keys()), 'aeKeys': list(ae.state_dict().keys())}
    x = torch.load(os.path.join(DIR, c['data']))['x']

    # DCAE pretraining (AETrainer.train)
    p = c['pre']
    opt = torch.optim.Adam(ae.parameters(), lr=p['lr'], weight_decay=p['weightDecay'])
    ae.train()
    losses = []
    for e, idx in enumerate(c['aeOrder']):
        for g in opt.param_groups: g['lr'] = epoch_lr(p['lr'], p['milestones'], p['gamma'], e)
        xb = x[torch.tensor(idx)]
        opt.zero_grad()
        rec = ae(xb)
        if c['loss'] == 'sum':
            loss = torch.mean(torch.sum((rec - xb) ** 2, dim=tuple(range(1, rec.dim()))))
        else:
            loss = torch.mean(nn.MSELoss(reduction='none')(rec, xb))
        loss.backward(); opt.step()
        losses.append(loss.item())
    out['aeLosses'] = losses
    ae.eval()
    with torch.no_grad():
        rec = ae(x)
        out['dcaeScores'] = torch.sum((rec - x) ** 2, dim=(1, 2, 3)).tolist()

    # init_network_weights_from_pretraining. 'authors': Deep-SAD-PyTorch's filter as it is, keys
    # kept when they are keys of the network (none of FmnistAE's `encoder.*` is); 'stripped': the
    # prefix removed first, the transfer both papers describe and Vigil performs.
    net_dict = net.state_dict()
    if c['transfer'] == 'authors':
        ae_dict = {k: v for k, v in ae.state_dict().items() if k in net_dict}
    else:
        ae_dict = {k[len(prefix):]: v for k, v in ae.state_dict().items() if k.startswith(prefix) and k[len(prefix):] in net_dict}
    out['transferKeys'] = list(ae_dict.keys())
    net_dict.update(ae_dict); net.load_state_dict(net_dict)

    # init_center_c
    eps = 0.1
    cc = torch.zeros(net.rep_dim, dtype=torch.float64); n = 0
    net.eval()
    with torch.no_grad():
        for s in range(0, x.shape[0], c['batchSize']):
            o = net(x[s:s + c['batchSize']]); n += o.shape[0]; cc += torch.sum(o, dim=0)
    cc /= n
    out['cRaw'] = cc.tolist()
    cc[(abs(cc) < eps) & (cc < 0)] = -eps
    cc[(abs(cc) < eps) & (cc > 0)] = eps
    out['c'] = cc.tolist()

    # DeepSVDDTrainer.train
    t = c['train']
    R = torch.tensor(0.0, dtype=torch.float64); nu = c['nu']
    opt = torch.optim.Adam(net.parameters(), lr=t['lr'], weight_decay=t['weightDecay'])
    net.train()
    losses, radii = [], []
    for e, idx in enumerate(c['svddOrder']):
        for g in opt.param_groups: g['lr'] = epoch_lr(t['lr'], t['milestones'], t['gamma'], e)
        xb = x[torch.tensor(idx)]
        opt.zero_grad()
        o = net(xb)
        dist = torch.sum((o - cc) ** 2, dim=1)
        if c['objective'] == 'soft-boundary':
            scores = dist - R ** 2
            loss = R ** 2 + (1 / nu) * torch.mean(torch.max(torch.zeros_like(scores), scores))
        else:
            loss = torch.mean(dist)
        loss.backward(); opt.step()
        if c['objective'] == 'soft-boundary' and e >= c['warmUp']:
            R = torch.tensor(np.quantile(np.sqrt(dist.clone().data.cpu().numpy()), 1 - nu))
        losses.append(loss.item()); radii.append(float(R))
    out['svddLosses'] = losses; out['R'] = radii
    net.eval()
    with torch.no_grad():
        d = torch.sum((net(x) - cc) ** 2, dim=1)
        if c['objective'] == 'soft-boundary': d = d - R ** 2
    out['dsvddScores'] = d.tolist()
    return out


spec = json.load(open(os.path.join(DIR, 'spec.json')))
result = {'cases': [run_case(c) for c in spec['cases']],
          'quantiles': [float(np.quantile(np.sqrt(np.array(q['d'], dtype=np.float32)), 1 - q['nu'])) for q in spec['quantiles']]}
tmp = os.path.join(DIR, 'out.json.tmp')
json.dump(result, open(tmp, 'w'))
os.replace(tmp, os.path.join(DIR, 'out.json'))
