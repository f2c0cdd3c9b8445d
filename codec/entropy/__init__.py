"""Entropy coding driven only by integer frequency tables.

Only integers cross the encoder/decoder boundary, so the bitstream is a function of
the symbols and the tables alone, never of floating-point details::

    float pmf --quantize_pmf / *_table_family--> integer freqs (built once, shipped)
    freqs --Table(freqs, offset, escape, precision)--> Table
    int values + Table --Encoder.encode (any number of batches)--> Encoder.finish() -> bytes
    bytes --Decoder(data).decode(count, Table), same order--> int32 values
    Decoder.finish() -> FormatError unless the bytes were exactly what was decoded
"""

from codec.entropy.coder import Decoder, Encoder
from codec.entropy.tables import (
    MAX_PRECISION,
    Table,
    gaussian_table_family,
    laplace_table_family,
    quantize_pmf,
)

__all__ = [
    "MAX_PRECISION",
    "Table",
    "quantize_pmf",
    "laplace_table_family",
    "gaussian_table_family",
    "Encoder",
    "Decoder",
]
