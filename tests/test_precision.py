"""Mixed precision: 16-bit compute, float32 weights and outputs, loss scaling for float16."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from ganlib import cli, lessons, models, precision
from ganlib.lessons import dcgan
from ganlib.models import auxiliary, classifier, conditional, infogan, mlp, patchgan, unet
from ganlib.models.resnet_generator import build_resnet_generator

BUILDERS = {
    "dcgan_g": lambda: models.build_dcgan_generator(8, (28, 28, 1), 8),
    "dcgan_d": lambda: models.build_dcgan_discriminator((28, 28, 1), 8),
    "critic_layer_norm": lambda: models.build_dcgan_discriminator((28, 28, 1), 8, norm="layer"),
    "critic_sn": lambda: models.build_dcgan_discriminator((28, 28, 1), 8, norm="none",
                                                          spectral_norm=True),
    "conditional_g": lambda: conditional.build_conditional_generator(8, 4, (32, 32, 3), 8),
    "projection_d": lambda: conditional.build_projection_discriminator((32, 32, 3), 4, 8),
    "infogan_g": lambda: infogan.build_infogan_generator(8, 10, 2, (28, 28, 1), 8),
    "infogan_d": lambda: infogan.build_infogan_discriminator((28, 28, 1), 10, 2, 8),
    "acgan_d": lambda: auxiliary.build_acgan_discriminator((28, 28, 1), 10, 8),
    "sgan_d": lambda: classifier.build_mlp_classifier_discriminator((28, 28, 1), 10),
    "sgan_conv_d": lambda: classifier.build_classifier_discriminator((28, 28, 1), 10),
    "mlp_g": lambda: models.build_mlp_generator(4, (8,), 2),
    "mlp_image_g": lambda: mlp.build_mlp_image_generator(8, (28, 28, 1), (16,)),
    "mlp_d": lambda: models.build_mlp_discriminator(2, (8,)),
    "unet": lambda: unet.build_unet_generator((32, 32, 3), 3, 8),
    "resnet": lambda: build_resnet_generator((32, 32, 3), width=8),
    "patchgan": lambda: patchgan.build_patchgan_discriminator((32, 32, 3), width=8),
}  # fmt: skip


@pytest.fixture
def policy(request):
    precision.use(request.param)
    yield request.param
    precision.use("float32")  # a global: the other tests expect float32


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown precision 'half'.*mixed_bfloat16"):
        precision.use("half")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("name", BUILDERS)
def test_models_compute_in_16_bits_with_float32_weights_and_outputs(policy, name):
    model = BUILDERS[name]()
    half = policy.removeprefix("mixed_")
    assert any(layer.compute_dtype == half for layer in model.layers), "nothing in 16 bits"
    assert all(w.dtype == "float32" for w in model.weights)
    assert all(out.dtype == "float32" for out in model.outputs), model.outputs


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_a_mixed_precision_lesson_trains_and_records_its_precision(policy, tmp_path):
    # narrow and small-batched, as what computes in which dtype does not depend on the sizes and
    # 16-bit maths has no fast path on most CPUs
    cfg = dataclasses.replace(dcgan.Config().smoke(), steps=20, checkpoint_every=10, width=8,
                              batch_size=16)
    run = dcgan.build(cfg, tmp_path / "run")
    lessons.fit(run)
    losses = [r[k] for r in run.history for k in r if k.endswith("_loss")]
    assert losses and np.all(np.isfinite(losses))
    scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer)
              for o in run.trainer.step.optimizers.values()]
    assert scaled == [policy == "mixed_float16"] * 2  # float16 scales its losses, bf16 needn't
    assert lessons.saved_precision(tmp_path / "run") == policy
    images = run.generator().predict(np.zeros((4, cfg.latent_dim), "f4"), verbose=0)
    assert images.dtype == np.float32 and np.all(np.abs(images) <= 1)


def test_cli_resumes_with_the_saved_precision_and_refuses_another(tmp_path, capsys):
    out = tmp_path / "run"
    try:
        assert cli.main(["train", "sine", "--out", str(out), "--steps", "10",
                         "--precision", "mixed_bfloat16"]) == 0
        assert json.loads((out / "config.json").read_text())["precision"] == "mixed_bfloat16"
        precision.use("float32")
        assert cli.main(["train", "sine", "--out", str(out), "--steps", "20", "--resume",
                         "--precision", "float32"]) == 2
        assert "contradicts --resume" in capsys.readouterr().err
        assert cli.main(["train", "sine", "--out", str(out), "--steps", "20", "--resume"]) == 0
        assert precision.current() == "mixed_bfloat16"
        assert cli.main(["sample", str(out), "--n", "8", "--out", str(tmp_path / "s.npz")]) == 0
    finally:
        precision.use("float32")
