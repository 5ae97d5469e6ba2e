// The pruned exact kNN search returns what brute force returns: on structured (low-rank) features
// where the PCA bound prunes, and on unstructured ones where it falls back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../../src/torch/index.js';
import { KnnIndex, knnDistances } from '../../../src/methods/patchcore/index.js';

// Both sides evaluate |q|² + |b|² − 2q·b in float32, so they agree to rounding of the norms'
// magnitude (that is all a distance near 0 has), and to 1e-4 relative otherwise.
function maxRelErr(a: torch.Tensor, b: torch.Tensor, normScale: number): number {
  return torch.tidy(() => a.sub(b).abs().div(b.abs().add(1e-3 * normScale)).max().item());
}

test('pruned search equals brute force on low-rank features (and prunes)', () => {
  torch.manualSeed(3);
  torch.tidy(() => {
    const basis = torch.randn([12, 256]);
    const z = torch.randn([5000 + 300, 12]).mul(torch.linspace(3, 0.3, 12));
    const x = torch.mm(z, basis).add(torch.randn([5300, 256]).mul(0.2));
    const bank = x.narrow(0, 0, 5000).contiguous();
    // queries: near bank rows, far away, and exact duplicates of bank rows (distance 0)
    const q = torch.cat([x.narrow(0, 5000, 200), x.narrow(0, 5200, 100).mul(3), bank.narrow(0, 17, 5)]);
    const norms = bank.mul(bank).sum(1);
    const index = new KnnIndex(bank, norms, { pcaDim: 16 });
    for (const k of [1, 4]) {
      const ref = knnDistances(q, bank, { k, bankNorms: norms });
      const got = index.search(q, k);
      assert.deepEqual(got.shape, [305, k]);
      const scale = q.mul(q).sum(1).max().item();
      const err = maxRelErr(got, ref, scale);
      assert.ok(err < 1e-4, `k=${k}: rel err ${err}`);
    }
    assert.ok(index.stats.pruned > 0.8 * (index.stats.pruned + index.stats.fallback), JSON.stringify(index.stats));
    index.dispose();
  });
});

test('pruned search stays exact when the bound cannot prune (falls back to brute force)', () => {
  torch.manualSeed(4);
  torch.tidy(() => {
    const bank = torch.randn([3000, 128]);
    const q = torch.randn([100, 128]);
    const norms = bank.mul(bank).sum(1);
    const index = new KnnIndex(bank, norms, { pcaDim: 8 });
    const ref = knnDistances(q, bank, { k: 2, bankNorms: norms });
    assert.ok(maxRelErr(index.search(q, 2), ref, q.mul(q).sum(1).max().item()) < 1e-4);
    assert.ok(index.stats.fallback > 0, 'isotropic noise defeats the bound');
    assert.throws(() => index.search(q, 0), /knn\.k/);
    index.dispose();
  });
});
