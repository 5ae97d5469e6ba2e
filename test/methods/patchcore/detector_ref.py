# The whole of PatchCore as patchcore-inspection runs it (PatchCore.fit → _fill_memory_bank →
# ApproximateGreedyCoresetSampler / GreedyCoresetSampler → NearestNeighbourScorer; PatchCore.predict
# → _predict → PatchMaker.score and RescaleSegmentor), written for detector-ref.test.ts from the
# authors' algorithm; PyTorch + scipy, float32 as theirs. Reads DIR/spec.json (image files, cases)
# and DIR/coreset.pth (the projection matrices and starting points, drawn by Vigil's seeded
# functions, because the authors draw theirs from torch's and numpy's global RNGs); writes
# DIR/resnet18.pth (seeded random backbone, BN statistics randomised) and DIR/ref.pth.
import json, os, sys
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from scipy import ndimage

DIR = sys.argv[1]
torch.set_num_threads(1)
torch.manual_seed(4321)
spec = json.load(open(os.path.join(DIR, 'spec.json')))
given = torch.load(os.path.join(DIR, 'coreset.pth'))

# ---- backbone: torchvision resnet18, random weights, non-trivial BN --------------------------------
backbone = torchvision.models.resnet18()
for m in backbone.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.weight.data.uniform_(0.5, 1.5)
        m.bias.data.uniform_(-0.2, 0.2)
        m.running_mean.data.uniform_(-0.2, 0.2)
        m.running_var.data.uniform_(0.5, 2.0)
backbone.eval()
torch.save(backbone.state_dict(), os.path.join(DIR, 'resnet18.pth'))


def load_images(paths):
    # MVTecDataset's transform with resize = crop = the file's size: ToTensor, then ImageNet Normalize.
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    xs = []
    for p in paths:
        a = np.asarray(Image.open(p).convert('RGB'), dtype=np.float32) / 255.0
        xs.append((torch.from_numpy(a).permute(2, 0, 1) - mean) / std)
    return torch.stack(xs)


def layer_outputs(x, layers):
    # NetworkFeatureAggregator: the outputs of the named layers, the forward stopped after the last.
    out = {}
    h = backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(x))))
    for name in ['layer1', 'layer2', 'layer3', 'layer4']:
        h = getattr(backbone, name)(h)
        if name in layers:
            out[name] = h
        if all(l in out for l in layers):
            break
    return [out[l] for l in layers]


class PatchMaker:
    def __init__(self, patchsize, stride):
        self.patchsize, self.stride = patchsize, stride

    def patchify(self, f):
        pad = int((self.patchsize - 1) / 2)
        u = F.unfold(f, kernel_size=self.patchsize, stride=self.stride, padding=pad, dilation=1)
        shape = [int((s + 2 * pad - (self.patchsize - 1) - 1) / self.stride + 1) for s in f.shape[-2:]]
        u = u.reshape(*f.shape[:2], self.patchsize, self.patchsize, -1).permute(0, 4, 1, 2, 3)
        return u, shape

    @staticmethod
    def unpatch_scores(x, batchsize):
        return x.reshape(batchsize, -1, *x.shape[1:])

    @staticmethod
    def score(x):
        x = torch.from_numpy(x)
        while x.ndim > 1:
            x = torch.max(x, dim=-1).values
        return x.numpy()


class PatchCore:
    def __init__(self, c):
        self.layers = c['layers']
        self.maker = PatchMaker(c['patchSize'], c['patchStride'])
        self.pre_dim, self.target_dim = c['pretrainEmbedDim'], c['embedDim']
        self.k, self.sigma = c['k'], c['smoothing']
        self.case = c

    def embed(self, images):
        with torch.no_grad():
            feats = [self.maker.patchify(f) for f in layer_outputs(images, self.layers)]
            shapes = [s for _, s in feats]
            feats = [u for u, _ in feats]
            ref = shapes[0]
            for i in range(1, len(feats)):
                u, g = feats[i], shapes[i]
                u = u.reshape(u.shape[0], g[0], g[1], *u.shape[2:]).permute(0, -3, -2, -1, 1, 2)
                base = u.shape
                u = u.reshape(-1, *u.shape[-2:])
                u = F.interpolate(u.unsqueeze(1), size=(ref[0], ref[1]), mode='bilinear', align_corners=False).squeeze(1)
                u = u.reshape(*base[:-2], ref[0], ref[1]).permute(0, -2, -1, 1, 2, 3)
                feats[i] = u.reshape(len(u), -1, *u.shape[-3:])
            feats = [u.reshape(-1, *u.shape[-3:]) for u in feats]
            # Preprocessing (one MeanMapper per layer), then the Aggregator.
            per_layer = [F.adaptive_avg_pool1d(u.reshape(len(u), 1, -1), self.pre_dim).squeeze(1) for u in feats]
            z = torch.stack(per_layer, dim=1).reshape(len(per_layer[0]), 1, -1)
            z = F.adaptive_avg_pool1d(z, self.target_dim).reshape(len(z), -1)
            return z, ref

    @staticmethod
    def batchwise_differences(a, b):
        aa = a.unsqueeze(1).bmm(a.unsqueeze(2)).reshape(-1, 1)
        bb = b.unsqueeze(1).bmm(b.unsqueeze(2)).reshape(1, -1)
        return (-2 * a.mm(b.T) + aa + bb).clamp(0, None).sqrt()

    def coreset(self, features):
        c = self.case
        if c['coreset'] == 'none':
            return list(range(len(features)))
        with torch.no_grad():
            w = given[f"{c['name']}.projection"]
            reduced = features if w.shape[0] == features.shape[1] else features.mm(w.T)
            m = int(len(features) * c['ratio'])
            if c['coreset'] == 'approx_greedy':
                starts = given[f"{c['name']}.starts"].tolist()
                anchor = torch.mean(self.batchwise_differences(reduced, reduced[starts]), axis=-1).reshape(-1, 1)
                sel = []
                for _ in range(m):
                    j = torch.argmax(anchor).item()
                    sel.append(j)
                    d = self.batchwise_differences(reduced, reduced[j:j + 1])
                    anchor = torch.min(torch.cat([anchor, d], dim=-1), dim=1).values.reshape(-1, 1)
                return sel
            dm = self.batchwise_differences(reduced, reduced)
            anchor = torch.norm(dm, dim=1)
            sel = []
            for _ in range(m):
                j = torch.argmax(anchor).item()
                sel.append(j)
                anchor = torch.min(torch.cat([anchor.unsqueeze(-1), dm[:, j:j + 1]], dim=1), dim=1).values
            return sel

    def fit(self, images, batchsize):
        feats = torch.cat([self.embed(images[s:s + batchsize])[0] for s in range(0, len(images), batchsize)])
        self.indices = self.coreset(feats)
        self.bank = feats[self.indices].numpy()

    def knn(self, q):
        # faiss IndexFlatL2.search: the k smallest squared L2 distances, ascending.
        b = torch.from_numpy(self.bank)
        d = ((q * q).sum(1, keepdim=True) + (b * b).sum(1)[None] - 2 * q.mm(b.T)).clamp(min=0)
        return torch.topk(d, self.k, dim=1, largest=False).values.numpy()

    def predict(self, images):
        n = images.shape[0]
        feats, shape = self.embed(images)
        patch_scores = image_scores = np.mean(self.knn(feats), axis=-1)
        image_scores = PatchMaker.unpatch_scores(image_scores, n)
        image_scores = PatchMaker.score(image_scores.reshape(*image_scores.shape[:2], -1))
        patch_scores = PatchMaker.unpatch_scores(patch_scores, n).reshape(n, shape[0], shape[1])
        up = F.interpolate(torch.from_numpy(patch_scores).unsqueeze(1), size=tuple(images.shape[-2:]), mode='bilinear', align_corners=False).squeeze(1).numpy()
        maps = np.stack([ndimage.gaussian_filter(m, sigma=self.sigma) for m in up])
        return image_scores, maps


R = {'x.train': load_images(spec['train']), 'x.test': load_images(spec['test'])}
for c in spec['cases']:
    pc = PatchCore(c)
    pc.fit(R['x.train'], c['batchSize'])
    scores, maps = pc.predict(R['x.test'])
    R[f"{c['name']}.indices"] = torch.tensor(pc.indices)
    R[f"{c['name']}.bank"] = torch.from_numpy(pc.bank)
    R[f"{c['name']}.scores"] = torch.from_numpy(np.asarray(scores, dtype=np.float32))
    R[f"{c['name']}.maps"] = torch.from_numpy(np.asarray(maps, dtype=np.float32))
torch.save({k: v.contiguous() for k, v in R.items()}, os.path.join(DIR, 'ref.pth'))
print('OK')
