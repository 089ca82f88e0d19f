"""Our Lava processes, each a package with ``process.py`` (ports, Vars) and ``models.py``
(``fixed_pt`` bit-accurate and ``floating_pt`` ProcessModels), as Lava's own ``lava.proc``:

=================== ==================================================================
``tasa``             :class:`TASADense`: TASA delay-weight synapse, every tap in one process
``attention``        :class:`SpikingAttention`: ``2^-shift AD_h[Q K^T] V`` per head
``delay``            :class:`SpikeDelay`: aligns residual paths
``source``           :class:`FrameSource`: streams integer input frames
``recorder``         :class:`Recorder`: writes a port into a memory-mapped ``.npy`` file
=================== ==================================================================
"""
