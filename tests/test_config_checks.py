"""Every lesson's Config refuses a value out of range when it is made, with a message naming
the lesson, the field, the value and what is allowed (`ganlib.lessons.checks`)."""

import dataclasses

import numpy as np
import pytest

from ganlib import cli
from ganlib.lessons import (
    acgan,
    cgan,
    checks,
    cyclegan,
    dcgan,
    gan_losses,
    infogan,
    pix2pix,
    sgan,
    sine,
    srgan,
    stylegan,
)
from ganlib.lessons.checks import ConfigError

MODULES = [sine, dcgan, cgan, infogan, acgan, sgan, pix2pix, cyclegan, gan_losses, srgan,
           stylegan]
BUILT_ON_DCGAN = [cgan, infogan, acgan, sgan, gan_losses]


def _ids(modules):
    return [m.NAME for m in modules]


@pytest.mark.parametrize("module", MODULES, ids=_ids(MODULES))
def test_defaults_and_smoke_configs_pass(module):
    cfg = module.Config()
    smoke = cfg.smoke()
    assert isinstance(smoke, module.Config)
    assert dataclasses.replace(smoke, seed=3).seed == 3


def test_every_variant_and_dataset_passes():
    for name in gan_losses.VARIANTS:
        gan_losses.variant(name).smoke()
    for dataset in pix2pix.DATASETS:
        pix2pix.Config(dataset=dataset).smoke()
    sgan.Config(architecture="conv", generator="dcgan", lr_decay_from=None, minutes=5.0,
                steps=None)
    cyclegan.Config(generator="unet", steps=None, minutes=1.0, decay_steps=500)


def test_values_as_saved_runs_and_numpy_give_them_pass():
    """config.json holds lists where the Config has tuples; NumPy numbers are numbers."""
    sine.Config(g_hidden=[64, 64], d_hidden=[25])
    infogan.Config(intensity_levels=[0.2, 0.5])
    infogan.Config(intensity_levels=None, g_lr=None, num_continuous=0, cutout_size=0)
    dcgan.Config(steps=np.int64(100), lr=np.float32(1e-3), minutes=None, ema_decay=None)


# (module, changes, the field=value text, what the message says is allowed)
BAD = [
    (sine, dict(lr=0.0), "lr=0.0", "> 0"),
    (sine, dict(steps=0), "steps=0", "a whole number >= 1, or None"),
    (sine, dict(g_hidden=(64, 0)), "g_hidden=(64, 0)", "tuple of whole numbers >= 1"),
    (sine, dict(activation="relu6x"), "activation='relu6x'", "a Keras activation's name"),
    (sine, dict(ema_decay=1.0), "ema_decay=1.0", "in [0, 1), or None"),
    (dcgan, dict(lr=-1.0), "lr=-1.0", "> 0"),
    (dcgan, dict(batch_size=0), "batch_size=0", "a whole number >= 1"),
    (dcgan, dict(minutes=0.0), "minutes=0.0", "> 0, or None"),
    (dcgan, dict(flip_prob=0.5), "flip_prob=0.5", "in [0, 0.5)"),
    (dcgan, dict(real_label=0.0), "real_label=0.0", "in (0, 1]"),
    (dcgan, dict(loss="wgan"), "loss='wgan'", "'least_squares', 'wasserstein' or 'hinge'"),
    (dcgan, dict(beta_1=1.0), "beta_1=1.0", "in [0, 1)"),
    (dcgan, dict(sample_every=-1), "sample_every=-1", "a whole number >= 0"),
    (dcgan, dict(checkpoint_every=0), "checkpoint_every=0", "a whole number >= 1"),
    (dcgan, dict(width=32.0), "width=32.0", "a whole number >= 1"),
    (cgan, dict(embed_dim=0), "embed_dim=0", "a whole number >= 1"),
    (cgan, dict(n_per_class=0), "n_per_class=0", "a whole number >= 1, or None"),
    (cgan, dict(mismatch_weight=-0.5), "mismatch_weight=-0.5", ">= 0"),
    (infogan, dict(num_categories=1), "num_categories=1", "a whole number >= 2"),
    (infogan, dict(max_zoom=1.0), "max_zoom=1.0", "in [0, 1)"),
    (infogan, dict(intensity_levels=(0.8, 0.2)), "intensity_levels=(0.8, 0.2)",
     "a pair (first, second) with 0 < first <= second <= 1, or None"),
    (infogan, dict(intensity_levels=(0.5,)), "intensity_levels=(0.5,)", "a pair"),
    (infogan, dict(g_lr=0.0), "g_lr=0.0", "> 0, or None"),
    (infogan, dict(category_balance=-1.0), "category_balance=-1.0", ">= 0"),
    (acgan, dict(class_weight=-1.0), "class_weight=-1.0", ">= 0"),
    (acgan, dict(embed_dim=0), "embed_dim=0", "a whole number >= 1"),
    (sgan, dict(architecture="resnet"), "architecture='resnet'", "'mlp' or 'conv'"),
    (sgan, dict(unlabelled_per_labelled=0), "unlabelled_per_labelled=0", "a whole number >= 1"),
    (sgan, dict(classifier_ema=1.0), "classifier_ema=1.0", "in [0, 1), or None"),
    (sgan, dict(lr_decay_from=1.0), "lr_decay_from=1.0", "in [0, 1), or None"),
    (pix2pix, dict(direction="up"), "direction='up'", "'AtoB' or 'BtoA'"),
    (pix2pix, dict(dataset="mnist"), "dataset='mnist'", "lesson 07 translates paired datasets"),
    (pix2pix, dict(dropout=1.0), "dropout=1.0", "in [0, 1)"),
    (pix2pix, dict(norm="group"), "norm='group'", "'batch', 'instance', 'layer' or 'none'"),
    (pix2pix, dict(image_size=0), "image_size=0", "a whole number >= 1, or None"),
    (cyclegan, dict(decay_from=1.5), "decay_from=1.5", "in [0, 1]"),
    (cyclegan, dict(generator="vit"), "generator='vit'", "'resnet' or 'unet'"),
    (cyclegan, dict(pool_size=-1), "pool_size=-1", "a whole number >= 0"),
    (cyclegan, dict(decay_steps=0), "decay_steps=0", "a whole number >= 1, or None"),
    (gan_losses, dict(critic_steps=0), "critic_steps=0", "a whole number >= 1"),
    (gan_losses, dict(gradient_penalty=-1.0), "gradient_penalty=-1.0", ">= 0"),
    (gan_losses, dict(beta_2=1.0), "beta_2=1.0", "in [0, 1)"),
    (gan_losses, dict(d_norm="group"), "d_norm='group'", "'layer' or 'none'"),
    (srgan, dict(factor=3), "factor=3", "2 or 4"),
    (srgan, dict(content_layer="conv9"), "content_layer='conv9'", "the judge's layers"),
    (srgan, dict(adversarial_weight=-1.0), "adversarial_weight=-1.0", ">= 0"),
    (srgan, dict(blocks=-1), "blocks=-1", "a whole number >= 0"),
    (stylegan, dict(mixing_prob=1.5), "mixing_prob=1.5", "in [0, 1]"),
    (stylegan, dict(w_avg_beta=1.0), "w_avg_beta=1.0", "in [0, 1)"),
    (stylegan, dict(mapping_lr_mul=0.0), "mapping_lr_mul=0.0", "> 0"),
    (stylegan, dict(r1_gamma=-1.0), "r1_gamma=-1.0", ">= 0"),
    (stylegan, dict(latent_dim=0), "latent_dim=0", "a whole number >= 1"),
]


@pytest.mark.parametrize("module, changes, given, allowed", BAD,
                         ids=[f"{m.NAME}-{g}" for m, _, g, _ in BAD])
def test_a_value_out_of_range_is_refused_naming_lesson_field_value_and_range(
        module, changes, given, allowed):
    for make in (lambda: module.Config(**changes),
                 lambda: dataclasses.replace(module.Config().smoke(), **changes)):
        with pytest.raises(ConfigError) as info:
            make()
        message = str(info.value)
        assert isinstance(info.value, ValueError)
        assert message.startswith(f"{module.NAME}: {given} ")
        assert allowed in message, message


@pytest.mark.parametrize("module", BUILT_ON_DCGAN, ids=_ids(BUILT_ON_DCGAN))
def test_a_config_built_on_lesson_02s_keeps_its_checks_under_its_own_name(module):
    with pytest.raises(ConfigError, match=rf"^{module.NAME}: lr=-1.0 is out of range; it must "
                                          r"be > 0\.$"):
        module.Config(lr=-1.0)
    with pytest.raises(ConfigError, match=f"^{module.NAME}: d_dropout=1.0 "):
        module.Config(d_dropout=1.0)


@pytest.mark.parametrize("module", MODULES, ids=_ids(MODULES))
def test_minutes_or_steps_each_none_or_positive_and_one_of_them_given(module):
    cfg = module.Config()
    dataclasses.replace(cfg, steps=10, minutes=None)
    dataclasses.replace(cfg, steps=10, minutes=2.0)  # both: the steps are used
    no_decay = {"lr_decay_from": None} if module is sgan else {}
    dataclasses.replace(cfg, steps=None, minutes=0.5, **no_decay)
    with pytest.raises(ConfigError, match=f"^{module.NAME}: steps=None and minutes=None leave "
                                          "no training budget"):
        dataclasses.replace(cfg, steps=None, minutes=None)
    with pytest.raises(ConfigError, match=r"minutes=-1.0 is out of range; it must be > 0"):
        dataclasses.replace(cfg, minutes=-1.0)
    with pytest.raises(ConfigError, match=r"steps=0 is out of range; it must be a whole number"):
        dataclasses.replace(cfg, steps=0)


@pytest.mark.parametrize("module, changes, phrases", [
    (sgan, dict(minutes=1.0, steps=None), ["lr_decay_from needs a step budget",
                                           "lr_decay_from=0.5, steps=None",
                                           "--set lr_decay_from=null"]),
    (srgan, dict(content_weight=0.0, pixel_weight=0.0), ["content_weight=0.0 and pixel_weight=0.0",
                                                         "give one of them > 0"]),
    (pix2pix, dict(dataset="fashion_edges", image_size=64), ["image_size=64", "28x28"]),
    (stylegan, dict(width=64, max_width=32), ["max_width=32 is below width=64"]),
    (gan_losses, dict(loss="wasserstein", real_label=0.9),
     ["loss='wasserstein' has no labels", "real_label=0.9"]),
    (dcgan, dict(loss="hinge", flip_prob=0.1), ["loss='hinge' has no labels", "flip_prob=0.1"]),
])  # fmt: skip
def test_settings_that_do_not_go_together_are_refused(module, changes, phrases):
    with pytest.raises(ConfigError) as info:
        module.Config(**changes)
    message = str(info.value)
    assert message.startswith(f"{module.NAME}: ")
    assert all(p in message for p in phrases), message


def test_the_rules_themselves():
    @dataclasses.dataclass
    class Toy:
        n: object = 1
        p: object = 0.5
        kind: str = "a"

    rules = (checks.positive("n", whole=True), checks.fraction("p"),
             checks.one_of("kind", ("a", "b", "c"), "the toy's kinds"))
    checks.check(Toy(), *rules)
    for toy, message in [
        (Toy(n=0), "n=0 is out of range; it must be a whole number >= 1."),
        (Toy(n=2.5), "n=2.5 is not a whole number; it must be a whole number >= 1."),
        (Toy(p=float("nan")), "p=nan is not a number; it must be in [0, 1]."),
        (Toy(p="high"), "p='high' is not a number; it must be in [0, 1]."),
        (Toy(kind="d"), "kind='d' is not one of the choices; it must be 'a', 'b' or 'c' (the "
                        "toy's kinds)."),
    ]:
        with pytest.raises(ConfigError) as info:
            checks.check(toy, *rules)
        assert str(info.value) == f"test_config_checks: {message}"


def test_the_cli_prints_the_refusal_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "dcgan", "--out", str(out), "--set", "lr=-1"]) == 2
    err = capsys.readouterr().err
    assert "error: dcgan: lr=-1.0 is out of range; it must be > 0." in err
    assert not out.exists()
