# Reference of DRAEM's anomaly simulation (VitjanZ/DRAEM data_loader.py + perlin.py) with numpy,
# cv2 and PIL, for Vigil's parity tests. imgaug (which the authors use) is not packaged in Debian:
# its ten augmenters are re-implemented here as imgaug 0.4.0 runs them for the authors' arguments,
# on the same library calls it makes (cv2.LUT tables, cv2.cvtColor, cv2.warpAffine with imgaug's
# matrix, PIL's ImageEnhance/ImageOps). argv[1] = directory with spec.json and in_*.bin;
# bench/draem-augment imports it for the reference side.
import json
import math
import sys

import cv2
import numpy as np
import PIL.Image
import PIL.ImageEnhance
import PIL.ImageOps


CS = {'YCrCb': (cv2.COLOR_RGB2YCrCb, cv2.COLOR_YCrCb2RGB, 0), 'HSV': (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB, 2),
      'HLS': (cv2.COLOR_RGB2HLS, cv2.COLOR_HLS2RGB, 1), 'Lab': (cv2.COLOR_RGB2Lab, cv2.COLOR_Lab2RGB, 0),
      'Luv': (cv2.COLOR_RGB2Luv, cv2.COLOR_Luv2RGB, 0), 'YUV': (cv2.COLOR_RGB2YUV, cv2.COLOR_YUV2RGB, 0)}


def imgaug_matrix(deg, h, w):
    # skimage transforms composed with `+` (a + b = b.params @ a.params), as imgaug's to_matrix
    def tr(x, y):
        return np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)

    def rot(r):
        return np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]], np.float64)
    sx, sy = w / 2.0 - 0.5, h / 2.0 - 0.5
    m = tr(-sx, -sy)
    for t in (rot(-3.141592 / 2), rot(0.0), rot(3.141592 / 2), rot(np.deg2rad(deg)), tr(sx, sy)):
        m = t @ m
    return m


def affine(img, deg):
    m = imgaug_matrix(deg, img.shape[0], img.shape[1])
    if np.average(np.abs(np.eye(3, dtype=np.float32) - m)) <= 1e-4:
        return img.copy()
    out = cv2.warpAffine(img, m[:2], (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out


def lut(img, tables):
    return np.stack([cv2.LUT(img[..., c], tables[c % len(tables)]) for c in range(3)], -1)


def gamma_table(g):
    vr = np.linspace(0, 1.0, num=256, dtype=np.float32)
    return np.clip(0 + (vr ** np.float32(g)) * 255, 0, 255).astype(np.uint8)


def augment(img, p):
    n = p['name']
    if n == 'gammaContrast':
        return lut(img, [gamma_table(g) for g in p['gamma']])
    if n == 'multiplyAndAddToBrightness':
        fwd, bwd, ch = CS[p['colorspace']]
        cvt = cv2.cvtColor(img, fwd)
        mul = np.clip(np.arange(256, dtype=np.float32) * np.float32(p['mul']), 0, 255).astype(np.uint8)
        add = np.clip(np.arange(256, dtype=np.int16) + np.clip(np.round(p['add']), -255, 255).astype(np.int16), 0, 255).astype(np.uint8)
        c = cvt[..., ch]
        c = cv2.LUT(cv2.LUT(c, add), mul) if p['addFirst'] else cv2.LUT(cv2.LUT(c, mul), add)
        cvt[..., ch] = c
        return cv2.cvtColor(cvt, bwd)
    if n == 'enhanceSharpness':
        return np.array(PIL.ImageEnhance.Sharpness(PIL.Image.fromarray(img)).enhance(p['factor']))
    if n == 'addToHueAndSaturation':
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        dh = int((np.float32(p['hue']) / np.float32(255.0)) * np.float32(180.0))
        vr = np.arange(256, dtype=np.int16)
        hsv[..., 0] = cv2.LUT(hsv[..., 0], np.mod(vr + dh, 180).astype(np.uint8))
        hsv[..., 1] = cv2.LUT(hsv[..., 1], np.clip(vr + p['saturation'], 0, 255).astype(np.uint8))
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if n == 'solarize':
        if not p['apply']:
            return img.copy()
        t = np.arange(256).astype(np.int32)
        inv = np.concatenate([t[:int(p['threshold'])], t[::-1][int(p['threshold']):]]).astype(np.uint8)
        return lut(img, [inv])
    if n == 'posterize':
        nb = 2 ** p['bits']
        if nb == 256:
            return img.copy()
        tab = np.arange(0, 256).astype(np.float32)
        binsize = 256 / nb
        tab = np.clip(np.round(np.floor(tab / binsize) * binsize), 0, 255).astype(np.uint8)
        return lut(img, [tab])
    if n == 'invert':
        return lut(img, [np.arange(256)[::-1].astype(np.uint8)])
    if n == 'autocontrast':
        if p['cutoff']:
            return np.array(PIL.ImageOps.autocontrast(PIL.Image.fromarray(img), cutoff=p['cutoff']))
        return np.array(PIL.ImageOps.autocontrast(PIL.Image.fromarray(img)))
    if n == 'equalize':
        out = img.copy()
        for c in range(3):
            h = cv2.calcHist([img[:, :, c:c + 1]], [0], None, [256], [0, 256])
            if len(h.nonzero()[0]) <= 1:
                continue
            step = np.sum(h[:-1]) // 255
            if not step:
                continue
            tab = np.empty(256, np.int32)
            cs = np.cumsum(h)
            tab[0] = step // 2
            tab[1:] = step // 2 + cs[:-1]
            tab //= int(step)
            out[..., c] = cv2.LUT(img[..., c], np.clip(tab, None, 255).astype(np.uint8))
        return out
    if n == 'affine':
        return affine(img, p['degrees'])
    raise ValueError(n)


def perlin(shape, res, angles):
    # rand_perlin_2d_np with the gradient angles given
    delta = (res[0] / shape[0], res[1] / shape[1])
    d = (shape[0] // res[0], shape[1] // res[1])
    grid = np.mgrid[0:res[0]:delta[0], 0:res[1]:delta[1]].transpose(1, 2, 0) % 1
    gradients = np.stack((np.cos(angles), np.sin(angles)), axis=-1)

    def tile(s1, s2):
        return np.repeat(np.repeat(gradients[s1[0]:s1[1], s2[0]:s2[1]], d[0], axis=0), d[1], axis=1)

    def dot(grad, shift):
        return (np.stack((grid[:shape[0], :shape[1], 0] + shift[0], grid[:shape[0], :shape[1], 1] + shift[1]), axis=-1) * grad[:shape[0], :shape[1]]).sum(axis=-1)
    n00 = dot(tile([0, -1], [0, -1]), [0, 0])
    n10 = dot(tile([1, None], [0, -1]), [-1, 0])
    n01 = dot(tile([0, -1], [1, None]), [0, -1])
    n11 = dot(tile([1, None], [1, None]), [-1, -1])
    t = grid[:shape[0], :shape[1]]
    t = 6 * t ** 5 - 15 * t ** 4 + 10 * t ** 3
    lerp = lambda x, y, w: (y - x) * w + x
    return math.sqrt(2) * lerp(lerp(n00, n10, t[..., 0]), lerp(n01, n11, t[..., 0]), t[..., 1])


if __name__ == '__main__':
    D = sys.argv[1]
    spec = json.load(open(f'{D}/spec.json'))
    H, W = spec['h'], spec['w']
    src = np.fromfile(f'{D}/in_src.bin', np.uint8).reshape(H, W, 3)
    out = {'augmenters': []}
    for i, p in enumerate(spec['augmenters']):
        ours = np.fromfile(f'{D}/aug_{i}.bin', np.uint8).reshape(H, W, 3)
        ref = augment(src, p)
        d = np.abs(ours.astype(int) - ref.astype(int))
        out['augmenters'].append({'max': int(d.max()), 'frac': float((d > 0).mean())})

    out['perlin'] = []
    for i, pc in enumerate(spec['perlin']):
        ang = np.array(pc['angles'], np.float64).reshape(pc['res'][0] + 1, pc['res'][1] + 1)
        noise = perlin((H, W), pc['res'], ang)
        ours = np.fromfile(f'{D}/perlin_{i}.bin', np.float64).reshape(H, W)
        rot = cv2.warpAffine(noise[..., None], imgaug_matrix(pc['rot'], H, W)[:2], (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        thr = np.where(rot > 0.5, np.ones_like(rot), np.zeros_like(rot))
        ours_thr = np.fromfile(f'{D}/mask_{i}.bin', np.float64).reshape(H, W)
        out['perlin'].append({'noise': float(np.abs(noise - ours).max()), 'maskDiff': int((thr != ours_thr).sum()), 'maskSum': float(thr.sum())})

    # the blend (data_loader.augment_image) given the same image, source, mask and beta
    b = spec['blend']
    image = np.fromfile(f'{D}/in_img.bin', np.uint8).reshape(H, W, 3).astype(np.float32) / 255.0
    perlin_thr = np.fromfile(f'{D}/mask_0.bin', np.float64).reshape(H, W)[..., None]
    img_thr = src.astype(np.float32) * perlin_thr / 255.0
    beta = np.float32(b['u']) * 0.8
    aug = image * (1 - perlin_thr) + (1 - beta) * img_thr + beta * image * perlin_thr
    msk = perlin_thr.astype(np.float32)
    aug = msk * aug.astype(np.float32) + (1 - msk) * image
    ours = np.fromfile(f'{D}/blend.bin', np.float32).reshape(H, W, 3)
    out['blend'] = float(np.abs(ours - aug).max())
    json.dump(out, open(f'{D}/out.json', 'w'))
