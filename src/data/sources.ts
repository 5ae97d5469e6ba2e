/**
 * Official download locations of the benchmark datasets, with checksums only where a public
 * source states them (each entry says which). Nothing here runs at import time.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import { download, type DownloadProgress } from './download.js';
import { extractArchive } from './extract.js';

export interface SourceFile {
  readonly filename: string;
  /** Mirrors, tried in order. */
  readonly urls: readonly string[];
  readonly md5?: string;
  readonly sha256?: string;
  /** Unpack after download (archives). IDX .gz files stay packed: the IDX reader reads gzip. */
  readonly extract: boolean;
}

export interface DatasetSource {
  readonly title: string;
  readonly homepage: string;
  readonly license: string;
  /** Where the checksums come from. */
  readonly checksumSource: string;
  /** What the destination folder holds after {@link fetchDataset}, i.e. what to pass as `root`. */
  readonly layout: string;
  readonly files: readonly SourceFile[];
}

export type DatasetSourceId = 'mvtec-ad' | 'cifar10-binary' | 'cifar10-python' | 'mnist' | 'fashion-mnist' | 'dtd';

const MNIST_MIRRORS = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'];
const FASHION_MIRRORS = ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'];

const idx = (mirrors: string[], name: string, md5: string): SourceFile => ({
  filename: name,
  urls: mirrors.map((m) => m + name),
  md5,
  extract: false,
});

export const DATASET_SOURCES: Readonly<Record<DatasetSourceId, DatasetSource>> = {
  'mvtec-ad': {
    title: 'MVTec AD',
    homepage: 'https://www.mvtec.com/company/research/datasets/mvtec-ad',
    license: 'CC BY-NC-SA 4.0 (non-commercial use only)',
    checksumSource: "URL and SHA-256 from anomalib's MVTecAD datamodule (src/anomalib/data/datamodules/image/mvtecad.py, DOWNLOAD_INFO)",
    layout: '<dest>/<category>/{train,test,ground_truth}/… for the 15 categories (pass <dest> as the MVTec root)',
    files: [
      {
        filename: 'mvtec_anomaly_detection.tar.xz',
        urls: ['https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f283/download/420938113-1629960298/mvtec_anomaly_detection.tar.xz'],
        sha256: 'cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d',
        extract: true,
      },
    ],
  },
  dtd: {
    title: 'Describable Textures Dataset (DTD) r1.0.1, the anomaly source of DRAEM',
    homepage: 'https://www.robots.ox.ac.uk/~vgg/data/dtd/',
    license: 'research use only (images collected from Flickr; see the dataset page); cite Cimpoi et al. (CVPR 2014)',
    checksumSource:
      "SHA-256 from torchvision's prototype datasets (prototype/datasets/_builtin/dtd.py) and anomalib's DRAEM (DTD_DOWNLOAD_INFO); MD5 from torchvision 0.14 datasets/dtd.py (_MD5). The VGG page states none. About 625 MB",
    layout: '<dest>/dtd/images/<category>/*.jpg (47 categories, 5,640 images), plus dtd/labels and dtd/imdb; give <dest>/dtd/images to DRAEM as model.anomalySource',
    files: [
      {
        filename: 'dtd-r1.0.1.tar.gz',
        // The official address (what the authors' scripts/download_dataset.sh fetches); it redirects to the second.
        urls: ['https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz', 'https://thor.robots.ox.ac.uk/dtd/dtd-r1.0.1.tar.gz'],
        sha256: 'e42855a52a4950a3b59612834602aa253914755c95b0cff9ead6d07395f8e205',
        md5: 'fff73e5086ae6bdbea199a49dfb8a4c1',
        extract: true,
      },
    ],
  },
  'cifar10-binary': {
    title: 'CIFAR-10, binary version',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: 'no explicit license; cite Krizhevsky (2009)',
    checksumSource: 'MD5 from the dataset page https://www.cs.toronto.edu/~kriz/cifar.html',
    layout: '<dest>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin (pass <dest> as root)',
    files: [{ filename: 'cifar-10-binary.tar.gz', urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], md5: 'c32a1d4ab5d03f1284b67883e8d87530', extract: true }],
  },
  'cifar10-python': {
    title: 'CIFAR-10, python version',
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: 'no explicit license; cite Krizhevsky (2009)',
    checksumSource: "MD5 from torchvision 0.14 datasets/cifar.py (tgz_md5), same as the dataset page",
    layout: '<dest>/cifar-10-batches-py/{data_batch_1..5,test_batch} (pass <dest> as root)',
    files: [{ filename: 'cifar-10-python.tar.gz', urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'], md5: 'c58f30108f718f92721af3b95e74349a', extract: true }],
  },
  mnist: {
    title: 'MNIST',
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    license: 'CC BY-SA 3.0 (as stated by torchvision/TFDS); cite LeCun et al.',
    checksumSource: 'MD5s and mirrors from torchvision 0.14 datasets/mnist.py (MNIST.resources / mirrors)',
    layout: '<dest>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (pass <dest> as root)',
    files: [
      idx(MNIST_MIRRORS, 'train-images-idx3-ubyte.gz', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'),
      idx(MNIST_MIRRORS, 'train-labels-idx1-ubyte.gz', 'd53e105ee54ea40749a09fcbcd1e9432'),
      idx(MNIST_MIRRORS, 't10k-images-idx3-ubyte.gz', '9fb629c4189551a2d022fa330f9573f3'),
      idx(MNIST_MIRRORS, 't10k-labels-idx1-ubyte.gz', 'ec29112dd5afa0611ce80d1b7f02629c'),
    ],
  },
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT',
    checksumSource:
      "MD5s and mirror from torchvision 0.14 datasets/mnist.py (FashionMNIST.resources). Debian's dataset-fashion-mnist package ships re-compressed .gz files whose MD5s differ; only downloads are checked.",
    layout: '<dest>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (pass <dest> as root)',
    files: [
      idx(FASHION_MIRRORS, 'train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'),
      idx(FASHION_MIRRORS, 'train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe'),
      idx(FASHION_MIRRORS, 't10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'),
      idx(FASHION_MIRRORS, 't10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310'),
    ],
  },
};

export interface FetchOptions {
  onProgress?: (file: string, progress: DownloadProgress) => void;
  /** Unpack archives after download. Default true. */
  extract?: boolean;
  /** Replaces the registry (tests, private mirrors). */
  sources?: Readonly<Record<string, DatasetSource>>;
}

/**
 * Downloads (resuming, checksum-verified) and unpacks one dataset into `dest`, trying each
 * file's mirrors in order. Re-running is cheap: verified files and finished extractions are kept
 * (a `.<archive>.extracted` marker records the latter). Returns `dest`, the folder to use as root.
 */
export async function fetchDataset(id: DatasetSourceId | string, dest: string, options: FetchOptions = {}): Promise<string> {
  const sources: Readonly<Record<string, DatasetSource>> = options.sources ?? DATASET_SOURCES;
  const source = Object.hasOwn(sources, id) ? sources[id] : undefined;
  if (source === undefined) {
    throw new DatasetError('bad-option', `unknown dataset '${id}'; known: ${Object.keys(sources).join(', ')}`);
  }
  await mkdir(dest, { recursive: true });
  for (const file of source.files) {
    const path = join(dest, file.filename);
    const failures: string[] = [];
    let done = false;
    for (const url of file.urls) {
      try {
        await download(url, path, {
          ...(file.md5 !== undefined ? { md5: file.md5 } : {}),
          ...(file.sha256 !== undefined ? { sha256: file.sha256 } : {}),
          onProgress: (p) => options.onProgress?.(file.filename, p),
        });
        done = true;
        break;
      } catch (e) {
        // A file already on disk with the wrong checksum is the user's to resolve, not a mirror problem.
        if (e instanceof DatasetError && e.code === 'checksum' && e.message.includes('already exists')) throw e;
        failures.push(`${url}: ${(e as Error).message}`);
      }
    }
    if (!done) {
      throw new DatasetError('download', `${source.title}: could not download ${file.filename} from any mirror:\n  ${failures.join('\n  ')}`, path);
    }
    if (file.extract && (options.extract ?? true)) {
      const marker = join(dest, `.${file.filename}.extracted`);
      const already = await stat(marker).then(() => true, () => false);
      if (!already) {
        await extractArchive(path, dest);
        await writeFile(marker, new Date().toISOString());
      }
    }
  }
  return dest;
}
