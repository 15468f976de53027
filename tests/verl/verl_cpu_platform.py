"""A CPU platform for verl, registered through verl's own plugin hook (VERL_USE_EXTERNAL_MODULES).

verl 0.9.1 knows CUDA, NPU and ROCm only and falls back to CUDA (NCCL) on a CPU-only host.
This plugin lets verl's real SFT trainer and FSDP checkpoint manager run on CPU with gloo,
so the checkpoint -> HF conversion is tested on a checkpoint verl itself wrote. Test-only:

    VERL_USE_EXTERNAL_MODULES=verl_cpu_platform VERL_PLATFORM=cpu PYTHONPATH=tests/verl \
    VERL_ENGINE_DEVICE=cuda VERL_ENGINE_VENDOR=nvidia ...     # verl's FSDP engine class, on cpu

plus verl overrides engine.strategy=fsdp2 (FSDP1 insists on an accelerator), sdpa attention
and no padding removal (no flash-attn), trainer.device=cpu: see test_verl_sft_cpu.py.
Nothing in verl is modified; torch's init_process_group is wrapped (see below).
"""
from __future__ import annotations

import contextlib
from typing import Any, Optional

import torch

from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry


class _CpuDevice:
    """torch.cpu plus the memory queries verl logs (a host has no device memory to report)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    def memory_allocated(self, *a, **k) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    def mem_get_info(self, *a, **k) -> tuple[int, int]:
        return 0, 0

    def empty_cache(self) -> None:
        return None

    def reset_peak_memory_stats(self, *a, **k) -> None:
        return None

    def get_device_name(self, *a, **k) -> str:
        return "CPU"  # verl's MFU estimate looks the name up in a GPU table; unknown -> inf flops


_CPU_DEVICE = _CpuDevice()


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    """Everything on torch.cpu; collectives on gloo; no profiler, no IPC."""

    device_name = property(lambda self: "cpu")
    vendor_name = property(lambda self: "cpu")
    device_module = property(lambda self: _CPU_DEVICE)

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check=False) -> bool:
        return False  # never auto-detected: only VERL_PLATFORM=cpu selects it

    def current_device(self):
        return "cpu"  # verl passes this to torch.device() and .to(); an int would mean an accelerator

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: Optional[int] = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0):
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "CPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def _single_backend_for_cpu() -> None:
    """verl asks for `cpu:gloo,<device>:<backend>`; with device cpu that names cpu twice,
    which torch rejects. Collapse the duplicate so the process group is plain gloo."""
    import torch.distributed as dist

    original = dist.init_process_group

    def init_process_group(*args, backend=None, **kwargs):
        if backend == "cpu:gloo,cpu:gloo":
            backend = "gloo"
        return original(*args, backend=backend, **kwargs)

    dist.init_process_group = init_process_group


_single_backend_for_cpu()

