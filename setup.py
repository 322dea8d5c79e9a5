"""The one compiled part of ecozone; everything else is declared in pyproject.toml.

``zoning/check/_segments.c`` is the candidate loop of the nearest search (see
:mod:`zoning.check.nearest`): plain C on the buffer protocol, no numpy headers.
``-ffp-contract=off`` keeps every multiply and add separate (no fused multiply-add),
so that each build and platform gives the bits of the arithmetic documented there.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "zoning.check._segments",
            sources=["zoning/check/_segments.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
        )
    ]
)
