"""The trajectory's `.npz` format (save, load, damage detection) and its named accessors.

File format: a damaged file must never load as numbers. Loading either gives back exactly
what was saved or raises `TrajectoryFileError` with a message that says what is wrong
(truncated, damaged, missing arrays, another version) — never another exception type,
never a trajectory with different or missing content.

Accessors (docs/SPEC.md §2): w_sig / w_opp / w_perp, the signal-heavy mass S, T1, T2 and the
clean cluster margins, on a hand-built trajectory with numbers checkable by hand, and
against direct computation from the full-weight snapshots of a real run.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from simulator import RunConfig, Trajectory, TrajectoryFileError
from simulator.population import CLUSTER_LABELS, CLUSTERS

SQ2 = math.sqrt(2.0)


@pytest.fixture(scope="module")
def small_traj() -> Trajectory:
    """A tiny real run (two seeds, two variants) to save and load."""
    cfg = RunConfig(
        d=6,
        p=3,
        m=10,
        eta=0.3,
        theta=0.5,
        steps=4,
        snapshots=3,
        dtype="float64",
        device="cpu",
        test_size=16,
        seeds=2,
        variants=("logistic", "linear"),
    )
    return simulator.run(cfg)


@pytest.fixture(scope="module")
def saved(small_traj: Trajectory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    path = small_traj.save(tmp_path_factory.mktemp("traj") / "run.npz")
    return path, path.read_bytes()


def equal_trajectories(a: Trajectory, b: Trajectory) -> bool:
    """Same config, meta, array names, dtypes, shapes and values."""
    if a.config != b.config or a.meta != b.meta or set(a.arrays) != set(b.arrays):
        return False
    return all(a.arrays[k].dtype == b.arrays[k].dtype and np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)


def load_outcome(raw: bytes, path: Path, original: Trajectory) -> str:
    """'same' (loads exactly the original), 'error' (TrajectoryFileError), or what went wrong."""
    path.write_bytes(raw)
    try:
        got = Trajectory.load(path)
    except TrajectoryFileError:
        return "error"
    except Exception as e:  # noqa: BLE001 - the point is to see which other exceptions escape
        return f"raised {type(e).__name__}: {e}"
    if equal_trajectories(got, original):
        return "same"
    missing = sorted(set(original.arrays) - set(got.arrays))
    return f"loaded different content (missing arrays {missing})" if missing else "loaded different numbers"


def zip_layout(raw: bytes) -> tuple[int, int]:
    """(offset of the central directory, offset of the end-of-central-directory record)."""
    eocd = raw.rindex(b"PK\x05\x06")
    (cd_offset,) = struct.unpack("<I", raw[eocd + 16 : eocd + 20])
    return cd_offset, eocd


# ----------------------------------------------------------------------------- round trip


def test_round_trip(small_traj: Trajectory, saved: tuple[Path, bytes]) -> None:
    """save then load gives an equal config, the same meta, and identical arrays (dtypes included)."""
    path, _ = saved
    back = Trajectory.load(path)
    assert back.config == small_traj.config
    assert equal_trajectories(back, small_traj)
    assert back.meta["package_version"] == simulator.__version__


def test_round_trip_keeps_accessors(small_traj: Trajectory, saved: tuple[Path, bytes]) -> None:
    """Derived quantities are the same after a round trip."""
    back = Trajectory.load(saved[0])
    for name in ("logistic", "linear"):
        np.testing.assert_array_equal(back.T1(name), small_traj.T1(name))
        np.testing.assert_array_equal(back.S(name), small_traj.S(name))
        np.testing.assert_array_equal(back.final(name)["error"], small_traj.final(name)["error"])


def test_round_trip_regime_config(tmp_path: Path) -> None:
    """A regime config (regime_params, tuples) survives the JSON header unchanged."""
    cfg = simulator.small_batch(8, m=4, device="cpu", steps=2, test_size=8, dtype="float64")
    traj = simulator.run(cfg)
    back = Trajectory.load(traj.save(tmp_path / "sb.npz"))
    assert back.config == cfg and back.config.regime_params == cfg.regime_params


def test_save_replaces_atomically(small_traj: Trajectory, tmp_path: Path) -> None:
    """Saving over an existing file replaces it and leaves no temporary file behind."""
    path = tmp_path / "x.npz"
    path.write_bytes(b"old")
    small_traj.save(path)
    assert equal_trajectories(Trajectory.load(path), small_traj)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    """A path that does not exist is a FileNotFoundError (a cache miss), not a damaged file."""
    with pytest.raises(FileNotFoundError):
        Trajectory.load(tmp_path / "nope.npz")


# ----------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("keep", ["0", "1", "4", "30", "half", "-22", "-1"])
def test_truncated_file(small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path, keep: str) -> None:
    """A file cut anywhere (empty, inside a header, mid-data, inside the directory) raises TrajectoryFileError."""
    raw = saved[1]
    n = len(raw) // 2 if keep == "half" else int(keep) % len(raw)
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[:n])
    with pytest.raises(TrajectoryFileError, match=str(path)):
        Trajectory.load(path)


def test_flipped_bytes_in_the_data(small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path) -> None:
    """Random bytes flipped in the members (local headers, .npy headers, array data): each file
    either raises TrajectoryFileError or loads exactly the original (an ignored field such as a
    timestamp) — never other numbers."""
    raw = saved[1]
    cd, _ = zip_layout(raw)
    rng = np.random.default_rng(20240101)
    positions = rng.choice(cd, size=150, replace=False)
    masks = rng.integers(1, 256, size=150)
    outcomes = {}
    for pos, mask in zip(positions, masks):
        b = bytearray(raw)
        b[pos] ^= int(mask)
        outcomes[(int(pos), int(mask))] = load_outcome(bytes(b), tmp_path / "flip.npz", small_traj)
    bad = {k: v for k, v in outcomes.items() if v not in ("same", "error")}
    assert not bad, f"{len(bad)} of {len(outcomes)} flips: {dict(list(bad.items())[:8])}"
    assert sum(v == "error" for v in outcomes.values()) > 100  # most flips are detected, not ignored


def test_every_flipped_array_byte_is_detected(
    small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path
) -> None:
    """A flipped byte inside an array's data (here: every byte of snap_W's values) is always detected."""
    raw = saved[1]
    zf = zipfile.ZipFile(io.BytesIO(raw))
    info = zf.getinfo("snap_W.npy")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    member = zf.read("snap_W.npy")
    data_start = start + member.index(b"\n") + 1  # the .npy header ends with a newline
    for pos in range(data_start, start + info.compress_size, 7):
        b = bytearray(raw)
        b[pos] ^= 0x10
        assert load_outcome(bytes(b), tmp_path / "flip.npz", small_traj) == "error", pos


def test_flipped_bytes_in_the_zip_directory(small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path) -> None:
    """Every byte of the central-directory records of four members (first, second, fourth from last,
    last) and of the end record, flipped with three masks: TrajectoryFileError or the original.

    KNOWN BUG (trajectory.py, Trajectory.load): zipfile raises NotImplementedError (compression-method
    field) and RuntimeError (encryption flag) here, which the `except` clause does not catch; and a
    damaged directory can hide members (e.g. a record's comment-length field, bytes 32-33, made large
    swallows the records after it), which load() accepts because it only checks that PER_STEP_FIELDS
    are present: the snapshot and test-set arrays silently vanish.
    """
    raw = saved[1]
    cd, eocd = zip_layout(raw)
    starts = [i for i in range(cd, eocd) if raw.startswith(b"PK\x01\x02", i)]
    records = [
        (starts[0], starts[1]),
        (starts[1], starts[2]),
        (starts[-4], starts[-3]),
        (starts[-1], eocd),
        (eocd, len(raw)),
    ]
    outcomes = {}
    for lo, hi in records:
        for pos in range(lo, hi):
            for mask in (0x01, 0x04, 0xFF):
                b = bytearray(raw)
                b[pos] ^= mask
                outcomes[(pos - lo, lo, mask)] = load_outcome(bytes(b), tmp_path / "flip.npz", small_traj)
    bad = {k: v for k, v in outcomes.items() if v not in ("same", "error")}
    kinds = sorted({v.split(":")[0] for v in bad.values()})
    assert not bad, f"{len(bad)} of {len(outcomes)} flips escaped ({kinds}); e.g. {dict(list(bad.items())[:6])}"


def test_encrypted_flag_raises_trajectory_file_error(
    small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path
) -> None:
    """Bit 0 of a directory record's flags set (a one-bit flip): must be TrajectoryFileError.

    KNOWN BUG: zipfile raises RuntimeError('File ... is encrypted, password required'), which
    Trajectory.load does not catch.
    """
    raw = bytearray(saved[1])
    cd, _ = zip_layout(bytes(raw))
    raw[cd + 8] |= 0x01  # general-purpose flags of the first directory record
    assert load_outcome(bytes(raw), tmp_path / "enc.npz", small_traj) == "error"


def test_unknown_compression_method_raises_trajectory_file_error(
    small_traj: Trajectory, saved: tuple[Path, bytes], tmp_path: Path
) -> None:
    """A damaged compression-method field: must be TrajectoryFileError.

    KNOWN BUG: zipfile raises NotImplementedError('That compression method is not supported').
    """
    raw = bytearray(saved[1])
    cd, _ = zip_layout(bytes(raw))
    raw[cd + 10] ^= 0xFF  # compression method of the first directory record
    assert load_outcome(bytes(raw), tmp_path / "comp.npz", small_traj) == "error"


def _rewrite(raw: bytes, path: Path, drop: tuple[str, ...] = (), header: bytes | None = None) -> None:
    """A well-formed .npz with the same members, minus `drop`, optionally with another header."""
    with np.load(io.BytesIO(raw)) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    if header is not None:
        arrays["__header__"] = np.frombuffer(header, dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("drop", ["a", "g_w_norm2", "batch_max_dev"])
def test_missing_per_step_array(saved: tuple[Path, bytes], tmp_path: Path, drop: str) -> None:
    """A well-formed file without one of the per-step arrays raises TrajectoryFileError naming it."""
    path = tmp_path / "m.npz"
    _rewrite(saved[1], path, drop=(drop,))
    with pytest.raises(TrajectoryFileError, match=rf"missing arrays \['{drop}'\]"):
        Trajectory.load(path)


@pytest.mark.parametrize("drop", ["snap_W", "snap_steps", "test_err_count", "test_clean_margin"])
def test_missing_snapshot_array(saved: tuple[Path, bytes], tmp_path: Path, drop: str) -> None:
    """A file without a snapshot or test-set array must raise TrajectoryFileError naming it.

    KNOWN BUG (trajectory.py, Trajectory.load): only PER_STEP_FIELDS are checked, so the file loads
    and the trajectory fails later (KeyError in final(), snap(), …) or a consumer silently skips it.
    """
    path = tmp_path / "m.npz"
    _rewrite(saved[1], path, drop=(drop,))
    with pytest.raises(TrajectoryFileError, match=drop):
        Trajectory.load(path)


def _header(raw: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(raw)) as z:
        return json.loads(z["__header__"].tobytes().decode())


@pytest.mark.parametrize(
    "key,value", [("package_version", "0.0.0-other"), ("format_version", 999), ("package_version", None)]
)
def test_other_version_is_refused(saved: tuple[Path, bytes], tmp_path: Path, key: str, value: Any) -> None:
    """A file whose meta says another package or format version raises TrajectoryFileError telling
    both versions and to re-run (trajectories are not converted)."""
    h = _header(saved[1])
    h["meta"][key] = value
    path = tmp_path / "v.npz"
    _rewrite(saved[1], path, header=json.dumps(h).encode())
    with pytest.raises(TrajectoryFileError) as info:
        Trajectory.load(path)
    msg = str(info.value)
    assert simulator.__version__ in msg and "re-run" in msg and str(value) in msg, msg


def test_other_version_via_save(small_traj: Trajectory, tmp_path: Path) -> None:
    """The same, for a trajectory saved with a different package version in its meta."""
    other = Trajectory(small_traj.config, small_traj.arrays, {**small_traj.meta, "package_version": "9.9.9"})
    path = other.save(tmp_path / "o.npz")
    with pytest.raises(TrajectoryFileError, match=r"written by xorcert 9\.9\.9"):
        Trajectory.load(path)


@pytest.mark.parametrize("header", [b"{not json", b'{"meta": {}}', b'{"config": {"d": 2}, "meta": {}}', b"\xff\xfe"])
def test_damaged_header(saved: tuple[Path, bytes], tmp_path: Path, header: bytes) -> None:
    """A header that is not JSON, lacks the config, holds an invalid config, or is not UTF-8: TrajectoryFileError."""
    path = tmp_path / "h.npz"
    _rewrite(saved[1], path, header=header)
    with pytest.raises(TrajectoryFileError, match="header"):
        Trajectory.load(path)


def test_npz_without_header(tmp_path: Path) -> None:
    """Another program's .npz is not taken for a trajectory."""
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(TrajectoryFileError, match="no header"):
        Trajectory.load(path)


@pytest.mark.parametrize("content", [b"", b"hello world", b"\x93NUMPY garbage", b"PK\x03\x04" + bytes(40)])
def test_not_an_npz(tmp_path: Path, content: bytes) -> None:
    """Empty, text, a broken .npy and a broken zip all raise TrajectoryFileError."""
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(TrajectoryFileError):
        Trajectory.load(path)


# ----------------------------------------------------------------------------- accessors by hand


def hand_trajectory() -> Trajectory:
    """Three steps, one seed, two neurons, numbers chosen so every accessor is checkable by hand.

    d = 1000, so ζ = 1/log(1000) ≈ 0.1448 and 1 - ζ ≈ 0.855. (i, j) = (0, 1).

    step 0: k=0: a = +2, (w_i, w_j) = (3, -1), ‖w_perp‖ = 0.5  → σ = μ̂+: w_sig = 4/√2 = 2√2, w_opp = 2/√2 = √2
            k=1: a = -1, (w_i, w_j) = (1, 1),  ‖w_perp‖ = 0    → σ = μ̂-: w_sig = √2, w_opp = 0
    step 1: k=0: a = +2, (2, -2), perp 0.1 → w_sig = 2√2, w_opp = 0;   k=1 as before
    step 2: k=0 as in step 1;  k=1: a = +1 (sign changed), (1, 1), perp 0 → now μ̂+: w_sig = 0, w_opp = √2
    batch_max_dev = 0.01, 0.05, 0.2.
    """
    cfg = RunConfig(d=1000, p=2, m=4, eta=0.1, theta=1.0, steps=3, device="cpu", test_size=4)
    a = np.array([[2.0, -1.0], [2.0, -1.0], [2.0, 1.0]]).reshape(3, 1, 1, 2)
    wc = np.array([[[3.0, -1.0], [1.0, 1.0]], [[2.0, -2.0], [1.0, 1.0]], [[2.0, -2.0], [1.0, 1.0]]]).reshape(
        3, 1, 1, 2, 2
    )
    perp = np.array([[0.5, 0.0], [0.1, 0.0], [0.1, 0.0]]).reshape(3, 1, 1, 2)
    gwc = np.zeros((3, 1, 1, 2, 2))
    gwc[0, 0, 0, 0] = (1.0, 3.0)  # neuron 0 at step 0, signal direction μ̂+: (1 - 3)/√2 = -√2
    gwc[0, 0, 0, 1] = (1.0, 3.0)  # neuron 1, μ̂-: (1 + 3)/√2 = 2√2
    arrays = {
        "a": a,
        "w_coords": wc,
        "w_perp": perp,
        "g_w_coords": gwc,
        "batch_max_dev": np.array([0.01, 0.05, 0.2]).reshape(3, 1, 1),
    }
    return Trajectory(cfg, arrays, {})


def test_hand_plane_components() -> None:
    """w_sig, w_opp, w_perp, ‖w‖, mass, layer gap, σ of the hand-built trajectory."""
    t = hand_trajectory()
    np.testing.assert_allclose(t.w_sig()[:, 0], [[2 * SQ2, SQ2], [2 * SQ2, SQ2], [2 * SQ2, 0.0]], atol=1e-15)
    np.testing.assert_allclose(t.w_opp()[:, 0], [[SQ2, 0.0], [0.0, 0.0], [0.0, SQ2]], atol=1e-15)
    np.testing.assert_array_equal(t.w_perp()[:, 0], [[0.5, 0.0], [0.1, 0.0], [0.1, 0.0]])
    np.testing.assert_array_equal(t.sigma()[:, 0], [[-1, 1], [-1, 1], [-1, -1]])
    np.testing.assert_allclose(t.w_norm()[0, 0], [math.sqrt(10.25), SQ2])
    np.testing.assert_allclose(t.mass()[0, 0], [2 * math.sqrt(10.25), SQ2])
    np.testing.assert_allclose(t.layer_gap()[0, 0], [4 - 10.25, 1 - 2])
    np.testing.assert_allclose(t.g_sig_mean()[0, 0], [-SQ2, 2 * SQ2])


def test_hand_signal_heavy_S_T1_T2() -> None:
    """signal-heavy: ‖w_sig‖ ≥ max(‖w_opp‖, ‖w_perp‖)/ζ. S_0 = √2/(2√10.25 + √2), S_1 = 1,
    S_2 = 2√8.01/(2√8.01 + √2); T1 = 1 (first S ≥ 1 - ζ); T2 = 2 (first max|h'+1| ≥ ζ)."""
    t = hand_trajectory()
    assert t.zeta == pytest.approx(1 / math.log(1000))
    np.testing.assert_array_equal(t.signal_heavy()[:, 0], [[False, True], [True, True], [True, False]])
    m0, m2 = 2 * math.sqrt(8.01), SQ2
    np.testing.assert_allclose(t.S()[:, 0], [SQ2 / (2 * math.sqrt(10.25) + SQ2), 1.0, m0 / (m0 + m2)])
    np.testing.assert_array_equal(t.T1(), [1])
    np.testing.assert_array_equal(t.T2(), [2])
    # an explicit tolerance z replaces ζ in both: with z = 0.9 every neuron but step 2's k=1 is heavy and
    # 1 - z = 0.1 ≤ S_0, so T1 = 0, while no max|h'+1| reaches 0.9 (T2 = -1); with z = 0.01, T2 = 0
    np.testing.assert_array_equal(t.T1(z=0.9), [0])
    np.testing.assert_array_equal(t.T2(z=0.9), [-1])
    np.testing.assert_array_equal(t.T2(z=0.01), [0])


def test_hand_clean_margins() -> None:
    """γ̃_c = y_c (1/p) Σ_k a_k relu(⟨w_k, μ̂_sig⟩⟨c, μ̂_sig⟩), clusters (1,-1), (-1,1), (1,1), (-1,-1).

    steps 0, 1: neuron 0 gives a·relu(2√2·√2) = 2·4 at (1,-1); neuron 1 gives -1·relu(√2·√2) = -2
    at (1,1): f̃ = (4, 0, -1, 0), γ̃ = (4, 0, 1, 0). Step 2: neuron 1 has w_sig = 0: γ̃ = (4, 0, 0, 0).
    """
    t = hand_trajectory()
    np.testing.assert_allclose(t.clean_margins()[:, 0], [[4, 0, 1, 0], [4, 0, 1, 0], [4, 0, 0, 0]], atol=1e-14)


def test_hand_variant_lookup() -> None:
    """Variants are looked up by name or index; unknown ones are errors that say what was run."""
    t = hand_trajectory()
    assert t.vi("logistic") == 0 and t.vi(0) == 0
    with pytest.raises(ValueError, match="was not run"):
        t.vi("linear")
    with pytest.raises(ValueError, match="out of range"):
        t.vi(3)


# ----------------------------------------------------------------------------- accessors vs snapshots


@pytest.fixture(scope="module")
def run_every_step() -> Trajectory:
    """A real coupled run with a snapshot at every step (so the full W is known at every step)."""
    cfg = RunConfig(
        d=9,
        p=7,
        m=40,
        eta=0.8,
        theta=0.9,
        steps=12,
        snapshots=13,
        dtype="float64",
        device="cpu",
        test_size=256,
        seeds=2,
        variants=("logistic", "linear"),
        label_coords=(5, 2),
    )
    return simulator.run(cfg)


def direct(traj: Trajectory, v: int) -> dict[str, np.ndarray]:
    """docs/SPEC.md §2 quantities computed from the snapshots' full W and a, steps 0 … T-1."""
    T = traj.steps
    assert list(traj.arrays["snap_steps"]) == list(range(T + 1))
    W = traj.arrays["snap_W"][:T, :, v]  # (T, R, p, d)
    a = traj.arrays["snap_a"][:T, :, v]  # (T, R, p)
    i, j = traj.config.pair
    d = traj.config.d
    mu_plus, mu_minus = np.zeros(d), np.zeros(d)
    mu_plus[[i, j]] = (1 / SQ2, -1 / SQ2)
    mu_minus[[i, j]] = (1 / SQ2, 1 / SQ2)
    mu_sig = np.where((a >= 0)[..., None], mu_plus, mu_minus)  # (T, R, p, d)
    mu_opp = np.where((a >= 0)[..., None], mu_minus, mu_plus)
    c_sig, c_opp = (W * mu_sig).sum(-1), (W * mu_opp).sum(-1)
    w_sig_vec = c_sig[..., None] * mu_sig
    w_perp = np.linalg.norm(W - w_sig_vec - c_opp[..., None] * mu_opp, axis=-1)
    z = traj.zeta
    heavy = np.abs(c_sig) >= np.maximum(np.abs(c_opp), w_perp) / z
    mass = np.abs(a) * np.linalg.norm(W, axis=-1)
    S = (mass * heavy).sum(-1) / mass.sum(-1)
    hit = S >= 1 - z
    T1 = np.where(hit.any(0), hit.argmax(0), -1)
    rng = np.random.default_rng(0)
    margins = []
    for (ci, cj), yc in zip(CLUSTERS, CLUSTER_LABELS):
        x = rng.choice([-1.0, 1.0], size=d)  # f̃ ignores every coordinate but (i, j)
        x[[i, j]] = (ci, cj)
        f_clean = (a * np.maximum(w_sig_vec @ x, 0)).mean(-1)
        margins.append(yc * f_clean)
    return {
        "w_sig": np.abs(c_sig),
        "w_opp": np.abs(c_opp),
        "w_perp": w_perp,
        "S": S,
        "T1": T1,
        "clean_margins": np.stack(margins, -1),
    }


@pytest.mark.parametrize("variant", ["logistic", "linear"])
def test_accessors_match_direct_computation(run_every_step: Trajectory, variant: str) -> None:
    """w_sig, w_opp, w_perp, S, T1 and the clean margins equal their definitions evaluated on the
    full-weight snapshots (float64, to rounding)."""
    t = run_every_step
    want = direct(t, t.vi(variant))
    for name in ("w_sig", "w_opp", "w_perp", "S", "clean_margins"):
        np.testing.assert_allclose(getattr(t, name)(variant), want[name], rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_array_equal(t.T1(variant), want["T1"])


def test_run_exercises_both_signs_and_phases(run_every_step: Trajectory) -> None:
    """The cross-check above is not vacuous: both signs of a occur, some neurons are signal-heavy,
    and S moves."""
    t = run_every_step
    assert (t.a() > 0).any() and (t.a() < 0).any()
    assert t.signal_heavy().any() and not t.signal_heavy().all()
    assert np.ptp(t.S()) > 0.1


def test_T2_is_first_step_with_large_deviation(run_every_step: Trajectory) -> None:
    """T2 = first step whose batch max |h'+1| ≥ ζ (or -1), from the recorded per-step series."""
    t = run_every_step
    dev = t.series("batch_max_dev")  # (T, R)
    for r in range(2):
        hits = np.flatnonzero(dev[:, r] >= t.zeta)
        assert t.T2()[r] == (hits[0] if hits.size else -1)
    for z in (1e-9, 0.999999):
        T2 = t.T2(z=z)
        assert ((T2 == 0) if z < 1e-3 else (T2 == -1)).all()


def test_clean_margins_agree_with_test_set_estimate(run_every_step: Trajectory) -> None:
    """On the hypercube f̃ is constant on a cluster, so population.py's test-set cluster mean of the
    clean margin equals the trajectory's exact γ̃_c at every snapshot step < T."""
    t = run_every_step
    T = t.steps
    for variant in ("logistic", "linear"):
        np.testing.assert_allclose(
            t.snap("test_clean_margin", variant)[:T], t.clean_margins(variant), rtol=1e-10, atol=1e-14
        )


def test_test_error_matches_direct_evaluation(run_every_step: Trajectory) -> None:
    """final()['error'] and test_error() equal the 0-1 error of the snapshot's network on the fixed test set."""
    import torch

    from simulator import data

    t = run_every_step
    cfg = t.config
    x, y = data.test_rows(
        cfg.data, cfg.test_seed, 0, cfg.test_size, cfg.d, cfg.label_coords, torch.float64, torch.device("cpu")
    )
    x, y = x.numpy(), y.numpy()
    for v in range(2):
        W, a = t.arrays["snap_W"][:, :, v], t.arrays["snap_a"][:, :, v]  # (S, R, p, d), (S, R, p)
        f = (np.maximum(np.einsum("srpd,nd->srnp", W, x), 0) * a[:, :, None, :]).mean(-1)  # (S, R, n)
        err = (y * f <= 0).mean(-1)
        np.testing.assert_allclose(t.test_error(v), err, atol=1e-15)
        np.testing.assert_allclose(t.final(v)["error"], err[-1], atol=1e-15)
    lo, hi = t.test_error_ci()
    assert (lo <= t.test_error() + 1e-15).all() and (t.test_error() <= hi + 1e-15).all()
