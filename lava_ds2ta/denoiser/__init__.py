"""Attention-map denoisers: the nonlinear spiking attention denoiser (NSAD)."""

from lava_ds2ta.denoiser.nsad import NSAD

__all__ = ["NSAD"]
