"""ganlib: the small shared package behind the GAN course.

Conventions, said once: images are float32 in [-1, 1] and generators end in `tanh`;
discriminators return logits (no sigmoid); label 1 means real.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet
# TensorFlow runs its CPU kernels on oneDNN only where the CPU has AVX-512 VNNI, BF16 or AMX;
# elsewhere it uses Eigen's, which ran lesson 02's step far slower (docs/experiments.md, lesson
# 02). Read once, when TensorFlow loads: import ganlib before it (the notebooks do so in their
# first cell); TF_ENABLE_ONEDNN_OPTS=0 still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
