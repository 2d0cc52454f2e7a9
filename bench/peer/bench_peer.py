#!/usr/bin/env python3
"""One benchmark case of the PyTorch peer, in its own process; prints one JSON line.

  python3 bench/peer/bench_peer.py --case forward --size 128 --threads 2 --repeats 3 --warmup 1

Cases:
  forward  inference of the ResUNet on a [batch, 1, size, size, size] volume, in
           torch.inference_mode() (eval mode);
  train    one training step: forward, sigmoid Dice loss, backward, optimizer step
           (Novograd as MONAI's, or torch.optim.Adam with --optimizer adam);
  nifti    nibabel.load of --path and np.asarray(img.dataobj, dtype=np.float32).

The printed object: {side, case, size, batch, device, amp, times_s, median_s, min_s, max_s,
peak_rss_mib, base_rss_mib, peak_gpu_mib, ...}. peak_rss_mib is this process's ru_maxrss (so it
includes the interpreter and torch); base_rss_mib is the resident size just before the first timed
or warm-up run, so peak - base is what the case itself added.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", required=True, choices=["forward", "train", "nifti"])
    ap.add_argument("--size", type=int, default=128, help="edge of the cubic input (forward, train)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--amp", default="off", choices=["off", "bf16", "fp16"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: leave PyTorch's default)")
    ap.add_argument("--optimizer", default="novograd", choices=["novograd", "adam"])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--channels", default="16,32,64,128,256")
    ap.add_argument("--block", default="residual", choices=["residual", "plain"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--path", help="NIfTI file for --case nifti")
    ap.add_argument("--tag", default="", help="free text copied to the output")
    return ap.parse_args(argv)


def sphere_label(torch, size: int, batch: int):
    """A centred ball of radius size/4: a binary liver stand-in, the same on both sides."""
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2.0
    d2 = r.view(-1, 1, 1) ** 2 + r.view(1, -1, 1) ** 2 + r.view(1, 1, -1) ** 2
    ball = (d2 <= (size / 4.0) ** 2).float()
    return ball.expand(batch, 1, size, size, size).contiguous()


def main(argv=None) -> int:
    a = parse_args(argv)
    result = {
        "side": "peer",
        "case": a.case,
        "size": a.size if a.case != "nifti" else None,
        "batch": a.batch,
        "device": a.device,
        "amp": a.amp,
        "threads": a.threads or None,
        "tag": a.tag or None,
    }

    if a.case == "nifti":
        import numpy as np
        import nibabel as nib

        if not a.path:
            raise SystemExit("--case nifti needs --path")
        result.update({"nibabel": nib.__version__, "numpy": np.__version__, "path": a.path})

        def run_once():
            img = nib.load(a.path)
            arr = np.asarray(img.dataobj, dtype=np.float32)
            return arr.shape

        sync = lambda: None  # noqa: E731
        step = run_once
        peak_gpu = lambda: None  # noqa: E731
    else:
        import torch

        from novograd import Novograd, dice_loss
        from resunet import ResUNet3D, parameter_count

        if a.threads > 0:
            torch.set_num_threads(a.threads)
        dev = torch.device(a.device)
        torch.manual_seed(a.seed)
        channels = [int(c) for c in a.channels.split(",")]
        net = ResUNet3D(1, 1, channels, a.block).to(dev)
        result.update({
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "params": parameter_count(net),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
        })
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
        g = torch.Generator().manual_seed(a.seed + 1)
        x = torch.randn(a.batch, 1, a.size, a.size, a.size, generator=g).to(dev)

        def autocast():
            return torch.autocast(device_type=dev.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)

        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
            sync = lambda: torch.cuda.synchronize(dev)  # noqa: E731
            torch.cuda.reset_peak_memory_stats(dev)
            peak_gpu = lambda: torch.cuda.max_memory_allocated(dev) / 2**20  # noqa: E731
            result["gpu"] = torch.cuda.get_device_name(dev)
        else:
            sync = lambda: None  # noqa: E731
            peak_gpu = lambda: None  # noqa: E731

        if a.case == "forward":
            net.eval()

            def step():
                with torch.inference_mode(), autocast():
                    y = net(x)
                sync()
                return tuple(y.shape)
        else:
            net.train()
            result["optimizer"] = a.optimizer
            y_true = sphere_label(torch, a.size, a.batch).to(dev)
            if a.optimizer == "adam":
                opt = torch.optim.Adam(net.parameters(), lr=a.lr)
            else:
                opt = Novograd(net.parameters(), lr=a.lr)
            scaler = torch.cuda.amp.GradScaler() if (amp_dtype == torch.float16 and dev.type == "cuda") else None
            losses = []

            def step():
                opt.zero_grad(set_to_none=True)
                with autocast():
                    logits = net(x)
                loss = dice_loss(logits, y_true)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                losses.append(loss.item())  # a host sync, as the addon's trainStep returns the loss
                sync()
                return None

            result["losses"] = losses

    result["base_rss_mib"] = round(rss_mib(), 1)
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
    if out is not None:
        result["output_shape"] = list(out)
    if "losses" in result:
        result["losses"] = [round(v, 6) for v in result["losses"]]
    result.update({
        "times_s": [round(t, 4) for t in times],
        "median_s": round(statistics.median(times), 4) if times else None,
        "min_s": round(min(times), 4) if times else None,
        "max_s": round(max(times), 4) if times else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_gpu_mib": (round(peak_gpu(), 1) if peak_gpu() is not None else None),
    })
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
