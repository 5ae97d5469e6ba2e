# torchvision reference for Vigil's backbones (written for these tests). One run writes into argv[1]:
# - resnet18.pth, vgg16.pth, vgg16_bn.pth: seeded random weights in torchvision's state-dict layout
#   (BN statistics and conv biases randomised so folding and biases are really exercised), and
#   vgg16_bn_legacy.pth: the same weights as the official 2017 files store them;
# - ref.pth: an input x (2×3×64×64), the tapped outputs in eval mode, and the gradient w.r.t. x of
#   s = Σ mean(tap²) over a few deep taps;
# - keys.json: every registry architecture's state-dict keys and shapes (VGG: `features.*` only).
import json
import sys
import torch
import torch.nn as nn
import torchvision
from torchvision.models.vgg import cfgs, make_layers

out = sys.argv[1]
torch.manual_seed(1234)
torch.set_num_threads(1)
R = {}


def randomize(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.data.uniform_(-0.2, 0.2)
            m.running_var.data.uniform_(0.5, 2.0)
        elif isinstance(m, nn.Conv2d) and m.bias is not None:
            m.bias.data.uniform_(-0.1, 0.1)
        elif isinstance(m, nn.ReLU):
            # Same values as inplace; taps before a ReLU keep their own values.
            m.inplace = False


class VggFeatures(nn.Module):
    """torchvision's VGG without avgpool/classifier, initialised as torchvision's VGG."""

    def __init__(self, cfg, bn):
        super().__init__()
        self.features = make_layers(cfgs[cfg], batch_norm=bn)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)


def resnet_taps(model, x):
    res = {}
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    for n in ["layer1", "layer2", "layer3", "layer4"]:
        h = getattr(model, n)(h)
        res[n] = h
    return res


def vgg_taps(model, x, idx):
    res = {}
    h = x
    for i, m in enumerate(model.features):
        h = m(h)
        if i in idx:
            res[str(i)] = h
        if i == max(idx):
            break
    return res


x = torch.randn(2, 3, 64, 64)
R["x"] = x

r18 = torchvision.models.resnet18().eval()
randomize(r18)
torch.save(r18.state_dict(), f"{out}/resnet18.pth")
xr = x.clone().requires_grad_(True)
t = resnet_taps(r18, xr)
s = sum((t[k] ** 2).mean() for k in ["layer2", "layer3", "layer4"])
(g,) = torch.autograd.grad(s, xr)
for k, v in t.items():
    R[f"resnet18.{k}"] = v.detach()
R["resnet18.grad"] = g

VGG_TAPS = {
    # KDAD's teacher taps; the score uses 16, 23, 30 (its outputs 6, 9, 12).
    "vgg16": ([1, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27, 30], [16, 23, 30]),
    # conv (before BN), BN, ReLU and pool outputs.
    "vgg16_bn": ([0, 1, 2, 6, 8, 13, 23, 33, 36, 43], [8, 23, 33, 43]),
}
for name, (cfg, bn) in {"vgg16": ("D", False), "vgg16_bn": ("D", True)}.items():
    m = VggFeatures(cfg, bn).eval()
    randomize(m)
    sd = dict(m.state_dict())
    # torchvision's files also hold the classifier; stand-ins with its key names (tiny shapes keep the
    # file small) check that the loader drops exactly these keys.
    for k in ["classifier.0", "classifier.3", "classifier.6"]:
        sd[f"{k}.weight"] = torch.randn(4, 3)
        sd[f"{k}.bias"] = torch.randn(4)
    torch.save(sd, f"{out}/{name}.pth")
    if bn:
        # As torchvision's 2017 files: pre-1.6 (legacy) format, no num_batches_tracked.
        old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
        torch.save(old, f"{out}/{name}_legacy.pth", _use_new_zipfile_serialization=False)
    taps, loss = VGG_TAPS[name]
    xv = x.clone().requires_grad_(True)
    t = vgg_taps(m, xv, taps)
    s = sum((t[str(k)] ** 2).mean() for k in loss)
    (g,) = torch.autograd.grad(s, xv)
    for k, v in t.items():
        R[f"{name}.{k}"] = v.detach()
    R[f"{name}.grad"] = g

torch.save(R, f"{out}/ref.pth")

# Parameter names and shapes of every architecture the registry knows, without the cost of
# initialising the large ones (reset_parameters off: only names and shapes are read).
nn.Module.reset_parameters = lambda self: None
for cls in [nn.Conv2d, nn.Linear, nn.BatchNorm2d]:
    cls.reset_parameters = lambda self: None
nn.init.kaiming_normal_ = lambda t, *a, **k: t
nn.init.constant_ = lambda t, *a, **k: t
nn.init.normal_ = lambda t, *a, **k: t
keys = {}
for n in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2"]:
    keys[n] = [[k, list(v.shape)] for k, v in getattr(torchvision.models, n)().state_dict().items()]
for cfg, base in [("A", "vgg11"), ("B", "vgg13"), ("D", "vgg16"), ("E", "vgg19")]:
    for bn in [False, True]:
        f = make_layers(cfgs[cfg], batch_norm=bn)
        keys[base + ("_bn" if bn else "")] = [[f"features.{k}", list(v.shape)] for k, v in f.state_dict().items()]
with open(f"{out}/keys.json", "w") as fh:
    json.dump(keys, fh)
