"""SpikingAttention: per-head spiking attention with the NSAD lookup (DS2TA Eq. 6-7)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class SpikingAttention(AbstractProcess):
    """``a = 2^-shift * AD_h[Q_h K_h^T] V_h`` per head and time step, in the same step.

    A product of two dynamic spike trains has no native synapse on Loihi 2; this process is
    meant for the embedded CPU. Q, K and V arrive as flat vectors of ``tokens x D`` binary spikes
    in Lava's ``W, H, C`` order (channel ``h d + c`` of a token is element ``c`` of head ``h``);
    the output, in the same order, is the input current of the attention LIF, in 8-bit weight units
    (fixed point: ``out * 2^(6 - shift)``) or real units (floating point: ``out * 2^-shift``).

    Parameters
    ----------
    num_heads, head_dim, tokens:
        attention geometry (``D = num_heads * head_dim``).
    tables:
        ``(H, d+1)`` integer NSAD tables, or ``None`` for Spikformer's ``A = S``.
    scale_shift:
        the attention scale ``2^-shift`` (<= 6).
    """

    def __init__(
        self,
        *,
        num_heads: int,
        head_dim: int,
        tokens: int,
        tables: np.ndarray | None,
        scale_shift: int,
        name: str = "attention",
    ) -> None:
        if tables is None:
            tables = np.tile(np.arange(head_dim + 1), (num_heads, 1))
        super().__init__(
            num_heads=num_heads,
            head_dim=head_dim,
            tokens=tokens,
            scale_shift=scale_shift,
            name=name,
        )
        n = num_heads * head_dim * tokens
        self.q_in = InPort(shape=(n,))
        self.k_in = InPort(shape=(n,))
        self.v_in = InPort(shape=(n,))
        self.a_out = OutPort(shape=(n,))
        self.tables = Var(shape=tables.shape, init=tables)
