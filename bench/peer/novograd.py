"""The peer's training pieces: MONAI's Novograd and sigmoid Dice loss (SPEC section 5).

Written out here rather than imported from MONAI, which Debian does not package; the update rule
is MONAI's (monai/optimizers/novograd.py), per parameter tensor:

  n = sum(g^2)
  v = n                          while v is still zero (the first step)
  v = b2 * v + (1 - b2) * n      after
  d = g / (sqrt(v) + eps) + wd * theta
  d *= 1 - b1                    only with grad_averaging
  m = b1 * m + d
  theta -= lr * m                (no bias correction)
"""
import torch
from torch.optim import Optimizer


class Novograd(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0,
                 grad_averaging=False, amsgrad=False):
        if lr < 0:
            raise ValueError(f"invalid learning rate {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid betas {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError("eps and weight_decay must be >= 0")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        grad_averaging=grad_averaging, amsgrad=amsgrad)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.is_sparse:
                    raise RuntimeError("Novograd does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros([], dtype=torch.float32 if p.dtype != torch.float64 else p.dtype,
                                                      device=p.device)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = torch.zeros_like(state["exp_avg_sq"])
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                norm = g.to(v.dtype).pow(2).sum()
                # MONAI's test, "second moment still zero" (a host sync per tensor on a GPU, as in MONAI).
                if v == 0:
                    v.copy_(norm)
                else:
                    v.mul_(b2).add_(norm, alpha=1 - b2)
                if group["amsgrad"]:
                    vmax = state["max_exp_avg_sq"]
                    torch.maximum(vmax, v, out=vmax)
                    denom = vmax.sqrt().add_(group["eps"])
                else:
                    denom = v.sqrt().add_(group["eps"])
                d = g / denom
                if group["weight_decay"] != 0:
                    d.add_(p, alpha=group["weight_decay"])
                if group["grad_averaging"]:
                    d.mul_(1 - b1)
                m.mul_(b1).add_(d)
                p.add_(m, alpha=-group["lr"])
        return loss


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1e-5) -> torch.Tensor:
    """MONAI DiceLoss(sigmoid=True): 1 - (2 sum(p g) + s) / (sum p + sum g + s) per sample and
    channel, averaged. Sums run in float32 even under autocast."""
    p = torch.sigmoid(logits.float())
    g = target.float()
    dims = tuple(range(2, logits.dim()))
    inter = (p * g).sum(dims)
    denom = p.sum(dims) + g.sum(dims)
    return (1.0 - (2.0 * inter + smooth) / (denom + smooth)).mean()
