"""ganlib: the small shared package behind the GAN course.

Conventions, said once: images are float32 in [-1, 1] and generators end in `tanh`;
discriminators return logits (no sigmoid); label 1 means real.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet

__version__ = "0.1.0"
