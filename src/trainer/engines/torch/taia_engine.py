"""What TAIA Lab's Python scripts share: the message channel to the trainer process and the environment check.

Messages are JSON lines on file descriptor 3, each {"v": PROTOCOL, "type": ..., ...}; stdout and stderr
stay free for libraries (they go to the run's trainer.out). The protocol version must match
ENGINE_PROTOCOL in python.ts: the scripts and the trainer ship together.
"""

import importlib
import json
import os
import sys

PROTOCOL = 2
MINIMUM = {"torch": "2.0", "transformers": "4.36", "peft": "0.7", "safetensors": "0.4"}
RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))


def _out():
    # Under srun (a Slurm job) fd 3 does not reach the trainer: the messages share stdout.
    if os.environ.get("TAIA_ENGINE_CHANNEL") == "stdout":
        return sys.stdout
    try:
        return os.fdopen(3, "w", buffering=1)
    except OSError:
        return sys.stdout


# Under torchrun only rank 0 reports.
OUT = _out() if RANK == 0 else None


def emit(message_type, **fields):
    if OUT is not None:
        OUT.write(json.dumps({"v": PROTOCOL, "type": message_type, **fields}) + "\n")
        OUT.flush()


def version_tuple(text):
    parts = []
    for p in text.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_environment(device, needed=tuple(MINIMUM)):
    """What is installed and whether the work can start; every problem says what to do."""
    report = {"python": sys.version.split()[0], "executable": sys.executable, "modules": {}, "cuda": False, "gpus": [], "problems": []}
    for name in needed:
        minimum = MINIMUM[name]
        try:
            mod = importlib.import_module(name)
            version = getattr(mod, "__version__", "0")
            report["modules"][name] = version
            if version_tuple(version) < version_tuple(minimum):
                report["problems"].append(f"{name} {version} is older than the {minimum} this engine needs (pip install -U '{name}>={minimum}')")
        except Exception as e:  # ImportError, or a broken install that raises on import
            report["modules"][name] = None
            report["problems"].append(f"{name} is not importable by {sys.executable} ({type(e).__name__}: {e}); pip install '{name}>={minimum}'")
    if report["modules"].get("torch"):
        import torch

        report["cuda"] = bool(torch.cuda.is_available())
        report["cuda_version"] = torch.version.cuda
        report["gpus"] = [{"name": torch.cuda.get_device_name(i), "memory": torch.cuda.get_device_properties(i).total_memory} for i in range(torch.cuda.device_count())] if report["cuda"] else []
        if device == "gpu" and not report["cuda"]:
            report["problems"].append(f"device is gpu but torch {torch.__version__} sees no CUDA device (CUDA build: {torch.version.cuda or 'none'})")
    return report


def load_causal_lm(path, dtype):
    """AutoModelForCausalLM from a local folder in `dtype` (transformers 4.56 renamed torch_dtype to dtype)."""
    import transformers

    keyword = "dtype" if version_tuple(transformers.__version__) >= (4, 56) else "torch_dtype"
    return transformers.AutoModelForCausalLM.from_pretrained(path, **{keyword: dtype})


def start(device, needed=tuple(MINIMUM)):
    """Reports the environment first; False (after an "environment" error message) when the work cannot start."""
    report = check_environment(device, needed)
    emit("env", **report)
    if report["problems"]:
        emit("error", kind="environment", message="the PyTorch engine cannot start: " + "; ".join(report["problems"]))
        return False
    return True


def run_reporting(work):
    """work(), with its failure sent as the error message: an out-of-memory (MemoryError, which the
    scripts raise with the settings that caused it) exits 4, anything else 1 with its type (the
    traceback goes to stderr, that is trainer.out)."""
    try:
        work()
    except MemoryError as e:
        emit("error", kind="oom", message=str(e))
        return 4
    except Exception as e:
        import traceback

        traceback.print_exc()
        emit("error", kind="failure", message=f"{type(e).__name__}: {e}")
        return 1
    return 0
