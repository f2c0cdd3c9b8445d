"""benchmarks.compare_runs: per-image BD-rates between two runs of one codec, and one clear error per bad run."""

import csv

import pytest

from benchmarks.compare_runs import main

FIELDS = ["codec", "quality", "image", "bytes", "size", "bpp", "psnr-rgb"]
ANCHOR = [(q, 0.2 * 1.6 ** i, 28 + 2 * i) for i, q in enumerate((20, 40, 60, 80, 90))]


def write_run(folder, codec_scale, images=("a.png", "b.png"), anchor_psnr_shift=0.0, fields=FIELDS):
    """A per_image.csv whose codec needs ``codec_scale`` times the anchor's bits for the same PSNR."""
    folder.mkdir()
    rows = []
    for image in images:
        for q, bpp, db in ANCHOR:
            rows.append({"codec": "heic", "quality": q, "image": image, "bytes": round(bpp * 1000), "size": 8000,
                         "bpp": bpp, "psnr-rgb": db + anchor_psnr_shift})
            rows.append({"codec": "wavecodec-inr", "quality": q, "image": image, "bytes": 0, "size": 8000,
                         "bpp": bpp * codec_scale, "psnr-rgb": db})
    with (folder / "per_image.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_per_image_and_mean_curve_bd_rates(tmp_path, capsys):
    new = write_run(tmp_path / "new", 1.2)
    old = write_run(tmp_path / "old", 1.5, images=("a.png", "b.png", "c.png"))
    main([str(new), str(old)])
    out = capsys.readouterr().out
    assert "| 2 images | new vs old | new vs heic | old vs heic |" in out   # c.png is only in the old run
    assert "| a.png | -20.0% | +20.0% | +50.0% |" in out
    assert "| **mean curve** | -20.0% | +20.0% | +50.0% |" in out
    assert "Mean curve, new: 0.240 bpp / 28.00 dB" in out
    assert "heic rows of these images identical in both runs (bytes, bpp, psnr-rgb): yes" in out


def test_the_old_side_may_name_another_codec(tmp_path, capsys):
    new = write_run(tmp_path / "new", 1.2)
    old = write_run(tmp_path / "old", 1.5)
    csv_path = old / "per_image.csv"
    csv_path.write_text(csv_path.read_text().replace("wavecodec-inr", "wavecodec-inr-fast"))
    main([str(new), str(old), "--old-codec", "wavecodec-inr-fast"])
    assert "| **mean curve** | -20.0% | +20.0% | +50.0% |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main([str(new), str(old)])
    assert "has no rows of wavecodec-inr" in str(stop.value.code)
    elsewhere = write_run(tmp_path / "elsewhere", 1.2, images=("z.png",))
    with pytest.raises(SystemExit) as stop:
        main([str(elsewhere), str(old), "--old-codec", "wavecodec-inr-fast"])
    assert "share no image coded by wavecodec-inr and wavecodec-inr-fast" in str(stop.value.code)


def test_a_side_can_be_runs_over_disjoint_images_joined(tmp_path, capsys):
    first = write_run(tmp_path / "first", 1.2, images=("a.png",))
    rest = write_run(tmp_path / "rest", 1.44, images=("b.png",))
    old = write_run(tmp_path / "old", 1.2)
    main([f"{first},{rest}", str(old)])
    out = capsys.readouterr().out
    assert "| 2 images |" in out
    assert "| a.png | +0.0% | +20.0% | +20.0% |" in out and "| b.png | +20.0% | +44.0% | +20.0% |" in out
    assert "heic rows of these images identical in both runs (bytes, bpp, psnr-rgb): yes" in out


@pytest.mark.parametrize("shift, verdict", [(0.1, "NO"), (1e-13, "yes")])
def test_a_changed_anchor_is_flagged_but_not_a_last_digit(tmp_path, capsys, shift, verdict):
    new = write_run(tmp_path / "new", 1.2, anchor_psnr_shift=shift)
    main([str(new), str(write_run(tmp_path / "old", 1.2))])
    assert f"identical in both runs (bytes, bpp, psnr-rgb): {verdict}" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("missing", "cannot read"),
    ("columns", "is not a per_image.csv of an image benchmark"),
    ("codec", "has no rows of jpeg"),
    ("images", "share no image coded by wavecodec-inr"),
    ("overlap", "joined runs need disjoint images"),
])
def test_bad_runs_are_refused_with_one_line(tmp_path, capsys, case, message):
    old = write_run(tmp_path / "old", 1.5)
    if case == "missing":
        new = tmp_path / "absent"
    elif case == "columns":
        new = write_run(tmp_path / "new", 1.2, fields=FIELDS[:-1])
    elif case == "overlap":
        new = f"{write_run(tmp_path / 'first', 1.2)},{write_run(tmp_path / 'rest', 1.2, images=('b.png',))}"
    else:
        new = write_run(tmp_path / "new", 1.2, images=("z.png",) if case == "images" else ("a.png",))
    args = [str(new), str(old)] + (["--anchor", "jpeg"] if case == "codec" else [])
    with pytest.raises(SystemExit) as stop:
        main(args)
    text = str(stop.value.code)
    assert text.startswith("compare_runs: ") and message in text and "\n" not in text
