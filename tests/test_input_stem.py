"""Training skips the gradient of the pictures themselves (the slowest kernel of a ResNet-18 step)
but learns exactly what it learned before: every parameter's gradient and the moving statistics
are the ones plain autograd gives, for both stems the network has and for sizes whose last
convolution window hangs over the picture's edge."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sagewiz.core.local import stem
from sagewiz.core.local.resnet import build_resnet


def gradients(model, x, labels, *, shortcut: bool, monkeypatch):
    if not shortcut:
        monkeypatch.setattr(stem, "applies", lambda *args: False)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), labels).backward()
    monkeypatch.undo()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("layers, image_shape", [
    (18, (3, 67, 53)),  # 7×7 stride-2 stem; odd sizes: the last window reads padding on one side only
    (18, (3, 64, 64)),
    (20, (3, 28, 28)),  # 3×3 stride-1 stem
    (20, (3, 27, 19)),
])
def test_every_gradient_is_autograds(layers, image_shape, monkeypatch):
    torch.manual_seed(0)
    model = build_resnet(layers, 4, image_shape).double()
    x = (torch.rand(6, *image_shape, dtype=torch.float64) * 255).contiguous(memory_format=torch.channels_last)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    plain = gradients(model, x, labels, shortcut=False, monkeypatch=monkeypatch)
    fast = gradients(model, x, labels, shortcut=True, monkeypatch=monkeypatch)
    assert plain.keys() == fast.keys() and "bn_data.beta" in fast and "conv0.weight" in fast
    for name in plain:
        torch.testing.assert_close(fast[name], plain[name], rtol=1e-9, atol=1e-12, msg=name)


def test_the_shortcut_is_what_training_runs_and_keeps_the_moving_statistics(monkeypatch):
    torch.manual_seed(0)
    shape = (3, 64, 64)
    fast, plain = build_resnet(18, 2, shape), build_resnet(18, 2, shape)
    plain.load_state_dict(fast.state_dict())
    taken = []
    original = stem.input_stem
    monkeypatch.setattr(stem, "input_stem", lambda *args: taken.append(1) or original(*args))
    x = (torch.rand(4, *shape) * 255).contiguous(memory_format=torch.channels_last)
    out_fast = fast(x)
    assert taken, "training did not take the shortcut"
    monkeypatch.setattr(stem, "applies", lambda *args: False)
    out_plain = plain(x)
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-4, atol=1e-4)
    for name in ("moving_mean", "moving_var"):
        torch.testing.assert_close(getattr(fast.bn_data, name), getattr(plain.bn_data, name), rtol=1e-5, atol=1e-5)


def test_pictures_that_want_their_own_gradient_get_it():
    model = build_resnet(20, 3, (3, 28, 28))
    x = (torch.rand(2, 3, 28, 28) * 255).requires_grad_()
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_evaluation_and_inference_mode_use_the_plain_layers(monkeypatch):
    model = build_resnet(20, 3, (3, 28, 28))
    monkeypatch.setattr(stem, "input_stem", lambda *args: pytest.fail("the shortcut ran outside training"))
    x = torch.rand(2, 3, 28, 28) * 255
    model.eval()
    model(x)
    model.train()
    with torch.no_grad():
        model(x)


def test_bfloat16_autocast_trains_through_it():
    torch.manual_seed(0)
    model = build_resnet(18, 2, (3, 64, 64))
    x = (torch.rand(4, 3, 64, 64) * 255).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(x).float(), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    assert model.bn_data.beta.grad.dtype == torch.float32 and torch.isfinite(model.bn_data.beta.grad).all()
    assert model.conv0.weight.grad.dtype == torch.float32 and torch.isfinite(model.conv0.weight.grad).all()
