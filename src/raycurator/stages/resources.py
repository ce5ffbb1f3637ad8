"""What one worker of a stage needs from the cluster."""

from __future__ import annotations

from dataclasses import dataclass

from raycurator.errors import PipelineConfigError

#: The smallest GPU fraction a `gpu_memory_gb` request turns into (NeMo Curator 1.4's constant).
MIN_GPU_FRACTION = 0.1


@dataclass(frozen=True)
class Resources:
    """Resources of one stage worker.

    `gpus` (whole or fractional GPUs) and `gpu_memory_gb` (memory on one GPU) are two
    exclusive ways to ask for a GPU; `entire_gpu` asks for whole GPUs only.
    """

    cpus: float = 1.0
    gpu_memory_gb: float = 0.0
    nvdecs: int = 0
    nvencs: int = 0
    entire_gpu: bool = False
    gpus: float = 0.0

    def __post_init__(self) -> None:
        for field_name in ("cpus", "gpu_memory_gb", "nvdecs", "nvencs", "gpus"):
            value = getattr(self, field_name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise PipelineConfigError(f"Resources.{field_name} must be a number, got {value!r}")
            if value < 0:
                raise PipelineConfigError(f"Resources.{field_name} must not be negative, got {value!r}")
        if self.gpus > 0 and self.gpu_memory_gb > 0:
            raise PipelineConfigError(
                "Resources: give either gpus or gpu_memory_gb, not both "
                f"(got gpus={self.gpus}, gpu_memory_gb={self.gpu_memory_gb})"
            )
        if self.entire_gpu and self.gpus and self.gpus != int(self.gpus):
            raise PipelineConfigError(f"Resources: entire_gpu=True needs a whole number of gpus, got {self.gpus}")

    @property
    def requires_gpu(self) -> bool:
        """Whether a worker needs a GPU."""
        return self.gpus > 0 or self.gpu_memory_gb > 0 or self.entire_gpu or self.nvdecs > 0 or self.nvencs > 0

    def gpus_for_device(self, device_memory_gb: float) -> float:
        """The GPU fraction `gpu_memory_gb` asks for on a device with `device_memory_gb` of memory.

        Rounded to one decimal, at least `MIN_GPU_FRACTION`; more than one device is an error.
        With `gpus` given (or no GPU asked for) that value is returned unchanged.
        """
        if not self.gpu_memory_gb:
            return float(self.gpus)
        if device_memory_gb <= 0:
            raise PipelineConfigError(f"Resources: device memory must be positive, got {device_memory_gb!r}")
        fraction = max(MIN_GPU_FRACTION, round(self.gpu_memory_gb / device_memory_gb, 1))
        if fraction > 1:
            raise PipelineConfigError(
                f"Resources: gpu_memory_gb={self.gpu_memory_gb} is more than one device's "
                f"{device_memory_gb} GB; ask for gpus instead"
            )
        return fraction

    def to_dict(self) -> dict[str, float | int | bool]:
        """Plain-dict form, for reports and `describe`."""
        return {
            "cpus": self.cpus,
            "gpus": self.gpus,
            "gpu_memory_gb": self.gpu_memory_gb,
            "entire_gpu": self.entire_gpu,
            "nvdecs": self.nvdecs,
            "nvencs": self.nvencs,
        }
