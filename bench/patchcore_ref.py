# PyTorch side of bench/patchcore.ts: the authors' PatchCore algorithm (patchcore-inspection's
# steps: torchvision backbone stopped after the last layer, unfold + bilinear + adaptive pools,
# approximate greedy coreset, exact squared-L2 1-NN as faiss IndexFlatL2, bilinear + scipy blur).
# argv: root threads ratio. Prints one JSON line.
import json, resource, sys, time, glob, os
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from scipy import ndimage

root, threads, ratio = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
np.random.seed(0)
T = torchvision.transforms
tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
net = torchvision.models.wide_resnet50_2().eval()


def layers23(x):
    h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    l2 = net.layer2(net.layer1(h))
    return l2, net.layer3(l2)


def patchify(f):
    u = F.unfold(f, kernel_size=3, stride=1, padding=1)
    return u.reshape(*f.shape[:2], 3, 3, -1).permute(0, 4, 1, 2, 3), list(f.shape[-2:])


def embed(x):
    f2, f3 = layers23(x)
    (p2, g2), (p3, g3) = patchify(f2), patchify(f3)
    u = p3.reshape(p3.shape[0], g3[0], g3[1], *p3.shape[2:]).permute(0, 3, 4, 5, 1, 2)
    base = u.shape
    u = F.interpolate(u.reshape(-1, *u.shape[-2:]).unsqueeze(1), size=tuple(g2), mode="bilinear", align_corners=False).squeeze(1)
    u = u.reshape(*base[:-2], *g2).permute(0, 4, 5, 1, 2, 3)
    p3 = u.reshape(len(u), -1, *u.shape[-3:])
    p2 = p2.reshape(-1, *p2.shape[-3:]); p3 = p3.reshape(-1, *p3.shape[-3:])
    a = F.adaptive_avg_pool1d(p2.reshape(len(p2), 1, -1), 1024).squeeze(1)
    b = F.adaptive_avg_pool1d(p3.reshape(len(p3), 1, -1), 1024).squeeze(1)
    z = torch.stack([a, b], 1).reshape(len(a), 1, -1)
    return F.adaptive_avg_pool1d(z, 1024).reshape(len(a), -1), g2


def l2(a, b):
    return ((a * a).sum(1, keepdim=True) + (b * b).sum(1)[None] - 2 * a.mm(b.T)).clamp(0, None).sqrt()


train = sorted(glob.glob(f"{root}/train/good/*.png"))
test = sorted(glob.glob(f"{root}/test/*/*.png"))
with torch.no_grad():
    t0 = time.time()
    feats = []
    for i in range(0, len(train), 8):
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in train[i:i + 8]])
        feats.append(embed(x)[0])
    feats = torch.cat(feats)
    t1 = time.time()
    proj = torch.nn.Linear(feats.shape[1], 128, bias=False)
    red = proj(feats)
    starts = np.random.choice(len(red), 10, replace=False).tolist()
    anchor = l2(red, red[starts]).mean(-1).reshape(-1, 1)
    sel = []
    for _ in range(int(len(red) * ratio)):
        j = torch.argmax(anchor).item()
        sel.append(j)
        anchor = torch.min(torch.cat([anchor, l2(red, red[j:j + 1])], -1), 1).values.reshape(-1, 1)
    bank = feats[sel].contiguous()
    del feats, red, anchor
    t2 = time.time()
    fit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bn = (bank * bank).sum(1)[None]
    lat = []
    for p in test:
        s = time.time()
        x = tf(Image.open(p).convert("RGB"))[None]
        e, g = embed(x)
        d = ((e * e).sum(1, keepdim=True) + bn - 2 * e.mm(bank.T)).clamp(min=0).min(1).values
        ps = d.reshape(1, *g)
        score = ps.reshape(1, -1).max(1).values
        up = F.interpolate(ps[:, None], size=(224, 224), mode="bilinear", align_corners=False)[:, 0].numpy()
        m = ndimage.gaussian_filter(up[0], sigma=4)
        lat.append(time.time() - s)
print(json.dumps({"features_s": t1 - t0, "coreset_s": t2 - t1, "fit_s": t2 - t0, "bank": list(bank.shape),
                  "infer_ms": 1000 * float(np.mean(lat)), "infer_ms_median": 1000 * float(np.median(lat)),
                  "fit_peak_rss_mb": fit_rss / 1024, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
