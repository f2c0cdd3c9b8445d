"""Exception types and the CLI exit codes they map to.

Every failure a user can cause is one of these, so the CLI can print one line
and exit with a documented code instead of a traceback.
"""

__all__ = ["WaveCodecError", "InputError", "FormatError", "OutputError", "EXIT_CODES"]


class WaveCodecError(Exception):
    """Base class of every error WaveCodec raises on purpose."""

    exit_code = 1


class InputError(WaveCodecError):
    """The signal or option given to the encoder cannot be coded."""

    exit_code = 3


class FormatError(WaveCodecError):
    """A compressed stream is corrupt, truncated or of an unsupported kind."""

    exit_code = 4


class OutputError(WaveCodecError):
    """The output cannot be written (exists, missing directory, no permission)."""

    exit_code = 5


EXIT_CODES = {
    0: "success",
    1: "internal error (a bug: please report it with --debug output)",
    2: "usage error (bad option or argument)",
    InputError.exit_code: "bad input signal (not an image, empty, unsupported)",
    FormatError.exit_code: "bad compressed file (corrupt, truncated, unknown version or mode)",
    OutputError.exit_code: "output cannot be written (exists without --force, missing directory)",
}
