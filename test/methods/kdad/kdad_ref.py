# PyTorch reference for Vigil's KDAD, written for these tests after the behaviour of the authors'
# code (rohban-lab/Knowledge_Distillation_AD @0c574ae: models/network.py, loss_functions.py,
# test_functions.py, utils/utils.py, train.py, dataloader.py). One run, argv[1] = folder holding
# spec.json (written by the test); it writes there:
#   teacher.pth      torchvision VGG16 `features` with seeded random weights (biases randomised too)
#   cloner.pth       a fresh cloner ('B', Xavier-uniform, no bias, BN where the next entry is not 'M')
#   cloner_eval.pth  the same cloner with randomised BN affine parameters and running statistics
#   inputs.pth       images, SmoothGrad's standard normal draws, uint8 images for the transforms
#   ref.pth          every reference tensor;  ref.json  the fit's per-step losses
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as T
from PIL import Image
from scipy.ndimage import gaussian_filter

out = sys.argv[1]
spec = json.load(open(f"{out}/spec.json"))
torch.manual_seed(spec["seed"])
torch.set_num_threads(1)
R = {}

TEACHER_IDX = [1, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27, 30]
STUDENT_IDX = [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38]
CFG_B = [16, 16, "M", 16, 128, "M", 16, 16, 256, "M", 16, 16, 512, "M", 16, 16, 512, "M"]


class Teacher(nn.Module):
    """VGG16 features run to index 30, 13 outputs (the authors' Vgg16)."""

    def __init__(self):
        super().__init__()
        self.features = nn.ModuleList(list(torchvision.models.vgg16().features)).eval()

    def forward(self, x):
        outs = []
        for i in range(31):
            x = self.features[i](x)
            if i in TEACHER_IDX:
                outs.append(x)
        return outs


class Cloner(nn.Module):
    """The authors' make_arch('B', use_bias=False, batch_norm=True) VGG with its 13 outputs."""

    def __init__(self, cfg):
        super().__init__()
        layers, c = [], 3
        for i, v in enumerate(cfg):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            conv = nn.Conv2d(c, v, 3, padding=1, bias=False)
            nn.init.xavier_uniform_(conv.weight)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if cfg[i + 1] != "M" else [conv, nn.ReLU(inplace=True)]
            c = v
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        outs = []
        for i in range(len(self.features)):
            x = self.features[i](x)
            if i in STUDENT_IDX:
                outs.append(x)
        return outs


cos = nn.CosineSimilarity()
mse = nn.MSELoss()


def train_loss(p, r, lamda):
    """MseDirectionLoss over outputs 3, 6, 9, 12."""
    d = sum(torch.mean(1 - cos(p[l].view(p[l].shape[0], -1), r[l].view(r[l].shape[0], -1))) for l in (3, 6, 9, 12))
    m = sum(mse(p[l], r[l]) for l in (3, 6, 9, 12))
    return d + lamda * m, d, m


def score(p, r, lamda, direction_only):
    """detection_test's per-image score over outputs 6, 9, 12."""
    d = sum(1 - cos(p[l].view(p[l].shape[0], -1), r[l].view(r[l].shape[0], -1)) for l in (6, 9, 12))
    if direction_only:
        return d
    return d + lamda * sum(torch.mean((p[l] - r[l]) ** 2, dim=(1, 2, 3)) for l in (6, 9, 12))


def grad_loss(p, r, lamda):
    """The loss grad_calc / VanillaSaliency differentiate (one image: MSELoss = per-image mean)."""
    d = sum(torch.mean(1 - cos(p[l].view(p[l].shape[0], -1), r[l].view(r[l].shape[0], -1))) for l in (6, 9, 12))
    return d + lamda * sum(mse(p[l], r[l]) for l in (6, 9, 12))


def grayscale(g):
    """utils.convert_to_grayscale of a C×H×W array → 1×H×W."""
    g = np.sum(np.abs(g), axis=0)
    hi, lo = np.percentile(g, 99), np.min(g)
    return np.expand_dims(np.clip((g - lo) / (hi - lo), 0, 1), axis=0)


def input_grad(model, vgg, x, lamda):
    x = x.clone().requires_grad_(True)
    loss = grad_loss(model(x), vgg(x), lamda)
    model.zero_grad()
    loss.backward()
    return x.grad.detach()


def gbp_grad(model, vgg, x, lamda):
    """GuidedBackprop: hooks on every cloner ReLU, as the authors' class, removed afterwards."""
    fwd, hooks = [], []

    def on_backward(module, grad_in, grad_out):
        a = fwd[-1]
        a[a > 0] = 1
        del fwd[-1]
        return (a * torch.clamp(grad_in[0], min=0.0),)

    for m in model.modules():
        if isinstance(m, nn.ReLU):
            hooks.append(m.register_backward_hook(on_backward))
            hooks.append(m.register_forward_hook(lambda mod, i, o: fwd.append(o)))
    try:
        return input_grad(model, vgg, x, lamda)
    finally:
        for h in hooks:
            h.remove()


def minmax(s):
    return (s - min(s.flatten())) / (max(s.flatten()) - min(s.flatten()))


# ---- networks, inputs -------------------------------------------------------------------------
vgg = Teacher()
for m in vgg.modules():
    if isinstance(m, nn.Conv2d):
        m.bias.data.uniform_(-0.1, 0.1)
torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, f"{out}/teacher.pth")

cloner = Cloner(CFG_B)
torch.save(cloner.state_dict(), f"{out}/cloner.pth")
cloner_eval = Cloner(CFG_B)
cloner_eval.load_state_dict(cloner.state_dict())
for m in cloner_eval.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.weight.data.uniform_(0.5, 1.5)
        m.bias.data.uniform_(-0.2, 0.2)
        m.running_mean.data.uniform_(-0.2, 0.2)
        m.running_var.data.uniform_(0.5, 2.0)
        m.num_batches_tracked.fill_(7)
torch.save(cloner_eval.state_dict(), f"{out}/cloner_eval.pth")
cloner_eval.eval()

S = spec["side"]
x = torch.rand(spec["nMaps"], 3, S, S)
z = torch.randn(spec["nMaps"], spec["samples"], 3, S, S)
xfit = torch.rand(spec["nFit"], 3, spec["fitSide"], spec["fitSide"])
fm = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
cf = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
torch.save({"x": x, "z": z, "xfit": xfit, "fm": fm, "cf": cf}, f"{out}/inputs.pth")

# ---- taps, forward/backward, loss -------------------------------------------------------------
with torch.no_grad():
    for k, t in zip(TEACHER_IDX, vgg(x)):
        R[f"teacher.{k}"] = t
    for k, t in zip(STUDENT_IDX, cloner_eval(x)):
        R[f"student.eval.{k}"] = t
cloner.train()
p, r = cloner(x), vgg(x)
for k, t in zip(STUDENT_IDX, p):
    R[f"student.train.{k}"] = t.detach()
loss, d, m = train_loss(p, r, spec["lamdaLoss"])
cloner.zero_grad()
loss.backward()
R["loss"] = torch.stack([loss.detach(), d.detach(), m.detach()])
for n, prm in cloner.named_parameters():
    R[f"grad.{n}"] = prm.grad.detach().clone()
cloner.load_state_dict(torch.load(f"{out}/cloner.pth"))  # BN statistics moved; back to the fresh init

# ---- score and maps (eval cloner, one image at a time as the authors) -------------------------
lam = spec["lamdaScore"]
with torch.no_grad():
    R["score"] = score(cloner_eval(x), vgg(x), lam, False)
    R["scoreDirection"] = score(cloner_eval(x), vgg(x), lam, True)
maps = {k: np.zeros((x.shape[0], S, S)) for k in ("gradients", "gbp", "smoothgrad")}
raw_v, raw_g = [], []
for i in range(x.shape[0]):
    xi = x[i : i + 1]
    g = input_grad(cloner_eval, vgg, xi, lam)
    raw_v.append(g[0])
    maps["gradients"][i] = gaussian_filter(grayscale(g[0].numpy()).squeeze(0), sigma=4)
    g = gbp_grad(cloner_eval, vgg, xi, lam)
    raw_g.append(g[0])
    sal = abs(grayscale(g[0].numpy()))
    maps["gbp"][i] = gaussian_filter(minmax(sal), sigma=4)[0]
    sigma = spec["sgSigma"] / (torch.max(xi) - torch.min(xi)).item()
    acc = None
    for n in range(spec["samples"]):
        noisy = xi + (sigma ** 2) * z[i, n : n + 1]
        s = grayscale(input_grad(cloner_eval, vgg, noisy, lam)[0].numpy())
        acc = s if acc is None else acc + s
    sal = abs(acc / spec["samples"])
    maps["smoothgrad"][i] = gaussian_filter(minmax(sal), sigma=4)[0]
R["grad.vanilla"] = torch.stack(raw_v)
R["grad.gbp"] = torch.stack(raw_g)
for k, v in maps.items():
    R[f"map.{k}"] = torch.from_numpy(v)

# ---- the authors' training loop for the batches the test's fit() saw --------------------------
model = Cloner(CFG_B)
model.load_state_dict(torch.load(f"{out}/cloner.pth"))
opt = torch.optim.Adam(model.parameters(), lr=spec["lr"])
losses = []
for order in spec["orders"]:
    model.train()
    for batch in order:
        X = xfit[batch]
        total = train_loss(model(X), vgg(X), spec["lamdaLoss"])[0]
        losses.append(total.item())
        opt.zero_grad()
        total.backward()
        opt.step()
for k, v in model.state_dict().items():
    R[f"fit.{k}"] = v

# ---- the authors' input transforms --------------------------------------------------------------
to_t = T.ToTensor()
R["tf.fmnist"] = torch.stack([to_t(T.Resize((32, 32))(Image.fromarray(a.numpy(), mode="L"))).repeat(3, 1, 1) for a in fm])
cifar = T.Compose([T.Resize((256, 256), T.InterpolationMode.LANCZOS), T.CenterCrop(224), T.ToTensor(),
                   T.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))])
R["tf.cifar10"] = torch.stack([cifar(Image.fromarray(a.numpy(), mode="RGB")) for a in cf])

torch.save(R, f"{out}/ref.pth")
json.dump({"losses": losses}, open(f"{out}/ref.json", "w"))
