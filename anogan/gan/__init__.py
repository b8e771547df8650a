"""The GAN stage: the document's DCGAN, its training, and the model bundle it leaves.

* :mod:`~anogan.gan.networks`: the generator, discriminator and encoder builders.
* :mod:`~anogan.gan.trainer`: the document's ``train_step`` (two
  ``GradientTape``s, ``BinaryCrossentropy(from_logits=True)``, Adam), with
  optional weight averages beside it.
* :mod:`~anogan.gan.training`: :class:`~anogan.gan.training.TrainConfig`,
  the epoch loop, checkpoints and exact resume; :mod:`~anogan.gan.callbacks`
  its side effects (history, sample grids, TensorBoard, checkpoints, progress).
* :mod:`~anogan.gan.health`: the generator's Fréchet distance, KID,
  precision/recall, density/coverage and near-duplicates against halves of
  the normal validation images, in a fixed random feature network;
  :mod:`~anogan.gan.monitor` measures them while training and calls
  collapse, discriminator dominance and divergence.
* :mod:`~anogan.gan.bundle`: the bundle on disk (models, normal validation
  and training images, ``bundle.json``), loaded without running code from it.

Input: normal training images from :mod:`anogan.data`. Output: a
:class:`~anogan.gan.bundle.Bundle`. Nothing here scores images.
"""
