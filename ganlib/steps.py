"""tf.GradientTape train steps, one skeleton for every GAN family.

`TrainStep` owns the skeleton: compute per-example losses under one tape, average them over
the *global* batch (correct under any `tf.distribute` strategy), apply one optimizer per
network, count the step, return a dict of scalar tensors. A family only writes `losses()`.

Randomness inside a step (noise, label flips) is stateless, seeded by (seed, step, replica):
no hidden RNG state, the same seed gives the same run, and a restored checkpoint continues
with the noise it would have drawn anyway.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .losses import AdversarialLoss


class TrainStep:
    """Skeleton of a GAN train step. Build it inside the strategy scope the models live in.

    networks:   {"generator": G, "discriminator": D, ...}
    optimizers: {name: optimizer} for each network that `losses()` returns a loss for.
    """

    def __init__(self, networks: dict, optimizers: dict, *, seed: int = 0,
                 jit_compile: bool = False):
        missing = set(optimizers) - set(networks)
        if missing:
            raise ValueError(f"optimizers for unknown networks: {sorted(missing)}")
        self.networks = dict(networks)
        self.optimizers = dict(optimizers)
        self.strategy = tf.distribute.get_strategy()
        # A variable, so the watchdog can change it and a checkpoint restores it.
        self.seed = tf.Variable(int(seed), dtype=tf.int64, trainable=False, name="seed",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        for name, opt in self.optimizers.items():
            opt.build(self.networks[name].trainable_variables)
        # XLA cannot compile the cross-replica merge of a multi-device optimizer update.
        jit = jit_compile and self.strategy.num_replicas_in_sync == 1
        self._replica_fn = tf.function(self._replica_step, jit_compile=jit)
        self._fn = tf.function(self._distributed_step)

    # --- what a family writes -------------------------------------------------------------
    def losses(self, batch, seed) -> tuple[dict, dict]:
        """Return ({network: per-example loss}, {metric: per-example value})."""
        raise NotImplementedError

    # --- the skeleton ----------------------------------------------------------------------
    def __call__(self, batch) -> dict:
        """One training step on a (per-replica or distributed) batch; dict of float tensors."""
        return self._fn(batch)

    def trackables(self) -> dict:
        """What a checkpoint must hold to resume this step exactly."""
        objs = {f"net_{k}": v for k, v in self.networks.items()}
        objs.update({f"opt_{k}": v for k, v in self.optimizers.items()})
        objs["step"] = self.step
        objs["seed"] = self.seed
        return objs

    def _distributed_step(self, batch):
        per_replica = self.strategy.run(self._replica_fn, args=(batch,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    def _replica_step(self, batch):
        ctx = tf.distribute.get_replica_context()
        replicas = tf.cast(ctx.num_replicas_in_sync, tf.int64)
        counter = self.step * replicas + tf.cast(ctx.replica_id_in_sync_group, tf.int64)
        seed = tf.stack([self.seed.read_value(), counter])
        with tf.GradientTape(persistent=True) as tape:
            losses, metrics = self.losses(batch, seed)
            averaged = {k: self._average(v) for k, v in losses.items()}
        for name, loss in averaged.items():
            variables = self.networks[name].trainable_variables
            grads = tape.gradient(loss, variables)
            self.optimizers[name].apply_gradients(zip(grads, variables))
        del tape
        self.step.assign_add(1)
        logs = {f"{k}_loss": v for k, v in averaged.items()}
        logs.update({k: self._average(v) for k, v in metrics.items()})
        return logs

    def _average(self, per_example):
        """Mean over the global batch: sum here / (local batch x replicas); SUM-reduced later."""
        per_example = tf.cast(per_example, tf.float32)
        global_batch = tf.cast(tf.shape(per_example)[0], tf.float32) * tf.cast(
            tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32)
        return tf.reduce_sum(per_example) / global_batch


class GANStep(TrainStep):
    """Unconditional GAN (lessons 01 and 02): G(noise) against D, simultaneous updates.

    One forward pass of G and two of D serve both losses; D's gradient comes from its loss
    and G's from its own, through the same graph.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 g_optimizer, d_optimizer, loss: AdversarialLoss | None = None,
                 seed: int = 0, jit_compile: bool = False):
        self.loss = loss or AdversarialLoss()
        self.latent_dim = int(generator.inputs[0].shape[-1])
        super().__init__({"generator": generator, "discriminator": discriminator},
                         {"generator": g_optimizer, "discriminator": d_optimizer},
                         seed=seed, jit_compile=jit_compile)

    def losses(self, real, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        noise_seed, label_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        noise = tf.random.stateless_normal([tf.shape(real)[0], self.latent_dim], noise_seed)
        fake = g(noise, training=True)
        return self.adversarial(d(real, training=True), d(fake, training=True), label_seed)

    def adversarial(self, real_logits, fake_logits, flip_seed):
        """Both networks' per-example losses, and D's accuracies, from D's logits."""
        real_logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
        fake_logits = tf.reshape(tf.cast(fake_logits, tf.float32), [-1])
        losses = {
            "discriminator": self.loss.discriminator(
                real_logits[:, None], fake_logits[:, None],
                seed=flip_seed if self.loss.flip_prob else None),
            "generator": self.loss.generator(fake_logits[:, None]),
        }
        metrics = {  # the share of real and of fake samples D gets right
            "d_real_acc": tf.cast(real_logits > 0, tf.float32),
            "d_fake_acc": tf.cast(fake_logits < 0, tf.float32),
        }
        return losses, metrics


class ConditionalGANStep(GANStep):
    """Conditional GAN (lesson 03): G(noise, label) against D(image, label).

    Batches are (images, labels). Fakes get labels drawn uniformly from `num_classes`, and D
    sees every image with its label, so G is rewarded only for signs of the class it was asked
    for. Same loss object, same game as `GANStep`.

    `mismatch_weight` > 0 makes D matching-aware (Reed et al., 2016, "GAN-CLS"): real images
    shown with a wrong label are a third kind of negative, so D learns what sets the classes
    apart from real data from the first step, not only from G's mistakes. D's loss becomes
    real + (fake + w * mismatched) / (1 + w) per example.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, num_classes: int,
                 mismatch_weight: float = 0.0, **kwargs):
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise ValueError("a conditional GAN needs G(noise, label) and D(image, label), "
                             "two inputs each.")
        if mismatch_weight < 0:
            raise ValueError(f"mismatch_weight {mismatch_weight} must be >= 0.")
        self.num_classes = int(num_classes)
        self.mismatch_weight = float(mismatch_weight)
        super().__init__(generator, discriminator, **kwargs)

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        real, labels = batch
        labels = tf.cast(labels, tf.int32)
        fake_seed, flip_seed, wrong_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
        n = tf.shape(real)[0]
        fake, fake_labels = conditional_fakes(g, n, self.num_classes, fake_seed)
        real_logits = d([real, labels], training=True)
        fake_logits = d([fake, fake_labels], training=True)
        losses, metrics = self.adversarial(real_logits, fake_logits, flip_seed)
        if self.mismatch_weight:
            wrong = other_labels(labels, self.num_classes, wrong_seed)
            wrong_logits = tf.cast(d([real, wrong], training=True), tf.float32)
            w = self.mismatch_weight
            flips = tf.unstack(tf.random.experimental.stateless_split(flip_seed, 3))
            losses["discriminator"] = self.loss.on_real(real_logits, flips[0]) + (
                self.loss.on_fake(fake_logits, flips[1])
                + w * self.loss.on_fake(wrong_logits, flips[2])) / (1 + w)
            metrics["d_mismatch_acc"] = tf.cast(tf.reshape(wrong_logits, [-1]) < 0, tf.float32)
        return losses, metrics


class ACGANStep(GANStep):
    """AC-GAN (lesson 05): G(noise, label) against D(image) -> [real/fake logit, class logits].

    Batches are (images, labels); fakes get labels drawn uniformly from `num_classes`. The
    adversarial part is `GANStep.adversarial`, unchanged. The auxiliary classifier adds a
    cross-entropy term to both losses (Odena et al., 2017):

        D: adversarial + class_weight * (CE(real classes, labels)
                                         + fake_class_weight * CE(fake classes, asked labels))
        G: adversarial + class_weight * CE(fake classes, asked labels)

    D learns the classes from real images (and, as in the paper, from G's images with the
    labels G was asked for); G is rewarded for images D's class head files under the label it
    was given. `fake_class_weight=0` trains the class head on real images only.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, num_classes: int,
                 class_weight: float = 1.0, fake_class_weight: float = 1.0, **kwargs):
        if len(generator.inputs) != 2:
            raise ValueError("an AC-GAN needs G(noise, label), a generator with two inputs.")
        if len(discriminator.inputs) != 1 or len(discriminator.outputs) != 2:
            raise ValueError("an AC-GAN needs D(image) -> [logit, class_logits], one input "
                             "and two outputs (see build_acgan_discriminator).")
        heads = int(discriminator.outputs[1].shape[-1])
        if heads != num_classes:
            raise ValueError(f"D's class head predicts {heads} classes, not {num_classes}.")
        if class_weight < 0 or fake_class_weight < 0:
            raise ValueError("class_weight and fake_class_weight must be >= 0, got "
                             f"{class_weight} and {fake_class_weight}.")
        self.num_classes = int(num_classes)
        self.class_weight = float(class_weight)
        self.fake_class_weight = float(fake_class_weight)
        super().__init__(generator, discriminator, **kwargs)

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        real, labels = batch
        labels = tf.cast(labels, tf.int32)
        fake_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        fake, fake_labels = conditional_fakes(g, tf.shape(real)[0], self.num_classes, fake_seed)
        real_logits, real_classes = d(real, training=True)
        fake_logits, fake_classes = d(fake, training=True)
        losses, metrics = self.adversarial(real_logits, fake_logits, flip_seed)
        real_ce = self.class_loss(labels, real_classes)
        fake_ce = self.class_loss(fake_labels, fake_classes)
        w = self.class_weight
        losses["discriminator"] += w * (real_ce + self.fake_class_weight * fake_ce)
        losses["generator"] += w * fake_ce
        metrics.update(
            real_class_loss=real_ce, fake_class_loss=fake_ce,
            # the share of real images, and of G's images, D's class head files correctly
            d_real_class_acc=class_hits(real_classes, labels),
            d_fake_class_acc=class_hits(fake_classes, fake_labels),
        )  # fmt: skip
        return losses, metrics

    @staticmethod
    def class_loss(labels, class_logits):
        """Per-example cross-entropy of the class head against the labels."""
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=tf.cast(class_logits, tf.float32))


class SemiSupervisedGANStep(TrainStep):
    """Semi-supervised GAN (lesson 06): D is a K-class classifier; a labels-only baseline
    with the same architecture trains on the same labelled batches in the same step.

    Batches are (unlabelled images, (labelled images, labels)), both of the same size.
    D's loss per example: cross-entropy on the labelled image + `unsupervised_weight` x the
    GAN loss on an unlabelled and a generated image, with D's real/fake logit the logsumexp of
    its class logits (Salimans et al., 2016). G's loss is feature matching: the squared gap
    between the mean features D computes for real and for generated images (the same value
    for every example of the batch), which suits a classifier better than fooling D outright;
    `feature_matching=False` uses the non-saturating loss on D's derived logit instead.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 baseline: keras.Model, *, g_optimizer, d_optimizer, baseline_optimizer,
                 unsupervised_weight: float = 1.0, feature_matching: bool = True,
                 seed: int = 0, jit_compile: bool = False):
        if len(discriminator.outputs) != 2:
            raise ValueError("the semi-supervised D must return [class logits, features].")
        if unsupervised_weight < 0:
            raise ValueError(f"unsupervised_weight {unsupervised_weight} must be >= 0.")
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.unsupervised_weight = float(unsupervised_weight)
        self.feature_matching = bool(feature_matching)
        super().__init__(
            {"generator": generator, "discriminator": discriminator, "baseline": baseline},
            {"generator": g_optimizer, "discriminator": d_optimizer,
             "baseline": baseline_optimizer},
            seed=seed, jit_compile=jit_compile)

    def losses(self, batch, seed):
        g, d, baseline = (self.networks[k] for k in ("generator", "discriminator", "baseline"))
        unlabelled, (labelled, labels) = batch
        labels = tf.cast(labels, tf.int32)
        noise = tf.random.stateless_normal([tf.shape(unlabelled)[0], self.latent_dim], seed)
        fake = g(noise, training=True)
        class_logits = tf.cast(d(labelled, training=True)[0], tf.float32)
        real_logits, real_features = (tf.cast(t, tf.float32) for t in d(unlabelled, training=True))
        fake_logits, fake_features = (tf.cast(t, tf.float32) for t in d(fake, training=True))
        baseline_logits = tf.cast(baseline(labelled, training=True)[0], tf.float32)

        real_lse = tf.reduce_logsumexp(real_logits, axis=-1)  # D's real/fake logit
        fake_lse = tf.reduce_logsumexp(fake_logits, axis=-1)
        supervised = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, class_logits)
        unsupervised = tf.nn.softplus(-real_lse) + tf.nn.softplus(fake_lse)
        if self.feature_matching:
            gap = tf.reduce_mean(real_features, 0) - tf.reduce_mean(fake_features, 0)
            g_loss = tf.fill(tf.shape(fake_lse), tf.reduce_mean(tf.square(gap)))
        else:  # non-saturating: -log D(G(z)) with D's derived logit
            g_loss = tf.nn.softplus(-fake_lse)
        losses = {
            "discriminator": supervised + self.unsupervised_weight * unsupervised,
            "generator": g_loss,
            "baseline": tf.nn.sparse_softmax_cross_entropy_with_logits(labels, baseline_logits),
        }
        metrics = {
            "d_real_acc": tf.cast(real_lse > 0, tf.float32),
            "d_fake_acc": tf.cast(fake_lse < 0, tf.float32),
            "d_labelled_acc": class_hits(class_logits, labels),
            "baseline_labelled_acc": class_hits(baseline_logits, labels),
        }
        return losses, metrics


# --- helpers the conditional steps share ------------------------------------------------------
def conditional_fakes(generator: keras.Model, n, num_classes: int, seed):
    """n fakes of classes drawn uniformly, from stateless noise: (images, labels)."""
    noise_seed, class_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    latent_dim = int(generator.inputs[0].shape[-1])
    noise = tf.random.stateless_normal([n, latent_dim], noise_seed)
    labels = tf.random.stateless_uniform([n], class_seed, 0, num_classes, dtype=tf.int32)
    return generator([noise, labels], training=True), labels


def class_hits(class_logits, labels):
    """1.0 where the arg-max class is the label, else 0.0 (per example)."""
    predicted = tf.argmax(class_logits, -1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32)


def other_labels(labels, num_classes: int, seed):
    """For each label, a class drawn uniformly from the *other* classes (label + 1..K-1, mod K)."""
    labels = tf.cast(labels, tf.int32)
    shift = tf.random.stateless_uniform(tf.shape(labels), seed, 1, num_classes, dtype=tf.int32)
    return (labels + shift) % num_classes
