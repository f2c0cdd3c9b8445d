"""Published Kodak results drawn as dashed reference curves, each with where it comes from.

Mean per-image RGB PSNR (dB) at the listed bpp, as collected in ``shared/DESIGN.md`` ("Reference
numbers") from the cited papers and their repositories. These are other people's measurements,
never re-run here: the plots label them as such.
"""

from dataclasses import dataclass

__all__ = ["Reference", "KODAK_PSNR"]


@dataclass(frozen=True)
class Reference:
    name: str
    source: str
    bpp: tuple[float, ...]
    psnr: tuple[float, ...]


KODAK_PSNR = (
    Reference("BPG 4:4:4", "F. Bellard, BPG image format (libbpg, x265), 4:4:4", (0.25, 0.5, 1.0), (30.2, 33.2, 37.1)),
    Reference("VTM", "VVC reference software (VTM), intra", (0.25, 0.5, 1.0), (31.3, 34.4, 38.2)),
    Reference(
        "WaLLoC 16x",
        "Jacobellis & Yadwadkar, Learned Compression for Compressed Learning, DCC 2025, arXiv:2412.09405",
        (0.617,),
        (30.56,),
    ),
    Reference(
        "RECOMBINER",
        "He et al., RECOMBINER: Robust and Enhanced Compression with Bayesian Implicit Neural Representations, ICLR 2024",
        (0.25, 0.5),
        (29.7, 32.0),
    ),
    Reference(
        "C3",
        "Kim et al., C3: High-performance and low-complexity neural compression from a single image or video, CVPR 2024",
        (0.25, 0.5, 1.0),
        (30.9, 34.2, 38.5),
    ),
    Reference(
        "Cool-chic 5.0",
        "Ladune, Philippe et al. (Orange), Cool-chic 5.0 release, github.com/Orange-OpenSource/Cool-Chic",
        (0.25, 0.5, 1.0),
        (31.4, 34.7, 39.0),
    ),
)
