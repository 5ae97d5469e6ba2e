# The PyTorch side of bench/kdad-epoch.ts: the authors' training loop (rohban-lab/Knowledge_Distillation_AD
# train.py, written here for the benchmark) over the images, weights and batch order the TS side
# saved. Mode 'authors': the teacher is called with autograd on, as train.py does (its parameters
# require grad, so backward also runs through VGG16); 'nograd': the teacher under torch.no_grad().
# Prints one JSON line: per-epoch seconds and mean losses, the cache fill (0 here), peak RSS.
# Usage: python3 kdad-epoch.py <dir> <threads> <orders json> <authors|nograd>
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torchvision

d, threads, orders, mode = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
CFG_B = [16, 16, "M", 16, 128, "M", 16, 16, 256, "M", 16, 16, 512, "M", 16, 16, 512, "M"]
T_IDX = [1, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27, 30]
S_IDX = [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38]


class Cloner(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for i, v in enumerate(CFG_B):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            conv = nn.Conv2d(c, v, 3, padding=1, bias=False)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if CFG_B[i + 1] != "M" else [conv, nn.ReLU(inplace=True)]
            c = v
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        out = []
        for i in range(len(self.features)):
            x = self.features[i](x)
            if i in S_IDX:
                out.append(x)
        return out


feats = nn.ModuleList(list(torchvision.models.vgg16().features)).eval()
feats.load_state_dict({k[len("features."):]: v for k, v in torch.load(f"{d}/teacher.pth").items()})


def teacher(x):
    out = []
    for i in range(31):
        x = feats[i](x)
        if i in T_IDX:
            out.append(x)
    return out


model = Cloner()
model.load_state_dict(torch.load(f"{d}/cloner.pth"))
x = torch.load(f"{d}/images.pth")["x"]
cos, mse = nn.CosineSimilarity(), nn.MSELoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lamda = 0.01
res = {"epochS": [], "fillS": 0, "losses": []}
for order in orders:
    t0 = time.time()
    model.train()
    total_loss, n = 0.0, 0
    for batch in order:
        X = x[batch]
        p = model(X)
        if mode == "nograd":
            with torch.no_grad():
                r = teacher(X)
        else:
            r = teacher(X)
        loss = sum(torch.mean(1 - cos(p[l].view(p[l].shape[0], -1), r[l].view(r[l].shape[0], -1))) for l in (3, 6, 9, 12))
        loss = loss + lamda * sum(mse(p[l], r[l]) for l in (3, 6, 9, 12))
        total_loss += loss.item()
        n += 1
        opt.zero_grad()
        loss.backward()
        opt.step()
    res["epochS"].append(time.time() - t0)
    res["losses"].append(total_loss / n)
res["peakRssMb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(res))
