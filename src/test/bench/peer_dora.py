#!/usr/bin/python3
"""Peer baseline for DoRA, in the style of peer_lora.py: PEFT's merge math for a DoRA linear layer,
W' = m / ||W + s*B@A||_row * (W + s*B@A), s = alpha / r, the norm taken over each output row as in
peft.tuners.lora.dora.DoraLinearLayer.get_weight_norm, computed in float32 and cast back.
usage: peer_dora.py BASE ADAPTER_DIR OUT"""
import json, os, sys
import torch
from peer_lora import open_st, tensor, write_header


def dora(bp, ad, out):
    base = open_st(bp); ada = open_st(os.path.join(ad, "adapter_model.safetensors"))
    cfg = json.load(open(os.path.join(ad, "adapter_config.json")))
    scale = cfg["lora_alpha"] / cfg["r"]
    names = sorted(k for k in base[2] if k != "__metadata__")
    with open(out, "wb") as f:
        write_header(f, base[2], names)
        for k in names:
            w = tensor(base, k)
            module = "base_model.model." + k[:-len(".weight")]
            if module + ".lora_A.weight" in ada[2]:
                a = tensor(ada, module + ".lora_A.weight").float(); b = tensor(ada, module + ".lora_B.weight").float()
                m = tensor(ada, module + ".lora_magnitude_vector").float()
                merged = w.float() + (b @ a) * scale
                w = (merged * (m / torch.linalg.norm(merged, dim=1)).view(-1, 1)).to(w.dtype)
            f.write(w.contiguous().numpy().tobytes() if w.dtype != torch.bfloat16 else w.contiguous().view(torch.int16).numpy().tobytes())


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count())
    dora(*sys.argv[1:])
