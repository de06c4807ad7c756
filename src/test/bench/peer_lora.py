#!/usr/bin/python3
"""Peer baselines a Python user would script, tensor by tensor from memory maps, output to a file.
usage: peer_lora.py lora BASE ADAPTER_DIR OUT      PEFT merge_and_unload math: W + (alpha/r) * B @ A,
                                                    computed in float32 and cast back (bf16 or f32)
       peer_lora.py ties BASE DIFF1,DIFF2,DIFF3 W1,W2,W3 DENSITY OUT
                                                    peft.utils.merge_utils.ties (magnitude top-k per
                                                    task, total sign election, disjoint mean) in torch"""
import json, mmap, os, struct, sys
import torch

DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def open_st(p):
    f = open(p, "rb"); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = struct.unpack("<Q", m[:8])[0]; h = json.loads(m[8:8 + n])
    return m, n, h


def tensor(st, k):
    m, n, h = st; v = h[k]; b, e = v["data_offsets"]
    # element_size() rather than dtype.itemsize, which torch has only from 2.1 (Debian 12 ships 1.13)
    t = torch.frombuffer(m, dtype=DT[v["dtype"]], count=(e - b) // torch.empty(0, dtype=DT[v["dtype"]]).element_size(), offset=8 + n + b)
    return t.reshape(v["shape"])


def write_header(f, h, names):
    hdr, off = {}, 0
    for k in names:
        b, e = h[k]["data_offsets"]; hdr[k] = {"dtype": h[k]["dtype"], "shape": h[k]["shape"], "data_offsets": [off, off + e - b]}; off += e - b
    hj = json.dumps(hdr).encode(); hj += b" " * ((8 - len(hj) % 8) % 8)
    f.write(struct.pack("<Q", len(hj))); f.write(hj)


def lora(bp, ad, out):
    base = open_st(bp); ada = open_st(os.path.join(ad, "adapter_model.safetensors"))
    cfg = json.load(open(os.path.join(ad, "adapter_config.json")))
    scale = cfg["lora_alpha"] / cfg["r"]
    names = sorted(k for k in base[2] if k != "__metadata__")
    with open(out, "wb") as f:
        write_header(f, base[2], names)
        for k in names:
            w = tensor(base, k)
            a_key = "base_model.model." + k[:-len(".weight")] + ".lora_A.weight"
            if a_key in ada[2]:
                a = tensor(ada, a_key).float(); b = tensor(ada, a_key.replace("lora_A", "lora_B")).float()
                w = (w.float() + (b @ a) * scale).to(w.dtype)
            f.write(w.contiguous().numpy().tobytes() if w.dtype != torch.bfloat16 else w.contiguous().view(torch.int16).numpy().tobytes())


def ties(bp, diffs, weights, density, out):
    base = open_st(bp); ds = [open_st(p) for p in diffs.split(",")]; ws = torch.tensor([float(x) for x in weights.split(",")])
    density = float(density)
    names = sorted(k for k in base[2] if k != "__metadata__")
    with open(out, "wb") as f:
        write_header(f, base[2], names)
        for k in names:
            w = tensor(base, k).float()
            tv = torch.stack([tensor(d, k).float() for d in ds])
            flat = tv.reshape(len(ds), -1)
            kk = int(density * flat.shape[1])
            # magnitude top-k per task (peft prune "magnitude": keep the k largest |x|)
            thr = flat.abs().kthvalue(flat.shape[1] - kk + 1, dim=1, keepdim=True).values
            mask = flat.abs() >= thr
            tv = (flat * mask).reshape(tv.shape)
            wt = tv * ws.view(-1, *([1] * (tv.dim() - 1)))
            sign = torch.sign(wt.sum(dim=0)); sign[sign == 0] = 1  # "total" election as in peft
            agree = (torch.sign(tv) == sign)
            merged = (wt * agree).sum(0) / torch.clamp((agree.float() * (tv != 0)).sum(0), min=1)
            f.write((w + merged).numpy().tobytes())


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count())
    if sys.argv[1] == "lora":
        lora(*sys.argv[2:])
    else:
        ties(*sys.argv[2:])
