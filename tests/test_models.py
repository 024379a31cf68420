"""Model registry and the model contract (shapes, ranges, masks) - no data needed."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from facesmith.errors import InputError
from facesmith.models import SwapModel, available_models, create_model, model_class, register_model
from facesmith.models.discriminator import PatchDiscriminator, d_loss, g_loss


def test_registry_lists_the_models() -> None:
    assert {"lite", "original", "hires", "liae"} <= set(available_models())
    with pytest.raises(InputError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(InputError, match="sizes"):
        create_model("lite", size=96)
    with pytest.raises(InputError, match="no option"):
        create_model("lite", widht=3)


@pytest.mark.parametrize(("name", "cfg", "mask"), [
    ("lite", {}, False),
    ("lite", {"learns_mask": True, "enc": (8, 16, 32, 64), "latent": 16, "dec": (16, 8, 8, 8)}, True),
    ("original", {}, False),
    ("hires", {"e_dims": 8, "ae_dims": 16, "d_dims": 8}, True),
    ("hires", {"arch": "liae", "e_dims": 8, "ae_dims": 16, "d_dims": 8, "size": 160}, True),
    ("liae", {}, False),
    ("liae", {"learns_mask": True, "enc": (8, 16, 32, 64), "latent": 16, "dec": (16, 8, 8, 8)}, True),
])
def test_model_contract(name: str, cfg: dict, mask: bool) -> None:
    torch.manual_seed(0)
    model = create_model(name, **cfg)
    s = model.config["size"]
    x = torch.rand(2, 3, s, s)
    with torch.no_grad():
        y_a, m_a, y_b, m_b = model(x, x.flip(0))
    assert y_a.shape == y_b.shape == (2, 3, s, s)
    assert (m_a is not None) == mask and (m_b is not None) == mask
    if mask:
        assert m_a.shape == (2, 1, s, s) and float(m_a.min()) >= 0 and float(m_a.max()) <= 1
    faces, _m = model.swap(x, "a2b")
    assert faces.shape == x.shape and float(faces.min()) >= 0 and float(faces.max()) <= 1
    # a2b is decoder B on A's faces: the same as render(x, "b"), and differs from b2a
    assert torch.equal(faces, model.render(x, "b")[0])
    assert not torch.equal(faces, model.swap(x, "b2a")[0])
    # training output for side A equals rendering A's faces as A
    assert torch.allclose(y_a, model.render(x, "a")[0], atol=1e-5)
    with pytest.raises(ValueError):
        model.swap(x, "sideways")


def test_channels_last_gives_same_output() -> None:
    torch.manual_seed(0)
    model = create_model("lite")
    x = torch.rand(2, 3, 64, 64)
    ref = model.render(x, "a")[0]
    out = model.to(memory_format=torch.channels_last).render(x.contiguous(memory_format=torch.channels_last), "a")[0]
    assert torch.allclose(ref, out, atol=1e-4)


def test_adding_a_model_is_one_registration() -> None:
    @register_model("unit-test-tiny")
    class Tiny(SwapModel):
        DEFAULTS: ClassVar[dict] = {"size": 64, "coverage": 0.875, "batch_size": 2, "lr": 1e-3, "learns_mask": False}

        def __init__(self, **cfg: object) -> None:
            super().__init__(**cfg)
            self.a = torch.nn.Conv2d(3, 3, 1)
            self.b = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple:
            return self.a(x_a).sigmoid(), None, self.b(x_b).sigmoid(), None

        def render(self, x: torch.Tensor, side: str) -> tuple:
            return (self.a if side == "a" else self.b)(x).sigmoid(), None

    assert model_class("unit-test-tiny") is Tiny
    assert create_model("unit-test-tiny").swap(torch.rand(1, 3, 64, 64))[0].shape == (1, 3, 64, 64)


def test_patch_discriminator() -> None:
    disc = PatchDiscriminator(64, width=8)
    real, fake = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64, requires_grad=True)
    assert disc(real).shape == (2, 1, 8, 8)
    d_loss(disc, real, fake).backward()
    g_loss(disc, fake).backward()
    assert fake.grad is not None


def test_liae_draws_both_identities_with_one_decoder() -> None:
    """liae: the shared code ab(x) is the same whichever identity is drawn; only B's half differs."""
    torch.manual_seed(0)
    model = create_model("liae", enc=(8, 16, 32, 64), latent=16, dec=(16, 8, 8, 8))
    assert not hasattr(model, "decoder_a") and not hasattr(model, "decoder_b")
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        y_a, _, y_b, _ = model(x, x)
        assert torch.allclose(y_b, model.render(x, "b")[0], atol=1e-5)
        assert not torch.allclose(y_a, y_b)
