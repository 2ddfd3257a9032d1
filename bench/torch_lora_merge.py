#!/usr/bin/python3
"""PEFT's LoRA merge in PyTorch on the CPU: the speed and exactness reference of bench/merge.mjs.

    /usr/bin/python3 bench/torch_lora_merge.py --base DIR --adapter DIR --out DIR \
        [--compare DIR] [--threads 2]

Does what `PeftModel.from_pretrained(base, adapter).merge_and_unload()` does to the weights, on the
tensors themselves (no transformers, no peft, no safetensors package: Debian ships none of them):
the adapter is loaded as float32 (PEFT's default `autocast_adapter_dtype=True` upcasts bf16/f16
adapters), `delta = (B @ A) * scaling` in float32 (LoraLayer.get_delta_weight), then
`weight.data += delta` in the weight's dtype. Every tensor of the base is written to --out in its
shard (fsync'd), so the time is a whole merge's: reading, folding, writing.

--compare DIR reads another merge of the same pair (`taia merge --recipe full`) and counts the
elements of each folded tensor that are bit-identical to PyTorch's. Prints one JSON object.
"""
import argparse
import json
import mmap
import os
import struct
import time
import warnings

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
INT_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def open_safetensors(path):
    """{name: tensor} viewing the file's bytes through mmap (nothing is read until used)."""
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8 : 8 + n])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the given buffer is not writable": it is only read
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = DTYPES[info["dtype"]]
            start, end = info["data_offsets"]
            count = (end - start) // torch.tensor([], dtype=dtype).element_size()
            t = torch.frombuffer(mm, dtype=dtype, count=count, offset=8 + n + start)
            out[name] = t.reshape(info["shape"])
    return out


def shards(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return ["model.safetensors"]
    with open(index) as f:
        return sorted(set(json.load(f)["weight_map"].values()))


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        size = t.numel() * t.element_size()
        dtype = next(k for k, v in DTYPES.items() if v == t.dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for t in tensors.values():
            f.write(t.contiguous().view(torch.uint8).numpy().tobytes())
        f.flush()
        os.fsync(f.fileno())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--compare")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.adapter, "adapter_config.json")) as f:
        config = json.load(f)
    if config.get("rank_pattern") or config.get("alpha_pattern") or config.get("fan_in_fan_out"):
        raise SystemExit("torch_lora_merge.py: rank/alpha patterns and fan_in_fan_out are not handled here")
    r, alpha = config["r"], config["lora_alpha"]
    scaling = alpha / (r**0.5) if config.get("use_rslora") else alpha / r
    lora = open_safetensors(os.path.join(a.adapter, "adapter_model.safetensors"))
    ours = {}
    if a.compare:
        for s in shards(a.compare):
            ours.update(open_safetensors(os.path.join(a.compare, s)))
    os.makedirs(a.out, exist_ok=True)
    started = time.perf_counter()
    compare_seconds, folded, elements, identical = 0.0, 0, 0, 0
    for s in shards(a.base):
        out = {}
        for name, w in open_safetensors(os.path.join(a.base, s)).items():
            module = name[: -len(".weight")] if name.endswith(".weight") else None
            key = f"base_model.model.{module}"
            if module and f"{key}.lora_A.weight" in lora:
                A = lora[f"{key}.lora_A.weight"].float()
                B = lora[f"{key}.lora_B.weight"].float()
                w = w.clone()
                w += (B @ A) * scaling
                folded += 1
                if a.compare:
                    t = time.perf_counter()
                    view = INT_VIEW[w.dtype]
                    elements += w.numel()
                    identical += int((w.view(view) == ours[name].view(view)).sum())
                    compare_seconds += time.perf_counter() - t
            out[name] = w
        write_safetensors(os.path.join(a.out, s), out)
    seconds = time.perf_counter() - started - compare_seconds
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": a.threads,
                "seconds": seconds,
                "folded": folded,
                "elements": elements,
                "identical": identical,
            }
        )
    )


if __name__ == "__main__":
    main()
