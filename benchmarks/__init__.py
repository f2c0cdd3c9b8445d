"""Rate-distortion benchmark harness: WaveCodec against the codecs a user would pick instead.

Run it as ``wavecodec bench`` or ``python -m benchmarks``; see ``benchmarks/cli.py`` for the
options and ``benchmarks/results/`` for committed results with the command that made them.
"""
