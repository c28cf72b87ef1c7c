"""precision_dtype on this computer: the fastest mixed precision the hardware has, or float32 with a note."""

import pytest
import torch

from sagewiz.core.local import cores, precision


def test_float32_is_float32_everywhere():
    for device in ("cpu", "cuda"):
        chosen = precision.choose("float32", device)
        assert not chosen.mixed and chosen.note == ""


def test_float16_on_a_gpu_is_float16_autocast_with_loss_scaling():
    chosen = precision.choose("float16", "cuda")
    assert chosen.dtype is torch.float16 and chosen.needs_loss_scaling


def test_float16_on_a_cpu_with_amx_is_bfloat16_autocast_until_measured_otherwise(monkeypatch):
    monkeypatch.setattr(cores, "cpu_bf16", lambda: "AMX")
    chosen = precision.choose("float16", "cpu")
    assert chosen.dtype is torch.bfloat16 and not chosen.needs_loss_scaling and "AMX" in chosen.said
    assert chosen.gain == 2.5  # DESIGN.md's figure, until this computer's own is measured


def test_a_cpu_without_bf16_falls_back_to_float32_and_says_why(monkeypatch):
    monkeypatch.setenv(cores.NO_BF16_VARIABLE, "1")
    assert cores.cpu_bf16() == ""
    chosen = precision.choose("float16", "cpu")
    assert not chosen.mixed and "float32" in chosen.note and "AMX or AVX-512 BF16" in chosen.note


@pytest.mark.skipif(not torch.cpu._is_avx512_bf16_supported(), reason="this CPU has no AVX-512 BF16")
def test_this_cpus_bf16_is_found_without_torch_and_as_torch_finds_it(monkeypatch):
    monkeypatch.delenv(cores.NO_BF16_VARIABLE, raising=False)
    assert cores.cpu_bf16() == ("AMX" if torch.cpu._is_amx_tile_supported() else "AVX-512 BF16")
