"""What kind of CompressAI model a module is (bench.learned.models.model_kind), for every zoo architecture:
against the published structure and against what the model's own tensors say."""

from __future__ import annotations

import inspect

import pytest

from bench.learned import zoo
from bench.learned.models import model_kind

# (hyperprior, mean_scale, autoregressive, multiple, string groups): Ballé 2018, Minnen 2018, Cheng 2020
EXPECTED = {
    "bmshj2018-factorized": (False, False, False, 16, 1),
    "bmshj2018-factorized-relu": (False, False, False, 16, 1),
    "bmshj2018-hyperprior": (True, False, False, 64, 2),
    "mbt2018-mean": (True, True, False, 64, 2),
    "mbt2018": (True, True, True, 64, 2),
    "cheng2020-anchor": (True, True, True, 64, 2),
    "cheng2020-attn": (True, True, True, 64, 2),
}


def _tiny(arch: str):
    import torch

    cls = zoo.model_class(arch)
    config = {"N": 8, "M": 12} if "M" in inspect.signature(cls.__init__).parameters else {"N": 8}
    torch.manual_seed(0)
    model = cls(**config).eval()
    model.update(force=True)
    return model


def test_every_architecture_is_covered():
    assert set(EXPECTED) == set(zoo.ARCHITECTURES)


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_kind_of_each_architecture(arch):
    import torch

    model = _tiny(arch)
    kind = model_kind(model)
    hyperprior, mean_scale, autoregressive, multiple, groups = EXPECTED[arch]
    assert (kind.hyperprior, kind.mean_scale, kind.autoregressive, kind.multiple, kind.groups) == EXPECTED[arch]
    assert kind.abs_hyper_input == (hyperprior and not mean_scale)
    with torch.no_grad():
        x = torch.rand(1, 3, 64, 64)
        out = model.compress(x)
        assert len(out["strings"]) == groups  # what compress() really returns
        if hyperprior:  # the parameters of ŷ's Gaussian: (scales, means) halves exactly when mean-scale
            y = model.g_a(x)
            params = model.h_s(model.h_a(y if mean_scale else torch.abs(y)))
            if autoregressive:
                ctx = model.context_prediction(y)
                params = model.entropy_parameters(torch.cat((params, ctx), dim=1))
            assert (params.size(1) == 2 * y.size(1)) == mean_scale
