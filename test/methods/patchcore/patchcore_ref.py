# PyTorch/scipy reference of PatchCore's steps as patchcore-inspection computes them (written for
# these tests from the authors' algorithm description; see src/methods/patchcore/). One run writes
# every fixture into argv[1]: random torchvision weights (.pth), inputs and expected outputs (ref.pth).
import sys
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from scipy import ndimage

out = sys.argv[1]
torch.manual_seed(1234)
np.random.seed(1234)
torch.set_num_threads(1)
R = {}


def randomize_bn(model):
    # Non-trivial BN statistics so folding/eval-mode BN is really exercised.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.data.uniform_(-0.2, 0.2)
            m.running_var.data.uniform_(0.5, 2.0)


def taps(model, x, names):
    res = {}
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    for n in ["layer1", "layer2", "layer3", "layer4"]:
        h = getattr(model, n)(h)
        res[n] = h
        if n == names[-1]:
            break
    return res


# ---- backbones --------------------------------------------------------------------------------
r18 = torchvision.models.resnet18().eval()
randomize_bn(r18)
torch.save(r18.state_dict(), f"{out}/resnet18.pth")
x18 = torch.randn(2, 3, 64, 80)
R["r18.x"] = x18
with torch.no_grad():
    t = taps(r18, x18, ["layer1", "layer2", "layer3", "layer4"])
    for k, v in t.items():
        R[f"r18.{k}"] = v
    R["r18.logits"] = r18(x18)

wrn = torchvision.models.wide_resnet50_2().eval()
randomize_bn(wrn)
torch.save(wrn.state_dict(), f"{out}/wide_resnet50_2.pth")
xw = torch.randn(1, 3, 48, 48)
R["wrn.x"] = xw
with torch.no_grad():
    t = taps(wrn, xw, ["layer2", "layer3"])
    R["wrn.layer2"] = t["layer2"]
    R["wrn.layer3"] = t["layer3"]
del wrn


# ---- patch embedding (PatchMaker + Preprocessing + Aggregator) --------------------------------
def patchify(f, p, stride):
    pad = int((p - 1) / 2)
    u = F.unfold(f, kernel_size=p, stride=stride, padding=pad, dilation=1)
    grid = [int((s + 2 * pad - (p - 1) - 1) / stride + 1) for s in f.shape[-2:]]
    u = u.reshape(*f.shape[:2], p, p, -1).permute(0, 4, 1, 2, 3)
    return u, grid


def embed(feats, p, stride, d_pre, d_t):
    pats = [patchify(f, p, stride) for f in feats]
    grids = [g for _, g in pats]
    pats = [u for u, _ in pats]
    ref = grids[0]
    for i in range(1, len(pats)):
        u = pats[i]
        g = grids[i]
        u = u.reshape(u.shape[0], g[0], g[1], *u.shape[2:]).permute(0, 3, 4, 5, 1, 2)
        base = u.shape
        u = u.reshape(-1, *u.shape[-2:])
        u = F.interpolate(u.unsqueeze(1), size=(ref[0], ref[1]), mode="bilinear", align_corners=False).squeeze(1)
        u = u.reshape(*base[:-2], ref[0], ref[1]).permute(0, 4, 5, 1, 2, 3)
        pats[i] = u.reshape(len(u), -1, *u.shape[-3:])
    pats = [u.reshape(-1, *u.shape[-3:]) for u in pats]
    per_layer = [F.adaptive_avg_pool1d(u.reshape(len(u), 1, -1), d_pre).squeeze(1) for u in pats]
    z = torch.stack(per_layer, dim=1).reshape(len(per_layer[0]), 1, -1)
    return F.adaptive_avg_pool1d(z, d_t).reshape(len(per_layer[0]), -1), ref


with torch.no_grad():
    f2, f3 = R["r18.layer2"], R["r18.layer3"]
    cases = [("a", 3, 1, 1024, 1024), ("b", 3, 1, 200, 150), ("c", 5, 2, 96, 160), ("d", 3, 1, 100, 333)]
    for name, p, s, dp, dt in cases:
        e, g = embed([f2, f3], p, s, dp, dt)
        R[f"emb.{name}"] = e
        R[f"emb.{name}.grid"] = torch.tensor(g)
    e, g = embed([R["wrn.layer2"], R["wrn.layer3"]], 3, 1, 1024, 1024)
    R["emb.wrn"] = e


# ---- coreset (ApproximateGreedyCoresetSampler / GreedyCoresetSampler) -------------------------
def l2(a, b):
    aa = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
    bb = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
    return (-2 * a.mm(b.T) + aa + bb).clamp(0, None).sqrt()


def approx_greedy(feats, ratio, starts):
    anchor = torch.mean(l2(feats, feats[starts]), axis=-1).reshape(-1, 1)
    sel = []
    for _ in range(int(len(feats) * ratio)):
        j = torch.argmax(anchor).item()
        sel.append(j)
        anchor = torch.min(torch.cat([anchor, l2(feats, feats[j:j + 1])], dim=-1), dim=1).values.reshape(-1, 1)
    return sel


def greedy(feats, ratio):
    dm = l2(feats, feats)
    anchor = torch.norm(dm, dim=1)
    sel = []
    for _ in range(int(len(feats) * ratio)):
        j = torch.argmax(anchor).item()
        sel.append(j)
        anchor = torch.min(torch.cat([anchor.unsqueeze(-1), dm[:, j:j + 1]], dim=1), dim=1).values
    return sel


with torch.no_grad():
    cf = torch.randn(600, 96) * torch.linspace(0.2, 2.0, 96)
    proj = torch.nn.Linear(96, 24, bias=False).weight.data.clone()
    starts = np.random.choice(600, 10, replace=False).tolist()
    R["cs.features"] = cf
    R["cs.projection"] = proj
    R["cs.starts"] = torch.tensor(starts)
    R["cs.approx"] = torch.tensor(approx_greedy(cf.mm(proj.T), 0.1, starts))
    R["cs.greedy"] = torch.tensor(greedy(cf.mm(proj.T), 0.05))


# ---- scoring (faiss IndexFlatL2 semantics) and maps (RescaleSegmentor) ------------------------
def knn(q, bank, k):
    d = (q * q).sum(1, keepdim=True) + (bank * bank).sum(1)[None] - 2 * q.mm(bank.T)
    return torch.topk(d.clamp(min=0), k, dim=1, largest=False).values


with torch.no_grad():
    bank = torch.randn(300, 40)
    q = torch.randn(2 * 7 * 9, 40)
    R["sc.bank"] = bank
    R["sc.query"] = q
    for k in (1, 3):
        d = knn(q, bank, k)
        R[f"sc.knn{k}"] = d
        ps = d.mean(1).reshape(2, 7, 9)
        R[f"sc.image{k}"] = ps.reshape(2, -1).max(1).values
        up = F.interpolate(ps.unsqueeze(1), size=(50, 60), mode="bilinear", align_corners=False).squeeze(1).numpy()
        R[f"sc.maps{k}"] = torch.from_numpy(np.stack([ndimage.gaussian_filter(m, sigma=4) for m in up]))
    small = torch.rand(1, 5, 7)
    R["sc.small"] = small
    R["sc.small_blur"] = torch.from_numpy(ndimage.gaussian_filter(small[0].numpy(), sigma=4))[None]

torch.save({k: v.contiguous() for k, v in R.items()}, f"{out}/ref.pth")
print("OK")
