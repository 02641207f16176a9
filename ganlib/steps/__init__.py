"""tf.GradientTape train steps, one skeleton for every GAN family.

`TrainStep.update` is the skeleton: compute per-example losses under one tape, average them
over the *global* batch (correct under any `tf.distribute` strategy), apply one optimizer per
network, return a dict of scalar tensors. A family only writes `losses()`.

Randomness inside a step (noise, label flips) is stateless, seeded by (seed, step): no hidden
RNG state, the same seed gives the same run, and a restored checkpoint continues with the
noise it would have drawn anyway. `losses()` draws through the step's named helpers
(`self.normal`, `self.uniform`, `self.integers`, `self.split`; module `ganlib.draws`), which
take this replica's rows of a draw over the global batch, so a run on N replicas sees the
noise a one-device run with the same global batch sees.
"""

from .base import TrainStep
from .conditional import (
    ACGANStep,
    ConditionalGANStep,
    class_hits,
    conditional_fakes,
    other_labels,
)
from .cyclegan import CycleGANStep
from .gan import GANStep, adversarial_losses
from .infogan import InfoGANStep
from .pix2pix import Pix2PixStep
from .sgan import SemiSupervisedGANStep
from .srgan import SRGANStep
from .stylegan import StyleGANStep

__all__ = ["ACGANStep", "ConditionalGANStep", "CycleGANStep", "GANStep", "InfoGANStep",
           "Pix2PixStep", "SemiSupervisedGANStep", "SRGANStep", "StyleGANStep",
           "TrainStep", "adversarial_losses", "class_hits",
           "conditional_fakes", "other_labels"]
