"""Resources: defaults, validation and `requires_gpu`."""

from __future__ import annotations

import dataclasses

import pytest

from raycurator.errors import PipelineConfigError
from raycurator.stages.resources import Resources


def test_defaults():
    r = Resources()
    assert (r.cpus, r.gpu_memory_gb, r.nvdecs, r.nvencs, r.entire_gpu, r.gpus) == (1.0, 0.0, 0, 0, False, 0.0)
    assert not r.requires_gpu


def test_frozen_and_hashable():
    r = Resources(cpus=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.cpus = 3  # type: ignore[misc]
    assert hash(r) == hash(Resources(cpus=2))
    assert r == Resources(cpus=2.0)


def test_gpus_and_gpu_memory_are_exclusive():
    with pytest.raises(PipelineConfigError, match="gpus or gpu_memory_gb"):
        Resources(gpus=1, gpu_memory_gb=10)
    assert Resources(gpus=1).gpus == 1
    assert Resources(gpu_memory_gb=10).gpu_memory_gb == 10


@pytest.mark.parametrize("field", ["cpus", "gpu_memory_gb", "nvdecs", "nvencs", "gpus"])
def test_negative_values_rejected(field):
    with pytest.raises(PipelineConfigError, match=field):
        Resources(**{field: -1})


@pytest.mark.parametrize("field", ["cpus", "gpu_memory_gb", "nvdecs", "nvencs", "gpus"])
@pytest.mark.parametrize("value", ["1", None, True, [1]])
def test_non_numbers_rejected(field, value):
    with pytest.raises(PipelineConfigError, match=field):
        Resources(**{field: value})


def test_zero_cpus_allowed():
    assert Resources(cpus=0).cpus == 0


def test_entire_gpu_needs_whole_gpus():
    with pytest.raises(PipelineConfigError, match="entire_gpu"):
        Resources(gpus=0.5, entire_gpu=True)
    assert Resources(gpus=2, entire_gpu=True).gpus == 2


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, False),
        ({"cpus": 8}, False),
        ({"gpus": 0.25}, True),
        ({"gpus": 1}, True),
        ({"gpu_memory_gb": 4}, True),
        ({"entire_gpu": True}, True),
        ({"nvdecs": 1}, True),
        ({"nvencs": 1}, True),
    ],
)
def test_requires_gpu(kwargs, expected):
    assert Resources(**kwargs).requires_gpu is expected


def test_to_dict():
    assert Resources(cpus=2, gpus=1).to_dict() == {
        "cpus": 2,
        "gpus": 1,
        "gpu_memory_gb": 0.0,
        "entire_gpu": False,
        "nvdecs": 0,
        "nvencs": 0,
    }
