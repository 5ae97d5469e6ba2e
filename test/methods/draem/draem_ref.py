# PyTorch reference of the authors' DRAEM networks, initialisation, loss and training step
# (VitjanZ/DRAEM @ 2dbf673: model_unet.py, loss.py, train_DRAEM.py), written for Vigil's parity
# tests. The module tree (and so every state-dict key) follows model_unet.py; the SSIM and focal
# terms follow loss.py, including its float32 one-hot and window; the step follows train_DRAEM.py.
# argv[1] = a directory with spec.json and the TypeScript side's .pth files; writes out.json there.
# bench/draem-step imports it for the PyTorch side.
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F



def conv(a, b):
    return nn.Conv2d(a, b, kernel_size=3, padding=1)


def block(a, b, c=None):
    c = b if c is None else c
    return nn.Sequential(conv(a, b), nn.BatchNorm2d(b), nn.ReLU(inplace=True), conv(b, c), nn.BatchNorm2d(c), nn.ReLU(inplace=True))


def up(a, b):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True), conv(a, b), nn.BatchNorm2d(b), nn.ReLU(inplace=True))


def pool():
    return nn.Sequential(nn.MaxPool2d(2))


class EncoderReconstructive(nn.Module):
    def __init__(self, cin, w):
        super().__init__()
        self.block1, self.mp1 = block(cin, w), pool()
        self.block2, self.mp2 = block(w, 2 * w), pool()
        self.block3, self.mp3 = block(2 * w, 4 * w), pool()
        self.block4, self.mp4 = block(4 * w, 8 * w), pool()
        self.block5 = block(8 * w, 8 * w)

    def forward(self, x):
        h = self.mp1(self.block1(x))
        h = self.mp3(self.block2(h))
        h = self.mp3(self.block3(h))
        h = self.mp4(self.block4(h))
        return self.block5(h)


class DecoderReconstructive(nn.Module):
    def __init__(self, w, cout):
        super().__init__()
        self.up1, self.db1 = up(8 * w, 8 * w), block(8 * w, 8 * w, 4 * w)
        self.up2, self.db2 = up(4 * w, 4 * w), block(4 * w, 4 * w, 2 * w)
        self.up3, self.db3 = up(2 * w, 2 * w), block(2 * w, 2 * w, w)
        self.up4, self.db4 = up(w, w), block(w, w)
        self.fin_out = nn.Sequential(conv(w, cout))

    def forward(self, h):
        h = self.db1(self.up1(h))
        h = self.db2(self.up2(h))
        h = self.db3(self.up3(h))
        h = self.db4(self.up4(h))
        return self.fin_out(h)


class ReconstructiveSubNetwork(nn.Module):
    def __init__(self, cin=3, cout=3, base_width=128):
        super().__init__()
        self.encoder = EncoderReconstructive(cin, base_width)
        self.decoder = DecoderReconstructive(base_width, cout)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class EncoderDiscriminative(nn.Module):
    def __init__(self, cin, w):
        super().__init__()
        self.block1, self.mp1 = block(cin, w), pool()
        self.block2, self.mp2 = block(w, 2 * w), pool()
        self.block3, self.mp3 = block(2 * w, 4 * w), pool()
        self.block4, self.mp4 = block(4 * w, 8 * w), pool()
        self.block5, self.mp5 = block(8 * w, 8 * w), pool()
        self.block6 = block(8 * w, 8 * w)

    def forward(self, x):
        b1 = self.block1(x)
        b2 = self.block2(self.mp1(b1))
        b3 = self.block3(self.mp3(b2))
        b4 = self.block4(self.mp3(b3))
        b5 = self.block5(self.mp4(b4))
        b6 = self.block6(self.mp5(b5))
        return b1, b2, b3, b4, b5, b6


class DecoderDiscriminative(nn.Module):
    def __init__(self, w, cout):
        super().__init__()
        self.up_b, self.db_b = up(8 * w, 8 * w), block(16 * w, 8 * w)
        self.up1, self.db1 = up(8 * w, 4 * w), block(12 * w, 4 * w)
        self.up2, self.db2 = up(4 * w, 2 * w), block(6 * w, 2 * w)
        self.up3, self.db3 = up(2 * w, w), block(3 * w, w)
        self.up4, self.db4 = up(w, w), block(2 * w, w)
        self.fin_out = nn.Sequential(conv(w, cout))

    def forward(self, b1, b2, b3, b4, b5, b6):
        h = self.db_b(torch.cat((self.up_b(b6), b5), dim=1))
        h = self.db1(torch.cat((self.up1(h), b4), dim=1))
        h = self.db2(torch.cat((self.up2(h), b3), dim=1))
        h = self.db3(torch.cat((self.up3(h), b2), dim=1))
        h = self.db4(torch.cat((self.up4(h), b1), dim=1))
        return self.fin_out(h)


class DiscriminativeSubNetwork(nn.Module):
    def __init__(self, cin=6, cout=2, base_channels=64):
        super().__init__()
        self.encoder_segment = EncoderDiscriminative(cin, base_channels)
        self.decoder_segment = DecoderDiscriminative(base_channels, cout)

    def forward(self, x):
        return self.decoder_segment(*self.encoder_segment(x))


def weights_init(m):
    name = m.__class__.__name__
    if 'Conv' in name:
        m.weight.data.normal_(0.0, 0.02)
    elif 'BatchNorm' in name:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def build(seed, rw, dw):
    torch.manual_seed(seed)
    g = ReconstructiveSubNetwork(3, 3, rw)
    g.apply(weights_init)
    d = DiscriminativeSubNetwork(6, 2, dw)
    d.apply(weights_init)
    return g, d


# ---- loss.py -------------------------------------------------------------------------------

def create_window(size, channel):
    g = torch.Tensor([math.exp(-(x - size // 2) ** 2 / float(2 * 1.5 ** 2)) for x in range(size)])
    g = (g / g.sum()).unsqueeze(1)
    return g.mm(g.t()).float().unsqueeze(0).unsqueeze(0).expand(channel, 1, size, size).contiguous()


def ssim_loss(img1, img2, size=11):
    max_val = 255 if torch.max(img1) > 128 else 1
    min_val = -1 if torch.min(img1) < -0.5 else 0
    L = max_val - min_val
    ch = img1.size(1)
    w = create_window(size, ch).type(img1.dtype)
    f = lambda x: F.conv2d(x, w, padding=size // 2, groups=ch)
    mu1, mu2 = f(img1), f(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    s1 = f(img1 * img1) - mu1_sq
    s2 = f(img2 * img2) - mu2_sq
    s12 = f(img1 * img2) - mu1_mu2
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    v1 = 2.0 * s12 + c2
    v2 = s1 + s2 + c2
    m = ((2 * mu1_mu2 + c1) * v1) / ((mu1_sq + mu2_sq + c1) * v2)
    return 1.0 - m.mean()


def focal_loss(logit, target, gamma=2, smooth=1e-5):
    c = logit.shape[1]
    logit = logit.view(logit.size(0), c, -1).permute(0, 2, 1).contiguous().view(-1, c)
    target = torch.squeeze(target, 1).view(-1, 1)
    alpha = torch.ones(c, 1)
    idx = target.cpu().long()
    one_hot = torch.FloatTensor(target.size(0), c).zero_().scatter_(1, idx, 1)
    one_hot = torch.clamp(one_hot, smooth / (c - 1), 1.0 - smooth)
    pt = (one_hot * logit).sum(1) + smooth
    alpha = torch.squeeze(alpha[idx])
    return (-1 * alpha * torch.pow((1 - pt), gamma) * pt.log()).mean()


def losses(g, d, aug, img, mask, amp=False):
    # amp: the networks under bfloat16 autocast, the loss terms in float32 (as Vigil's
    # model.train.precision=bfloat16; SSIM's variances cancel in bfloat16 over flat regions).
    with torch.autocast('cpu' if aug.device.type == 'cpu' else 'cuda', dtype=torch.bfloat16, enabled=amp):
        rec = g(aug)
        seg = d(torch.cat((rec, aug), dim=1))
    rec_, seg_ = (rec.float(), seg.float()) if amp else (rec, seg)
    l2 = F.mse_loss(rec_, img)
    ss = ssim_loss(rec_, img)
    fo = focal_loss(torch.softmax(seg_, dim=1), mask)
    return rec, seg, l2, ss, fo


def rel(a, b):
    a, b = a.double(), b.double()
    return [float((a - b).norm()), float(b.norm())]


def sd_diff(a, b):
    keys_equal = list(a.keys()) == list(b.keys())
    worst = max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in b)
    return keys_equal, worst


def whole(pairs):
    """‖Δ‖ / ‖ref‖ over all tensors together, from [‖Δ‖, ‖ref‖] pairs."""
    return (sum(d * d for d, _ in pairs) / sum(n * n for _, n in pairs)) ** 0.5


def self_spread(seed, rw, dw, aug, img, mask, channels_last, grads, steps, zero_grad):
    """How far PyTorch's own change of layout moves this case's gradients and Adam step: the
    other layout's run against `grads` / `steps` (this layout's, computed by main)."""
    g, d = build(seed, rw, dw)
    if not channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam([{'params': g.parameters(), 'lr': 1e-4}, {'params': d.parameters(), 'lr': 1e-4}])
    opt.zero_grad()
    _, _, l2, ss, fo = losses(g, d, aug, img, mask)
    (l2 + ss + fo).backward()
    params = [(f'g.{k}', p) for k, p in g.named_parameters()] + [(f'd.{k}', p) for k, p in d.named_parameters()]
    other = {k: p.grad.clone() for k, p in params}
    p0 = {k: p.detach().clone() for k, p in params}
    opt.step()
    keep = [k for k, _ in params if k not in zero_grad]
    return (whole([rel(other[k], grads[k]) for k in keep]),
            whole([rel(dict(params)[k].detach() - p0[k], steps[k]) for k in keep]))


def conv_biases_before_bn(g, d):
    """Conv biases feeding a train-mode BN (every conv but the output layers): zero gradient in exact
    arithmetic, left out as the test leaves them out."""
    return {f'{pre}.{name}.bias' for pre, m in (('g', g), ('d', d)) for name, c in m.named_modules()
            if isinstance(c, nn.Conv2d) and 'fin_out' not in name}


def main(D):
    torch.set_num_threads(1)
    spec = json.load(open(f'{D}/spec.json'))
    out = {}
    for case in spec['cases']:
        name, seed, rw, dw = case['name'], case['seed'], case['rw'], case['dw']
        dtype = torch.float64 if case['dtype'] == 'float64' else torch.float32
        g, d = build(seed, rw, dw)
        ts_init_g = torch.load(f'{D}/{name}_init_g.pth')
        ts_init_d = torch.load(f'{D}/{name}_init_d.pth')
        r = {}
        r['initKeysG'], r['initDiffG'] = sd_diff(ts_init_g, g.state_dict())
        r['initKeysD'], r['initDiffD'] = sd_diff(ts_init_d, d.state_dict())
        r['keysG'] = list(g.state_dict().keys())
        r['keysD'] = list(d.state_dict().keys())
        g, d = g.to(dtype), d.to(dtype)
        if case['pyChannelsLast']:
            g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        data = torch.load(f'{D}/{name}_data.pth')
        aug, img, mask = data['aug'].to(dtype), data['img'].to(dtype), data['mask'].to(dtype)
        ts = torch.load(f'{D}/{name}_ts.pth')
        opt = torch.optim.Adam([{'params': g.parameters(), 'lr': 1e-4}, {'params': d.parameters(), 'lr': 1e-4}])
        opt.zero_grad()
        rec, seg, l2, ss, fo = losses(g, d, aug, img, mask, amp=case.get('autocast', False))
        loss = l2 + ss + fo
        loss.backward()
        r['rec'] = rel(ts['rec'], rec.detach().float())
        r['seg'] = rel(ts['seg'], seg.detach().float())
        r['l2'], r['ssim'], r['focal'] = float(l2), float(ss), float(fo)
        grads = [(f'g.{k}', p.grad) for k, p in g.named_parameters()] + [(f'd.{k}', p.grad) for k, p in d.named_parameters()]
        r['grads'] = {k: rel(ts[f'grad.{k}'], v) for k, v in grads}
        p0 = {f'g.{k}': p.detach().clone() for k, p in g.named_parameters()}
        p0.update({f'd.{k}': p.detach().clone() for k, p in d.named_parameters()})
        opt.step()
        after = [(f'g.{k}', p) for k, p in g.named_parameters()] + [(f'd.{k}', p) for k, p in d.named_parameters()]
        r['step'] = {k: rel(ts[f'step.{k}'] - p0[k], v.detach() - p0[k]) for k, v in after}
        steps = {k: v.detach() - p0[k] for k, v in after}
        # buffers after the training-mode forward (running statistics)
        bufs = [(f'g.{k}', b) for k, b in g.named_buffers()] + [(f'd.{k}', b) for k, b in d.named_buffers()]
        r['buffers'] = max(float((ts[f'buf.{k}'].double() - b.double()).abs().max()) for k, b in bufs)
        if case.get('convolution') == 'winograd':
            # PyTorch against itself in the other layout: how far float32 rounding alone moves this
            # net's gradients and Adam step (the yardstick for a kernel that sums differently).
            r['selfGrads'], r['selfSteps'] = self_spread(seed, rw, dw, aug, img, mask, case['pyChannelsLast'], dict(grads), steps, conv_biases_before_bn(g, d))
        out[name] = r

    # Checkpoints written by torch.save as train_DRAEM.py does (zip) and in the legacy format, from
    # networks whose weights and BN statistics are perturbed away from the initialisation; then scores
    # as test_DRAEM.py computes them, in eval mode.
    ck = spec['checkpoint']
    g, d = build(ck['seed'], ck['rw'], ck['dw'])
    torch.manual_seed(ck['seed'] + 1)
    with torch.no_grad():
        for m in (g, d):
            for k, t in m.state_dict().items():
                if t.is_floating_point():
                    t.add_(torch.randn_like(t) * 0.05)
                    if k.endswith('running_var'):
                        t.abs_().add_(0.5)
    torch.save(g.state_dict(), f'{D}/ck_.pckl')
    torch.save(d.state_dict(), f'{D}/ck__seg.pckl', _use_new_zipfile_serialization=False)
    g_wrong = ReconstructiveSubNetwork(3, 3, ck['rw'] * 2)
    torch.save(g_wrong.state_dict(), f'{D}/wrong_.pckl')
    torch.save(g.state_dict(), f'{D}/wrong__seg.pckl')
    g.eval()
    d.eval()
    x = torch.load(f'{D}/ck_x.pth')['x']
    with torch.no_grad():
        rec = g(x)
        sm = torch.softmax(d(torch.cat((rec.detach(), x), dim=1)), dim=1)
        pooled = F.avg_pool2d(sm[:, 1:, :, :], 21, stride=1, padding=21 // 2)
    out['checkpoint'] = {
        'maps': sm[:, 1].reshape(-1).tolist(),
        'scores': [float(pooled[i].max()) for i in range(x.shape[0])],
    }
    json.dump(out, open(f'{D}/out.json', 'w'))


if __name__ == '__main__':
    main(sys.argv[1])
