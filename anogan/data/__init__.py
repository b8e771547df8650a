"""Data: images in, as ``uint8`` arrays ``(N, 28, 28)``, and the one-class protocol over them.

* :mod:`~anogan.data.images`: one decoder for every image file (any size,
  colour or bit depth to 28×28 grayscale), with size limits; PNG writing.
* :mod:`~anogan.data.datasets`: MNIST, Fashion-MNIST (Keras loaders or local
  ``.npz`` / IDX files), the embedded ``mnist-5k`` and folders of class
  subfolders, as :class:`~anogan.data.datasets.Dataset`; the model's pixel range.
* :mod:`~anogan.data.protocol`: the one-class split (train on normal
  classes only, hold out normal validation images) and the dev split where
  choices are made.
* :mod:`~anogan.data.inputs`: what a user scores (folders, ``.npz``,
  dataset splits, uploads), decoded lazily, each input with its class or its error.

Nothing here knows about models.
"""
