#!/usr/bin/python3
"""PyTorch CPU reference trainer for the TAIA Lab benchmark (bench/train.mjs).

Trains a Hugging Face Llama / Qwen2 checkpoint with plain PyTorch (no
transformers, no safetensors package) so the TF.js engine can be compared with
it on the same shapes, the same initial weights and the same batches.

Run it with Debian's interpreter (/usr/bin/python3): a pyenv python3 earlier on
PATH does not see the python3-torch package. bench/setup-torch.sh installs it.

    /usr/bin/python3 bench/torch_llama.py --model DIR --batches FILE \
        --steps 30 --lr 1e-3 --threads 2 --warmup 3
    /usr/bin/python3 bench/torch_llama.py --selftest

--model DIR
    config.json plus model.safetensors (or model.safetensors.index.json with
    shards). Tensors use the Hugging Face names and layouts (linear weights are
    [out, in]); F32, BF16 and F16 are read and trained in float32.

--batches FILE, JSON form:
    {
      "batch_size": B,
      "seq_len": T,
      "steps": [
        {"input_ids": [[int] * T] * B, "labels": [[int] * T] * B},
        ...
      ]
    }
    labels are ALREADY SHIFTED: labels[b][t] is the target predicted at
    position t (normally input_ids[b][t + 1]); -100 marks positions that are not
    trained (prompt, padding, the last position). Padding must be on the right:
    there is no attention mask, causal attention keeps right padding from
    influencing earlier positions, and positions are 0..T-1 in every row.

--batches FILE, binary form (detected by the magic bytes), all little-endian:
    offset 0   8 bytes  b"TAIABT01"
    offset 8   u32      batch_size B
    offset 12  u32      seq_len T
    offset 16  u32      number of steps S
    offset 20  u32      reserved, 0
    offset 24  S records, each: i32 input_ids[B*T] then i32 labels[B*T]
               (row-major, row b at [b*T, (b+1)*T))

Training step i uses batch i % S, so --steps may exceed the number of batches.

Semantics the TF.js side has to match:
  * loss = mean cross-entropy over positions whose label != -100 (over the
    whole batch, not averaged per row); "losses"[i] is the loss of step i's
    forward pass, i.e. BEFORE that step's update.
  * gradients clipped by global L2 norm over all parameters
    (--max-grad-norm, <= 0 disables), then torch.optim.AdamW at a constant lr.
    Weight decay is decoupled and applies to every parameter (embeddings and
    norm weights included) unless --no-decay-1d excludes 1-D tensors (norm
    weights and biases), as the Hugging Face Trainer does.
  * tied embeddings (tie_word_embeddings) share one parameter, so the
    embedding receives the gradient of both uses.

Output: one JSON object on stdout
    {"losses": [...], "step_seconds": [...],
     "tokens_per_second": median over steps >= --warmup of B*T/step_seconds,
     "best_tokens_per_second": B*T / fastest such step,
     "threads": n, "torch": "...", "blas": "OpenBLAS config (path, threads)",
     "batch_size", "seq_len", "steps", "warmup", "parameters",
     "omp_wait_policy", "openblas_coretype"}
A step's time covers zero_grad, forward, backward, clipping and the
optimizer update. Everything else goes to stderr; exit status 2 on bad input.

Environment set before torch is imported (unless already set):
OMP_WAIT_POLICY=PASSIVE, OPENBLAS_NUM_THREADS=--threads, and
OPENBLAS_CORETYPE when OpenBLAS does not recognise the CPU (see below).
"""

import argparse
import json
import math
import os
import struct
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="Hugging Face Llama/Qwen2 folder")
    p.add_argument("--batches", help="batches file (JSON or TAIABT01 binary, see the header)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: number of batches)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--betas", type=float, nargs=2, default=(0.9, 0.999), metavar=("B1", "B2"),
                   help="also accepts one comma-separated value, e.g. 0.9,0.95")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="<= 0 disables clipping")
    p.add_argument("--no-decay-1d", action="store_true",
                   help="no weight decay on 1-D parameters (norm weights, biases)")
    p.add_argument("--threads", type=int, default=None, help="torch/OpenBLAS threads (default: usable cores)")
    p.add_argument("--warmup", type=int, default=3, help="leading steps left out of tokens_per_second")
    p.add_argument("--selftest", action="store_true", help="check the model against naive loops and exit")
    # "--betas 0.9,0.95" is friendlier from JavaScript than two separate words.
    argv = list(argv)
    for i, a in enumerate(argv):
        if a == "--betas" and i + 1 < len(argv) and "," in argv[i + 1]:
            argv[i + 1:i + 2] = argv[i + 1].split(",", 1)
        elif a.startswith("--betas=") and "," in a:
            argv[i:i + 1] = ["--betas"] + a[len("--betas="):].split(",", 1)
    args = p.parse_args(argv)
    if not args.selftest and (not args.model or not args.batches):
        p.error("--model and --batches are required (or --selftest)")
    return args


ARGS = parse_args(sys.argv[1:])
THREADS = ARGS.threads or len(os.sched_getaffinity(0))

# These are read once when libgomp / OpenBLAS are loaded, so they must be set
# before numpy or torch is imported. Debian's torch links the generic
# libblas.so.3 (OpenBLAS pthreads here), which keeps its own thread pool next
# to OpenMP's; with the default ACTIVE wait policy idle OpenMP threads spin
# and steal the cores OpenBLAS needs (measured 1,700 vs 4,400 tokens/s on two
# cores). torch.set_num_threads does not reach a generic BLAS, hence
# OPENBLAS_NUM_THREADS. Values already in the environment win.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))


def _fix_openblas_coretype():
    """Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know CPUs newer than
    itself (e.g. Emerald Rapids, family 6 model 207) and silently falls back to
    its Prescott (SSE3) kernels: 4x slower GEMM (1,300 vs 5,100 tokens/s on the
    tiny benchmark model). OpenBLAS reads OPENBLAS_CORETYPE once at load, so
    probe the choice in a child process and, on that fallback, name the best
    kernel set the CPU flags allow. An explicit OPENBLAS_CORETYPE wins."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return None
    import subprocess
    probe = ("import ctypes\n"
             "f = ctypes.CDLL('libblas.so.3').openblas_get_corename\n"
             "f.restype = ctypes.c_char_p\n"
             "print(f().decode())\n")
    try:
        core = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}).stdout.strip()
        with open("/proc/cpuinfo") as f:
            flags = set(next((l for l in f if l.startswith("flags")), "").split())
    except (OSError, subprocess.SubprocessError):
        return None  # not OpenBLAS, or no /proc: nothing to fix
    if core.lower() != "prescott":
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"} <= flags:
        pick = "Cooperlake"  # what 0.3.21 uses for Sapphire Rapids as well
    elif {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags:
        pick = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        pick = "Haswell"
    elif "avx" in flags:
        pick = "Sandybridge"
    else:
        return None
    os.environ["OPENBLAS_CORETYPE"] = pick
    return f"OpenBLAS fell back to Prescott kernels on this CPU; OPENBLAS_CORETYPE={pick} set"


_CORETYPE_NOTE = _fix_openblas_coretype()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

_ST_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "F64": ("<f8", 8)}


def read_safetensors(path):
    """Returns {name: float32 torch.Tensor}; skips nothing, converts everything."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > len(raw) - 8:
        raise ValueError(f"{path}: header length {hlen} exceeds the file")
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in _ST_DTYPES:
            raise ValueError(f"{path}: {name} has unsupported dtype {dtype}")
        np_dtype, size = _ST_DTYPES[dtype]
        shape = [int(s) for s in info["shape"]]
        start, end = (int(x) for x in info["data_offsets"])
        count = math.prod(shape)
        if end - start != count * size or base + end > len(raw):
            raise ValueError(f"{path}: {name} offsets {start}..{end} do not fit {dtype}{shape}")
        arr = np.frombuffer(raw, dtype=np_dtype, count=count, offset=base + start)
        if dtype == "BF16":
            # bfloat16 is the upper half of a float32.
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = arr.astype(np.float32)  # always copies, so the tensor is writable
        out[name] = torch.from_numpy(arr.reshape(shape))
    return out


def write_safetensors(path, tensors, dtype="F32"):
    """Minimal writer, used by --selftest only."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().numpy().astype(np.float32)
        if dtype == "BF16":
            b = (a.view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            b = a.astype(_ST_DTYPES[dtype][0]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_checkpoint(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    tensors = {}
    for s in shards:
        tensors.update(read_safetensors(os.path.join(model_dir, s)))
    return tensors


# ---------------------------------------------------------------------------
# Model: Hugging Face LlamaForCausalLM / Qwen2ForCausalLM math, float32
# ---------------------------------------------------------------------------

class Config:
    def __init__(self, d):
        self.model_type = d.get("model_type", "llama")
        self.hidden = d["hidden_size"]
        self.inter = d["intermediate_size"]
        self.layers = d["num_hidden_layers"]
        self.heads = d["num_attention_heads"]
        self.kv_heads = d.get("num_key_value_heads") or self.heads
        self.head_dim = d.get("head_dim") or self.hidden // self.heads
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        self.vocab = d["vocab_size"]
        self.tied = bool(d.get("tie_word_embeddings", False))
        # Qwen2 always has q/k/v biases; Llama only with attention_bias.
        self.qkv_bias = self.model_type == "qwen2" or bool(d.get("attention_bias", False))
        self.o_bias = self.model_type != "qwen2" and bool(d.get("attention_bias", False))
        self.mlp_bias = bool(d.get("mlp_bias", False))
        if self.model_type not in ("llama", "qwen2", "mistral"):
            log(f"warning: model_type {self.model_type!r} treated as llama")
        if self.heads % self.kv_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if d.get("use_sliding_window"):
            log("warning: use_sliding_window ignored (full causal attention)")


def rope_inv_freq(cfg):
    d = cfg.head_dim
    # Same float32 formula as transformers' default rope initialisation.
    inv = 1.0 / (cfg.theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    rs = cfg.rope_scaling
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / lo, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / hi) & ~(wavelen > old / lo)
        return torch.where(medium, smoothed, scaled)
    raise ValueError(f"rope_scaling type {kind!r} not supported")


def rope_cos_sin(cfg, seq_len):
    pos = torch.arange(seq_len, dtype=torch.float32)
    freqs = torch.outer(pos, rope_inv_freq(cfg))
    emb = torch.cat((freqs, freqs), dim=-1)  # HF layout: halves, not interleaved pairs
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def causal_attention(q, k, v, mask):
    """q [B,H,T,D], k/v [B,KV,T,D]; query head h reads kv head h // (H/KV)."""
    B, H, T, D = q.shape
    rep = H // k.shape[1]
    if rep > 1:
        k = k[:, :, None].expand(B, k.shape[1], rep, T, D).reshape(B, H, T, D)
        v = v[:, :, None].expand(B, v.shape[1], rep, T, D).reshape(B, H, T, D)
    scores = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(D)) + mask
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def _p(*shape):
    # Uninitialised: every parameter is overwritten from the checkpoint, and
    # nn.Linear's kaiming init would cost seconds on real models.
    return nn.Parameter(torch.empty(*shape))


class Linear(nn.Module):
    def __init__(self, n_in, n_out, bias):
        super().__init__()
        self.weight = _p(n_out, n_in)
        self.bias = _p(n_out) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class Norm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = _p(n)
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.q_proj = Linear(c.hidden, c.heads * c.head_dim, c.qkv_bias)
        self.k_proj = Linear(c.hidden, c.kv_heads * c.head_dim, c.qkv_bias)
        self.v_proj = Linear(c.hidden, c.kv_heads * c.head_dim, c.qkv_bias)
        self.o_proj = Linear(c.heads * c.head_dim, c.hidden, c.o_bias)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        c = self.c
        q = self.q_proj(x).view(B, T, c.heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        o = causal_attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, mask)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, c.heads * c.head_dim))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = Linear(c.hidden, c.inter, c.mlp_bias)
        self.up_proj = Linear(c.hidden, c.inter, c.mlp_bias)
        self.down_proj = Linear(c.inter, c.hidden, c.mlp_bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = Norm(c.hidden, c.eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = Norm(c.hidden, c.eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden, _weight=torch.empty(c.vocab, c.hidden))
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.layers))
        self.norm = Norm(c.hidden, c.eps)


class CausalLM(nn.Module):
    """Parameter names equal the Hugging Face state-dict names."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        self.lm_head = Linear(c.hidden, c.vocab, False)
        if c.tied:
            self.lm_head.weight = self.model.embed_tokens.weight
        self._rope = {}

    def _rope_and_mask(self, T):
        if T not in self._rope:
            cos, sin = rope_cos_sin(self.c, T)
            mask = torch.full((T, T), float("-inf")).triu(1)
            self._rope[T] = (cos, sin, mask)
        return self._rope[T]

    def forward(self, input_ids):
        cos, sin, mask = self._rope_and_mask(input_ids.shape[1])
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))

    def loss(self, input_ids, labels):
        logits = self(input_ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def load_hf(self, tensors):
        tensors = {k: v for k, v in tensors.items() if not k.endswith("rotary_emb.inv_freq")}
        if self.c.tied:
            tensors.pop("lm_head.weight", None)
            tensors["lm_head.weight"] = tensors.get("model.embed_tokens.weight")
        want = self.state_dict()
        missing = [k for k in want if tensors.get(k) is None]
        extra = [k for k in tensors if k not in want]
        if missing:
            raise ValueError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:4]}")
        if extra:
            log(f"warning: {len(extra)} unused checkpoint tensors, e.g. {extra[:4]}")
        for k, v in want.items():
            if tuple(tensors[k].shape) != tuple(v.shape):
                raise ValueError(f"{k}: checkpoint shape {list(tensors[k].shape)}, config gives {list(v.shape)}")
        self.load_state_dict({k: tensors[k] for k in want}, strict=True)


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = Config(json.load(f))
    model = CausalLM(cfg)
    model.load_hf(load_checkpoint(model_dir))
    return model


# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------

def load_batches(path, vocab):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] == b"TAIABT01":
        B, T, S, _ = struct.unpack("<4I", raw[8:24])
        n = B * T
        if len(raw) != 24 + S * 2 * n * 4:
            raise ValueError(f"{path}: size does not match {S} steps of {B}x{T}")
        a = np.frombuffer(raw, dtype="<i4", offset=24).reshape(S, 2, B, T).astype(np.int64)
        steps = [(torch.from_numpy(a[i, 0].copy()), torch.from_numpy(a[i, 1].copy())) for i in range(S)]
    else:
        d = json.loads(raw)
        B, T = d["batch_size"], d["seq_len"]
        steps = [(torch.tensor(s["input_ids"], dtype=torch.int64), torch.tensor(s["labels"], dtype=torch.int64))
                 for s in d["steps"]]
    if not steps:
        raise ValueError(f"{path}: no steps")
    for i, (x, y) in enumerate(steps):
        if tuple(x.shape) != (B, T) or tuple(y.shape) != (B, T):
            raise ValueError(f"{path}: step {i} is not {B}x{T}")
        if x.min() < 0 or x.max() >= vocab:
            raise ValueError(f"{path}: step {i} input_ids outside [0, {vocab})")
        trained = y != -100
        if not trained.any():
            raise ValueError(f"{path}: step {i} has no label other than -100")
        if y[trained].min() < 0 or y[trained].max() >= vocab:
            raise ValueError(f"{path}: step {i} labels outside [0, {vocab}) and not -100")
    return B, T, steps


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def blas_info():
    """Which BLAS is actually loaded: Debian builds torch with BLAS_INFO=generic,
    so torch.__config__ cannot say; the process maps are authoritative."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(path)
            if any(s in base for s in ("blas", "lapack", "blis", "mkl_rt", "libatlas")):
                libs.add(path)
    for path in sorted(libs):
        if "libopenblas" in os.path.basename(path):
            try:
                import ctypes
                lib = ctypes.CDLL(path)
                lib.openblas_get_config.restype = ctypes.c_char_p
                return (f"{lib.openblas_get_config().decode()} ({path}, "
                        f"{lib.openblas_get_num_threads()} threads)")
            except (OSError, AttributeError):
                return path
    return ", ".join(sorted(libs)) or "unknown"


def train(args):
    torch.set_num_threads(THREADS)
    if _CORETYPE_NOTE:
        log(_CORETYPE_NOTE)
    t0 = time.perf_counter()
    model = load_model(args.model)
    c = model.c
    B, T, batches = load_batches(args.batches, c.vocab)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {c.model_type}: {n_params / 1e6:.2f}M params, hidden {c.hidden}, layers {c.layers}, "
        f"heads {c.heads}/{c.kv_heads}, vocab {c.vocab}, tied {c.tied}; loaded in {time.perf_counter() - t0:.2f}s")
    steps = args.steps if args.steps is not None else len(batches)

    params = list(model.parameters())  # deduplicated, so a tied weight appears once
    if args.no_decay_1d:
        groups = [{"params": [p for p in params if p.dim() > 1]},
                  {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
    else:
        groups = params
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=tuple(args.betas), eps=args.eps,
                            weight_decay=args.weight_decay)

    losses, secs = [], []
    for i in range(steps):
        x, y = batches[i % len(batches)]
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, y)
        loss.backward()
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
        opt.step()
        lv = loss.item()
        secs.append(time.perf_counter() - t)
        losses.append(lv)
        log(f"step {i}: loss {lv:.4f}  {secs[-1] * 1000:.0f} ms  {B * T / secs[-1]:.0f} tok/s")

    timed = secs[args.warmup:] if steps > args.warmup else secs
    if steps <= args.warmup:
        log(f"warning: --warmup {args.warmup} >= --steps {steps}; timing all steps")
    rates = sorted(B * T / s for s in timed)
    mid = len(rates) // 2
    median = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2
    return {
        "losses": losses,
        "step_seconds": secs,
        "tokens_per_second": median,
        # Best step: less sensitive to other load on a shared machine.
        "best_tokens_per_second": B * T / min(timed),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "blas": blas_info(),
        "batch_size": B,
        "seq_len": T,
        "steps": steps,
        "warmup": args.warmup,
        "parameters": n_params,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


# ---------------------------------------------------------------------------
# Self-test: the vectorised model against straightforward loops
# ---------------------------------------------------------------------------

def _naive_rms(v, w, eps):
    ms = sum(float(a) ** 2 for a in v) / len(v)
    return torch.tensor([float(a) / math.sqrt(ms + eps) * float(g) for a, g in zip(v, w)])


def _naive_rope(v, pos, theta):
    # Written as explicit 2-D rotations of the pairs (i, i + D/2).
    D = len(v)
    out = [0.0] * D
    for i in range(D // 2):
        ang = pos * theta ** (-2 * i / D)
        a, b = float(v[i]), float(v[i + D // 2])
        out[i] = a * math.cos(ang) - b * math.sin(ang)
        out[i + D // 2] = b * math.cos(ang) + a * math.sin(ang)
    return torch.tensor(out)


def _naive_attention(q, k, v):
    """q [H,T,D], k/v [KV,T,D] (one sequence), explicit causal loops."""
    H, T, D = q.shape
    rep = H // k.shape[0]
    out = torch.zeros(H, T, D)
    for h in range(H):
        g = h // rep
        for t in range(T):
            s = [float(q[h, t] @ k[g, u]) / math.sqrt(D) for u in range(t + 1)]
            m = max(s)
            e = [math.exp(x - m) for x in s]
            z = sum(e)
            out[h, t] = sum((e[u] / z) * v[g, u] for u in range(t + 1))
    return out


def _naive_loss(model, ids, labels):
    c = model.c
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    B, T = ids.shape
    total, count = 0.0, 0
    for b in range(B):
        x = sd["model.embed_tokens.weight"][ids[b]].clone()
        for li in range(c.layers):
            p = f"model.layers.{li}."

            def lin(name, inp):
                y = inp @ sd[p + name + ".weight"].T
                return y + sd[p + name + ".bias"] if p + name + ".bias" in sd else y

            h = torch.stack([_naive_rms(x[t], sd[p + "input_layernorm.weight"], c.eps) for t in range(T)])
            q = lin("self_attn.q_proj", h).view(T, c.heads, c.head_dim)
            k = lin("self_attn.k_proj", h).view(T, c.kv_heads, c.head_dim)
            v = lin("self_attn.v_proj", h).view(T, c.kv_heads, c.head_dim)
            q = torch.stack([torch.stack([_naive_rope(q[t, i], t, c.theta) for t in range(T)]) for i in range(c.heads)])
            k = torch.stack([torch.stack([_naive_rope(k[t, i], t, c.theta) for t in range(T)]) for i in range(c.kv_heads)])
            a = _naive_attention(q, k, v.transpose(0, 1)).transpose(0, 1).reshape(T, -1)
            x = x + lin("self_attn.o_proj", a)
            h = torch.stack([_naive_rms(x[t], sd[p + "post_attention_layernorm.weight"], c.eps) for t in range(T)])
            g = lin("mlp.gate_proj", h)
            x = x + lin("mlp.down_proj", g / (1 + torch.exp(-g)) * lin("mlp.up_proj", h))
        h = torch.stack([_naive_rms(x[t], sd["model.norm.weight"], c.eps) for t in range(T)])
        logits = h @ sd["lm_head.weight"].T
        for t in range(T):
            if labels[b, t] == -100:
                continue
            row = [float(z) for z in logits[t]]
            m = max(row)
            total += m + math.log(sum(math.exp(z - m) for z in row)) - row[int(labels[b, t])]
            count += 1
    return total / count


def selftest():
    import tempfile
    torch.manual_seed(0)
    ok = True

    def check(name, a, b, tol=2e-5):
        nonlocal ok
        err = (torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)).abs().max().item()
        good = err <= tol
        ok &= good
        log(f"{'ok  ' if good else 'FAIL'} {name}: max abs err {err:.2e}")

    cfgd = {"model_type": "qwen2", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 100.0,
            "vocab_size": 11, "tie_word_embeddings": True}
    c = Config(cfgd)

    x = torch.randn(3, 16)
    w = torch.rand(16) + 0.5
    check("rms_norm", rms_norm(x, w, c.eps), torch.stack([_naive_rms(r, w, c.eps) for r in x]))

    T = 6
    cos, sin = rope_cos_sin(c, T)
    v = torch.randn(T, c.head_dim)
    check("rotary", apply_rope(v, cos, sin), torch.stack([_naive_rope(v[t], t, c.theta) for t in range(T)]))

    q, k, vv = torch.randn(1, 4, T, 4), torch.randn(1, 2, T, 4), torch.randn(1, 2, T, 4)
    mask = torch.full((T, T), float("-inf")).triu(1)
    check("gqa causal attention", causal_attention(q, k, vv, mask)[0], _naive_attention(q[0], k[0], vv[0]))

    # Full model through a safetensors round trip (BF16 file, exact values).
    model = CausalLM(c)
    sd = {}
    for name, p in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied: HF checkpoints usually omit it
        t = torch.randn(p.shape) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if "norm" in name else 0.0)
        sd[name] = (t.view(torch.int32) & ~0xFFFF).view(torch.float32)  # representable in BF16
    with tempfile.TemporaryDirectory() as d:
        for dt in ("F32", "F16", "BF16"):
            write_safetensors(os.path.join(d, "t.safetensors"), {"a": sd["model.norm.weight"]}, dt)
            back = read_safetensors(os.path.join(d, "t.safetensors"))["a"]
            check(f"safetensors {dt}", back, sd["model.norm.weight"], 1e-3 if dt == "F16" else 0.0)
        write_safetensors(os.path.join(d, "model.safetensors"), sd, "BF16")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfgd, f)
        model = load_model(d)
    if model.lm_head.weight is not model.model.embed_tokens.weight:
        ok = False
        log("FAIL tied embeddings are not one parameter")

    ids = torch.randint(0, c.vocab, (2, T))
    labels = torch.randint(0, c.vocab, (2, T))
    labels[0, :2] = -100
    labels[1, -1] = -100
    check("model loss vs naive loops", model.loss(ids, labels).item(), _naive_loss(model, ids, labels), 1e-4)
    log("selftest " + ("passed" if ok else "FAILED"))
    return ok


def main():
    if ARGS.selftest:
        sys.exit(0 if selftest() else 1)
    try:
        result = train(ARGS)
    except (ValueError, KeyError, OSError) as e:
        # Bad inputs: one readable line for bench/train.mjs rather than a traceback.
        log(f"torch_llama: error: {type(e).__name__}: {e}")
        sys.exit(2)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
