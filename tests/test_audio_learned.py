"""The learned audio mode: the linear stream, a trained decoder network, its model file and training."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import codec
from codec import bitstream
from codec.api import encode_audio
from codec.errors import FormatError, InputError
from codec.io.audio import read_audio
from codec.modes.audio import CHUNK_FRAMES, quality_to_step
from codec.zoo import AUDIO_LEARNED_MODEL, get_audio_learned_model
from tests.test_audio import MUSIC, as_dtype, music_like, run, snr

MIN_STEP = get_audio_learned_model().config["min_step"]
COARSE = 20        # a quality whose step the network corrects
FINE = 70          # one it leaves to the linear inverse


def test_shipped_model_corrects_low_rates_and_leaves_high_rates_alone():
    assert quality_to_step(COARSE) >= MIN_STEP > quality_to_step(FINE)


def test_learned_file_holds_the_linear_streams_values():
    x = as_dtype(music_like(30000, 2, 22050), "int16")
    linear, learned = (encode_audio(x, 22050, quality=COARSE, mode=m) for m in ("linear", "learned"))
    (h1, c1), (h2, c2) = bitstream.unpack(linear), bitstream.unpack(learned)
    assert [c[1:] for c in c2] == c1 and h1.params == h2.params and h1.step == h2.step
    assert all(c[0] in (0, 1) for c in c2)  # each window's switch: 1 = the network decodes it
    assert (h2.mode, h2.model) == ("learned", AUDIO_LEARNED_MODEL)


@pytest.mark.parametrize("signal", ["tones", "noise", "clicks", "chirp"])
def test_learned_decode_is_never_worse_than_linear(signal):
    """The encoder switches the network off in windows where it would raise the error."""
    rate, n = 16000, 70000
    rng = np.random.default_rng(5)
    t = np.arange(n) / rate
    x = {"tones": music_like(n, 1, rate)[:, 0],
         "noise": 0.3 * rng.standard_normal(n),
         "clicks": np.where(rng.random(n) < 0.002, 0.9, 0.0) * rng.choice([-1, 1], n),
         "chirp": 0.5 * np.sin(2 * np.pi * (50 + 2000 * t) * t)}[signal]
    x = as_dtype(np.clip(x, -1, 1), "int16")
    for q in (5, 20, 40):
        lin = snr(x, codec.decode(encode_audio(x, rate, quality=q)))
        assert snr(x, codec.decode(encode_audio(x, rate, quality=q, mode="learned"))) >= lin - 0.01


def test_bad_window_switch_is_a_format_error():
    x = as_dtype(music_like(5000, 1, 8000), "int16")
    header, chunks = bitstream.unpack(encode_audio(x, 8000, quality=COARSE, mode="learned"))
    for bad in (b"\x02" + chunks[0][1:], b""):
        with pytest.raises(FormatError, match="flag"):
            codec.decode(bitstream.pack(dataclasses.replace(header, chunk_lengths=()), [bad]))


@pytest.mark.parametrize("shape,dtype", [((30000,), "int16"), ((30000, 2), "int16"), ((30000, 3), "float32"),
                                         ((30000, 1), "int32")])
def test_round_trip_keeps_shape_and_dtype_and_stays_near_the_linear_decode(shape, dtype):
    channels = shape[1] if len(shape) == 2 else 1
    x = as_dtype(music_like(shape[0], channels, 44100, seed=1), dtype).reshape(shape)
    y_lin = codec.decode(encode_audio(x, 44100, quality=COARSE))
    y = codec.decode(encode_audio(x, 44100, quality=COARSE, mode="learned"))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert snr(x, y) >= snr(x, y_lin) - 0.01


def test_fine_steps_decode_exactly_as_the_linear_mode():
    x = as_dtype(music_like(20000, 1, 44100), "int16")
    assert np.array_equal(codec.decode(encode_audio(x, 44100, quality=FINE, mode="learned")),
                          codec.decode(encode_audio(x, 44100, quality=FINE)))


@pytest.mark.skipif(not MUSIC.is_dir() or len(list(MUSIC.glob("*.flac"))) < 3, reason="no shared music data")
@pytest.mark.parametrize("channels", [1, 2])
def test_learned_decode_beats_linear_on_the_validation_music(channels):
    """The validation file (second last by name) was never trained on; 10 s from its middle
    (stereo: left and right from two places in it, the channel KLT between them)."""
    path = sorted(MUSIC.glob("*.flac"))[-2]
    x, rate, _ = read_audio(path, path.name)
    starts = (len(x) // 2, len(x) // 4)[:channels]
    x = np.concatenate([x[s:s + 10 * rate, :1] for s in starts], axis=1)
    data = encode_audio(x, rate, quality=COARSE, mode="learned")
    assert all(c[0] == 1 for c in bitstream.unpack(data)[1])
    gain = snr(x, codec.decode(data)) - snr(x, codec.decode(encode_audio(x, rate, quality=COARSE)))
    assert gain > 0.05


def test_chunk_borders_error_matches_interior():
    x = as_dtype(music_like(2 * CHUNK_FRAMES + 30000, 1, 44100, seed=3), "int16")
    data = encode_audio(x, 44100, quality=COARSE, mode="learned")
    err = (x.astype(np.float64) - codec.decode(data)) ** 2
    near = np.concatenate([err[b - 256:b + 256] for b in (CHUNK_FRAMES, 2 * CHUNK_FRAMES)])
    interior = err[10000:CHUNK_FRAMES - 10000]
    assert near.mean() < 1.25 * interior.mean()


def test_kbps_works_in_the_learned_mode():
    x = as_dtype(music_like(44100, 1, 44100), "int16")
    data = encode_audio(x, 44100, kbps=48.0, mode="learned")
    assert len(data) * 8 / 1000 <= 48.0 and codec.info(data).header.mode == "learned"


def _with_header(data: bytes, **changes) -> bytes:
    header, chunks = bitstream.unpack(data)
    return bitstream.pack(header.__class__(**{**header.__dict__, **changes}), chunks)


def test_wrong_weights_or_model_are_format_errors():
    data = encode_audio(as_dtype(music_like(5000, 1, 8000), "int16"), 8000, mode="learned")
    with pytest.raises(FormatError, match="other weights"):
        codec.decode(_with_header(data, model_hash=bytes(8)))
    with pytest.raises(FormatError, match="unknown learned audio model"):
        codec.decode(_with_header(data, model="learned-v3"))


def test_unknown_audio_mode_is_an_input_error():
    with pytest.raises(InputError, match="linear or learned"):
        encode_audio(np.zeros(100, np.int16), 8000, mode="inr")


def test_cli_encodes_and_decodes_audio_in_the_learned_mode(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, as_dtype(music_like(22050, 2, 22050), "int16"), 22050, subtype="PCM_16")
    r = run("encode", wav, "--mode", "learned", "-q", COARSE)
    assert r.returncode == 0 and b", learned," in r.stderr
    assert b"learned" in run("info", wav.with_suffix(".wlc")).stdout
    r = run("decode", wav.with_suffix(".wlc"), "-o", tmp_path / "b.flac")
    assert r.returncode == 0
    y, rate = sf.read(tmp_path / "b.flac", dtype="int16")
    assert y.shape == (22050, 2) and rate == 22050


def test_network_cost_is_counted_from_its_layers():
    from codec.models.audio_decoder import audio_cost

    cost = audio_cost(get_audio_learned_model().decoder())
    assert 500 < cost["macs_per_sample"] < 5000 and cost["parameters"] > 10000


def test_min_helpful_step_stops_at_the_first_quality_without_gain():
    from codec.train.audio import min_helpful_step

    assert min_helpful_step({10: 0.2, 20: 0.1, 30: -0.01, 40: 0.05}) == pytest.approx(quality_to_step(20), rel=1e-6)
    assert min_helpful_step({10: -0.1, 20: 0.3}) == float("inf")


def test_training_writes_a_loadable_model(tmp_path):
    from codec.models.export import load_learned_model
    from codec.train.audio import train_audio

    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(tmp_path / f"m{i}.flac", as_dtype(music_like(70000, 1, 44100, seed=i), "int16"), 44100)
    (tmp_path / "m3.flac").write_bytes(b"not audio: the benchmark's file is never read")
    meta = train_audio(tmp_path, tmp_path / "net.npz", steps=3, batch=2, crop=32, say=lambda *_: None)
    assert meta["train_files"] == ["m0.flac", "m1.flac"] and meta["validation_file"] == "m2.flac"
    model = load_learned_model(str(tmp_path / "net.npz"))
    y = rng.standard_normal((256, 40)).astype(np.float32)
    from codec.modes.learned_audio import corrector

    assert corrector(model, 1)(y, 100.0).shape == y.shape


def test_training_refuses_a_folder_without_enough_files(tmp_path):
    from codec.train.audio import main

    with pytest.raises(SystemExit, match="at least 3"):
        main(["--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="no such folder"):
        main(["--data", str(tmp_path / "missing")])


def test_thread_count_moves_the_decode_by_at_most_one_step_of_the_output():
    """Entropy decoding is integer (the linear stream's); the network's float sums may round
    differently with another thread count, by at most one unit of the int16 output."""
    code = ("import sys, numpy as np, codec; from codec.api import encode_audio;"
            "x = (np.sin(np.arange(40000) * 0.05)[:, None] * [9000, 7000]).astype(np.int16);"
            "x += np.random.default_rng(0).integers(-300, 300, x.shape).astype(np.int16);"
            f"sys.stdout.buffer.write(codec.decode(encode_audio(x, 44100, quality={COARSE}, mode='learned')).tobytes())")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                           env={**__import__("os").environ, "OMP_NUM_THREADS": n}).stdout for n in ("1", "2")]
    a, b = (np.frombuffer(o, np.int16).astype(np.int32) for o in outs)
    assert len(a) == 80000 and np.abs(a - b).max() <= 1


def test_shipped_model_file_says_how_it_was_made():
    meta = get_audio_learned_model().meta
    assert Path(meta["data"]).name == "music" and meta["validation_file"] not in meta["train_files"]
    assert "wesnoth_into_the_shadows.flac" not in meta["train_files"] + [meta["validation_file"]]


def test_numpy_network_equals_the_torch_module():
    import torch

    from codec.modes.learned_audio import network

    model = get_audio_learned_model()
    y = np.random.default_rng(1).standard_normal((256, 300)).astype(np.float32) * 200
    with torch.inference_mode():
        ref = model.decoder()(torch.from_numpy(y)[None], torch.tensor([60.0]))[0].numpy()
    got = network(model.arrays, model.config["dilations"], y, 60.0)
    assert np.abs(got - ref).max() < 1e-3 * np.abs(ref).max()
    assert not np.allclose(got, y)


def test_code_window_gives_what_the_decoder_rebuilds():
    from codec.modes.audio import SEGMENT, code_window, decode_window
    from codec.zoo import get_linear_model

    model = get_linear_model()
    rng = np.random.default_rng(0)
    y = (rng.laplace(size=(512, 300)) * rng.uniform(1, 500, (512, 1))).astype(np.float32)
    y[10:30] = 0
    for q in (3, 20, 50, 90):
        step = quality_to_step(q)
        data, y_hat = code_window(y, step, SEGMENT, model)
        assert np.array_equal(y_hat, decode_window(data, *y.shape, step, SEGMENT, model))


def test_incomplete_model_file_is_a_format_error():
    from codec.models.export import LearnedModel
    from codec.modes.learned_audio import corrector

    good = get_audio_learned_model()
    arrays = {k: v for k, v in good.arrays.items() if k != "tail.weight"}
    broken = LearnedModel(name="broken", sha256=good.sha256, arrays=arrays, config=good.config, meta=good.meta)
    with pytest.raises(FormatError, match="not a complete audio decoder"):
        corrector(broken, 1)
