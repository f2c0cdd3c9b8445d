"""The one error type the harness raises on purpose, so the CLI can print a line, not a traceback."""

__all__ = ["BenchError"]


class BenchError(Exception):
    """Bad input or setup that stops a benchmark run (empty folder, no usable codec, ...).

    ``exit_code`` follows WaveCodec's CLI: 2 for a bad option, 3 for bad input data.
    """

    def __init__(self, message: str, exit_code: int = 3):
        super().__init__(message)
        self.exit_code = exit_code
