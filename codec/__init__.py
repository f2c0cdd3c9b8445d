"""WaveCodec: wavelet-packet compression for images and other signals (placeholder, filled in by the API work)."""
