"""Scoring methods, one module per family, each a registered :class:`~anogan.scoring.methods.base.ScoringMethod`.

Every module in this folder is imported here, and each registers its
methods by name, so the command line's ``--method`` choices, the
dashboard's, the benchmark's candidates and the Ray actors all come from
this registry. Adding a method is one new module here (a subclass of
``ScoringMethod`` decorated with ``@register``) plus its tests; the
settings it reads are fields of :class:`~anogan.scoring.settings.ScoringSettings`.
Modules import TensorFlow only inside their methods, so listing the
methods stays instant.
"""

from __future__ import annotations

import importlib
import pkgutil

from anogan.errors import AnoganError
from anogan.scoring.methods.base import ScoringMethod, registered

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

METHODS = tuple(registered())


def get_method(name: str) -> type[ScoringMethod]:
    """The method called ``name``, or an error listing the methods."""
    check_methods(name)
    return registered()[name]


def check_methods(methods) -> list[str]:
    """``methods`` as a list, or an error naming the first unknown one."""
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise AnoganError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    return methods


def encoder_methods() -> tuple[str, ...]:
    """The methods that run the f-AnoGAN encoder (their calibrations go when the encoder is replaced)."""
    return tuple(name for name, method in registered().items() if method.needs_encoder)


def available_methods(bundle, settings=None) -> list[str]:
    """The methods ``bundle`` can score with (with ``settings``; default: their defaults), fastest first."""
    return [name for name, method in registered().items()
            if (not method.needs_encoder or bundle.encoder is not None)
            and (not method.needs_reference(settings) or bundle.has_reference())]
