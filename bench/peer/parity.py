#!/usr/bin/env python3
"""The peer half of bench/parity.js: loads the addon's weights, input and results from a folder,
reruns them in PyTorch and prints how far apart the two sides are (one JSON line)."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from novograd import Novograd, dice_loss  # noqa: E402
from resunet import ResUNet3D  # noqa: E402


def main(folder: str) -> int:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    with open(os.path.join(folder, "manifest.json")) as f:
        man = json.load(f)

    def load(key):
        meta = man["tensors"][key]
        arr = np.fromfile(os.path.join(folder, meta["file"]), dtype=np.float32)
        return torch.from_numpy(arr.reshape(meta["shape"]))

    net = ResUNet3D()
    names = dict(net.named_parameters())
    w0 = {k[len("w0__"):]: load(k) for k in man["tensors"] if k.startswith("w0__")}
    missing = sorted(set(names) - set(w0))
    extra = sorted(set(w0) - set(names))
    if missing or extra:
        print(json.dumps({"check": "parity", "ok": False, "missing": missing, "unexpected": extra}))
        return 1
    net.load_state_dict(w0, strict=True)
    x, label = load("x"), load("label")

    net.eval()
    with torch.inference_mode():
        y = net(x)
    y_ref = load("y")
    fwd_diff = (y - y_ref).abs().max().item()
    fwd_scale = y_ref.abs().max().item()

    net.train()
    opt = Novograd(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(man["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = dice_loss(net(x), label)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    loss_diff = max(abs(a - b) for a, b in zip(losses, man["losses"]))
    w_diff = 0.0
    w_scale = 0.0
    for name, p in net.named_parameters():
        ref = load("w1__" + name)
        w_diff = max(w_diff, (p.detach() - ref).abs().max().item())
        w_scale = max(w_scale, ref.abs().max().item())
    ok = fwd_diff <= 1e-3 * max(1.0, fwd_scale) and loss_diff <= 1e-4 and w_diff <= 1e-3 * max(1.0, w_scale)
    print(json.dumps({
        "check": "parity",
        "ok": bool(ok),
        "size": man["size"],
        "steps": man["steps"],
        "tensors": len(names),
        "forward_max_abs_diff": fwd_diff,
        "forward_max_abs": fwd_scale,
        "losses_liverseg": [round(v, 6) for v in man["losses"]],
        "losses_peer": [round(v, 6) for v in losses],
        "loss_abs_diff": loss_diff,
        "weights_after_max_abs_diff": w_diff,
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
