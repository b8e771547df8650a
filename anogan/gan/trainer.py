"""The document's GAN training step, and the weight averages that sit beside it.

:class:`GANTrainer` holds G, D and their two Adam optimisers; its
``train_step`` is the document's: noise ~ N(0, 1), two ``GradientTape``s,
``BinaryCrossentropy(from_logits=True)``. Adam's learning rate and β₁ and an
exponential moving average of each network's weights are options measured
against the document's settings (the ``document`` recipe keeps them exactly).
"""

from __future__ import annotations

import numpy as np

from anogan.errors import AnoganError
from anogan.gan.augment import DiffAugment

# the document's Adam(1e-4), with Keras' default beta_1
GAN_LEARNING_RATE = 1e-4
GAN_BETA_1 = 0.9


def _adam(ema_momentum: float, learning_rate: float, beta_1: float):
    """Adam (the document's: 1e-4, Keras' beta_1 0.9), keeping a moving average of the weights when
    ``ema_momentum`` > 0."""
    import keras

    if ema_momentum > 0:
        return keras.optimizers.Adam(learning_rate, beta_1=beta_1, use_ema=True, ema_momentum=ema_momentum)
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)


class GANTrainer:
    """The document's DCGAN training step around a generator and a discriminator.

    Args:
        generator, discriminator: Keras models from :mod:`anogan.gan.networks`.
        seed: seeds the training noise.
        jit_compile: compile the step with XLA. Off by default: on the 2-core
            CPUs we measured, the plain ``tf.function`` graph trains about
            1.8x faster than XLA at batch 256.
        generator_ema: when above 0, G's optimiser also keeps an exponential
            moving average of G's weights with this momentum (Keras'
            ``use_ema``), updated after each step's update and left out of
            training; :meth:`use_weight_averages` puts it into G at the end.
        discriminator_ema: the same for D: the saved D (the scorers' feature
            map) is the average, while training uses the raw D throughout.
        learning_rate, beta_1: Adam's, for both networks (the document's
            1e-4 and Keras' 0.9 by default; DCGAN's paper used 2e-4 and 0.5).
        augment: a DiffAugment policy (:mod:`anogan.gan.augment`) for every image D sees in
            training; ``""`` (the document's) shows D the images as they are.
    """

    def __init__(self, generator, discriminator, seed: int = 0, jit_compile: bool = False,
                 generator_ema: float = 0.0, discriminator_ema: float = 0.0,
                 learning_rate: float = GAN_LEARNING_RATE, beta_1: float = GAN_BETA_1, augment: str = ""):
        import keras
        import tensorflow as tf

        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = _adam(generator_ema, learning_rate, beta_1)
        self.discriminator_optimizer = _adam(discriminator_ema, learning_rate, beta_1)
        self.generator_optimizer.build(generator.trainable_variables)
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.noise = tf.random.Generator.from_seed(seed)
        self.augment = DiffAugment(augment, seed) if augment else None
        self.train_step = tf.function(self._train_step, jit_compile=jit_compile)
        self._averaged = None

    def generator_loss(self, fake_output):
        import tensorflow as tf

        return self.cross_entropy(tf.ones_like(fake_output), fake_output)

    def discriminator_loss(self, real_output, fake_output):
        import tensorflow as tf

        real_loss = self.cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def _train_step(self, images):
        import tensorflow as tf

        noise = self.noise.normal([tf.shape(images)[0], self.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.discriminator(self._seen_by_d(images), training=True)
            fake_output = self.discriminator(self._seen_by_d(generated_images), training=True)
            gen_loss = self.generator_loss(fake_output)
            disc_loss = self.discriminator_loss(real_output, fake_output)
        gen_gradients = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        disc_gradients = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gen_gradients, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(disc_gradients, self.discriminator.trainable_variables)
        )
        return gen_loss, disc_loss

    def _seen_by_d(self, images):
        return images if self.augment is None else self.augment(images)

    def averaged_generator(self):
        """The generator the bundle will get: G itself, or, with G's EMA on, a copy holding the current
        moving averages (its batch-norm statistics are G's). Training is not touched."""
        if not self.generator_optimizer.use_ema:
            return self.generator
        import keras

        if self._averaged is None:
            self._averaged = keras.models.clone_model(self.generator)
        self._averaged.set_weights(self.generator.get_weights())
        # Keras keeps the averages in this (private) list, aligned with the variables the optimiser was built on
        for variable, average in zip(self._averaged.trainable_variables,
                                     self.generator_optimizer._model_variables_moving_average):
            variable.assign(average)
        return self._averaged

    def use_weight_averages(self) -> None:
        """Give G and D the moving averages of their weights (each a no-op without its EMA); call after training."""
        self.generator_optimizer.finalize_variable_values(self.generator.trainable_variables)
        self.discriminator_optimizer.finalize_variable_values(self.discriminator.trainable_variables)

    def _dropout_states(self) -> list:
        """The random states of the Dropout layers: not in the saved models, but a resumed run needs them
        to draw the masks an uninterrupted run would."""
        return [layer.seed_generator.state for model in (self.generator, self.discriminator)
                for layer in model.layers if hasattr(layer, "seed_generator")]

    def optimizer_state(self) -> dict[str, np.ndarray]:
        state = {}
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            for i, variable in enumerate(optimizer.variables):
                state[f"{name}_{i:04d}"] = np.asarray(variable)
        for i, variable in enumerate(self._dropout_states()):
            state[f"dropout_{i:04d}"] = np.asarray(variable)
        state["noise_state"] = self.noise.state.numpy()
        if self.augment is not None:
            state["augment_state"] = self.augment.state.numpy()
        return state

    def restore_optimizer_state(self, state: dict[str, np.ndarray]) -> None:
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            keys = sorted(k for k in state if k.startswith(f"{name}_"))
            if len(keys) != len(optimizer.variables):
                raise AnoganError("checkpoint optimiser state does not match the model")
            for key, variable in zip(keys, optimizer.variables):
                variable.assign(state[key])
        # checkpoints written before the Dropout states were saved resume with fresh ones
        for key, variable in zip(sorted(k for k in state if k.startswith("dropout_")), self._dropout_states()):
            variable.assign(state[key])
        self.noise.reset(state["noise_state"])
        if self.augment is not None and "augment_state" in state:
            self.augment.random.reset(state["augment_state"])
