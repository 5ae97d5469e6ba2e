# Reference side of state.test.ts. The same small ResNet-style network as the TS side:
#  1. loads the TS model's .pth (written by our savePth) strictly and runs it in eval mode;
#  2. reports its key order and named parameters/buffers/modules;
#  3. trains its own copy two steps (BN statistics and weights move), saves it with torch.save
#     for the TS side to load, and records its eval-mode output.
import json, sys
import torch
import torch.nn as nn

DIR = sys.argv[1]
torch.set_num_threads(1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
        self.gn = nn.GroupNorm(4, 16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        y = self.layer1(self.relu(self.bn1(self.conv1(x))))
        return self.fc(self.pool(self.gn(y)).flatten(1))


inp = torch.load(f'{DIR}/in.pth', weights_only=True)
x = inp['x']
out = {}

m = Net()
res = m.load_state_dict(torch.load(f'{DIR}/ts_model.pth', weights_only=True))
m.eval()
with torch.no_grad():
    out['ts_eval_y'] = m(x)

info = {
    'keys': list(m.state_dict().keys()),
    'params': [n for n, _ in m.named_parameters()],
    'buffers': [n for n, _ in m.named_buffers()],
    'modules': [n for n, _ in m.named_modules()],
    'missing': res.missing_keys, 'unexpected': res.unexpected_keys,
}

torch.manual_seed(5)
p = Net()
opt = torch.optim.SGD(p.parameters(), lr=0.1, momentum=0.9)
p.train()
for s in range(2):
    opt.zero_grad()
    p(x * (s + 1)).pow(2).mean().backward()
    opt.step()
torch.save(p.state_dict(), f'{DIR}/py_model.pth')
p.eval()
with torch.no_grad():
    out['py_eval_y'] = p(x)

torch.save(out, f'{DIR}/out.pth')
json.dump(info, open(f'{DIR}/out.json', 'w'))
