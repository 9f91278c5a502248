"""`run_mtcnn`: the ``samplegen mtcnn`` command as a library function.

Read the face and landmark annotations, plan every image and balance globally
(`mtcnn_selection`), then cut and write the shards (`mtcnn_shards`) through the engine. The CLI
only parses its options into this call and prints the returned summary.
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from samplegen import __version__, embedded
from samplegen.config.layers import Layered
from samplegen.config.resolve import Resolved
from samplegen.datasets.detections import match_detections, read_detections
from samplegen.engine.manifest import RunDescription
from samplegen.engine.progress import progress_bar
from samplegen.engine.distribute import WorkerPool
from samplegen.engine.run import execute, skip_reasons
from samplegen.engine.storage import child_location, is_remote, is_url, local_path, output_location
from samplegen.errors import ConfigError, InputError, Terminated
from samplegen.mtcnn.balance import DUPLICATING_MODES
from samplegen.mtcnn.config import PRESETS, MtcnnConfig, build_mtcnn_config, compat_output, with_compat
from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER
from samplegen.pipelines import detect_shards, mtcnn_selection, mtcnn_shards, mtcnn_sizes
from samplegen.pipelines.detect import MiningSpec, check_nets, mining_config, net_spec
from samplegen.pipelines.mined import MinedStore
from samplegen.pipelines.mtcnn_classes import select_classes
from samplegen.pipelines.mtcnn_selection import PlannedRun, parallel_planning, plan_run
from samplegen.pipelines.mtcnn_shards import CHANNEL_ORDER, LayoutChoice, MtcnnJob, choose_layout
from samplegen.pipelines.mtcnn_sizes import (StagedMtcnnJob, check_shared_plan, parse_sizes, remove_staging,
                                             share_negative_size, staging_folder)
from samplegen.pipelines.inputs import Inputs
from samplegen.pipelines.options import job_path, run_options
from samplegen.pipelines.summary import RunSummary

STAGE_NAMES = {12: "pnet", 24: "rnet", 48: "onet"}
WORKER_MODULES = (mtcnn_selection.__name__, mtcnn_shards.__name__, mtcnn_sizes.__name__, detect_shards.__name__)
MINING_STAGES = {24: ("pnet",), 48: ("pnet", "rnet")}   # the nets that mine each size's hard examples


def parse_ratio(ratio: str | Sequence[int] | None) -> list[int] | None:
    """``"1:3:1:2"`` (or ``"1,3,1,2"``, or 4 integers) -> ``[1, 3, 1, 2]``; None stays None."""
    if ratio is None:
        return None
    if isinstance(ratio, str):
        try:
            values = [int(v) for v in ratio.replace(",", ":").split(":")]
        except ValueError:
            raise ConfigError(f"ratio: expected pos:neg:part:landmark integers, got {ratio!r}") from None
    else:
        values = list(ratio)
    if len(values) != 4 or not all(isinstance(v, int) and v >= 0 for v in values) or sum(values) == 0:
        raise ConfigError(f"ratio: expected 4 non-negative integers pos:neg:part:landmark, got {ratio!r}")
    return values


def run_mtcnn(size: int | str | Sequence[int] = 12, *, annotations: str | Path | None = None, format: str = "auto",
              images: str | Path | None = None, landmarks: str | Path | None = None,
              landmark_format: str = "facepoints", landmark_images: str | Path | None = None,
              detections: str | Path | None = None, pnet: str | Path | None = None,
              rnet: str | Path | None = None, detect_preset: str = "ipazc",
              classes: str | Sequence[str | int] | None = None, allow_drops: bool = False,
              layout: str = "packed", image_format: str | None = None, list_style: str | None = None,
              relative_paths: bool = False, tfrecord_split: str | None = None,
              ratio: str | Sequence[int] | None = None, allow_duplicates: bool | None = None,
              balance: str | None = None, base: int | None = None, compat: str | None = None,
              pad: bool | None = None, dry_run: bool = False, out: str | Path | None = None,
              workers: int | None = None, seed: int | None = None, shard_size: int | None = None,
              shards: int | None = None, max_errors: int | None = None, resume: bool = False,
              overwrite: bool = False, progress: bool = False, config: str | Path | None = None,
              overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
              engine: str = "local", ray_address: str | None = None, ray_env: Sequence[str] = (),
              verify: bool = False, follow_symlinks: bool = False) -> RunSummary:
    """Generate MTCNN crops (pos / part / neg / landmark) balanced to a ratio, like ``samplegen mtcnn``.

    With neither `annotations` nor `landmarks`, runs on the embedded sample. Configuration
    layering: the size's preset < the `compat` layer < `config` file < ``SAMPLEGEN_*``
    (`environ`) < `overrides` < the explicit arguments (`ratio`, `balance`, `pad`, `seed`, ...).

    Args:
        size: 12 (PNet), 24 (RNet) or 48 (ONet); several (``"12,24,48"``, ``[12, 24, 48]``):
            one plan cut at every size into ``OUT/pnet``, ``OUT/rnet``, ``OUT/onet``
            (`samplegen.pipelines.mtcnn_sizes`).
        annotations, format, images: face annotations, their reader and images root.
        landmarks, landmark_format, landmark_images: the facial-point source.
        detections: previous-stage detections (JSON lines, a file or a `samplegen detect`
            folder) for 24/48 hard examples.
        pnet, rnet, detect_preset: mine the hard examples here instead: the planning workers run
            the MTCNN cascade (`samplegen.detect`, preset ``ipazc`` or ``aittsmd``) on every face
            image, PNet for size 24, PNet + RNet for 48; no detections file is written. Keys of
            the detect preset are overridden as ``overrides={"detect.pnet.threshold": 0.5}``.
        allow_drops: read annotations even when their reader drops more than 20 % of the boxes.
        classes: the face classes of a multi-class `annotations` (``"person"``, ``"1,3"``, a
            list of names or ids; `samplegen.pipelines.mtcnn_classes`); required when it has several.
        layout: ``packed``, ``wds``, ``list`` or ``tfrecord``; image_format: ``png`` or ``jpg``
            (wds, list; default png, jpg for the dface list style and the compat presets).
        list_style: ``classic``, ``aittsmd`` or ``dface`` (list; `samplegen.pipelines.mtcnn_lists`);
            relative_paths: aittsmd/dface top-level lists name images relative to the output
                folder, not absolutely (classic lists always do).
        tfrecord_split: ``mixed`` (one file, PNet) or ``per-class`` (RNet/ONet) (tfrecord).
        balance, base: ``exact`` (default), ``oversample`` (`base` samples per ratio unit),
            ``keep`` or ``aittsmd`` (`samplegen.mtcnn.balance`).
        compat: ``aittsmd`` or ``dface``: that pipeline's sampling rules (`samplegen.mtcnn.config.COMPAT`).
        dry_run: plan and balance only; nothing is written.
        out ... environ, verify, follow_symlinks: see `RunOptions` (`shards` excludes `shard_size`).

    Returns:
        The `RunSummary` the CLI prints (``selected`` counts, shards, samples, bytes...); for
        several sizes, ``runs`` holds each size's summary.

    Raises:
        ConfigError, InputError: bad configuration or input (exit 2 in the CLI);
        RunError: too many unusable images (exit 1).
    """
    sizes = parse_sizes(size)
    multi = len(sizes) > 1
    if multi and (detections is not None or pnet is not None or rnet is not None):
        raise ConfigError(f"--size {','.join(map(str, sizes))} cuts one P-Net-style plan at every size; hard "
                          "examples (detections, --pnet) belong to one stage: run that size on its own")
    if (detections is not None or pnet is not None) and sizes == [12]:
        raise ConfigError("hard examples (detections, --pnet) are for size 24 or 48, from the previous stage")
    if detections is not None and pnet is not None:
        raise ConfigError("give either detections or nets to mine with (--pnet), not both")
    if annotations is None and landmarks is None:
        annotations, format, images = embedded.WIDER, "wider", embedded.ROOT
        landmarks, landmark_format, landmark_images = embedded.FACEPOINTS, "facepoints", embedded.ROOT
        if not multi and sizes[0] in MINING_STAGES and detections is None and pnet is None:
            # The whole cascade on the embedded photos: hard examples from the shipped nets.
            pnet, rnet = embedded.PNET, (embedded.RNET if sizes[0] == 48 else None)
    options = run_options(out=out, workers=workers, seed=seed, shard_size=shard_size, shards=shards,
                          max_errors=max_errors, resume=resume, overwrite=overwrite, progress=progress,
                          config=config, overrides=overrides or {}, environ=environ, engine=engine,
                          ray_address=ray_address, ray_env=ray_env, verify=verify,
                          follow_symlinks=follow_symlinks)
    explicit = {"ratio": parse_ratio(ratio), "allow_duplicates": allow_duplicates, "pad": pad,
                "balance": balance, "base": base}
    stages = [_stage(s, options, explicit, compat, hard_stage=not multi and s != 12) for s in sizes]
    if multi:
        resolved = share_negative_size([stage.resolved for stage in stages])
        stages = [dataclasses.replace(st, resolved=r, cfg=build_mtcnn_config(st.size, r)) for st, r in zip(stages, resolved)]
        check_shared_plan([stage.cfg for stage in stages])
    first = stages[0]
    values = first.resolved.engine()
    choice = choose_layout(layout, image_format or _output_default(first, "image_format", layout),
                           list_style or _output_default(first, "list_style", layout), tfrecord_split, relative_paths)
    mining, mining_record = _mining(first.size, pnet, rnet, detect_preset, first.detect, first.resolved.sources, images,
                                    follow_symlinks)
    parent = output_location(out) if out is not None else Path("samplegen-out")
    if multi and is_url(parent):
        raise ConfigError(f"--size {','.join(map(str, sizes))} stages the larger sizes' shards beside the outputs: "
                          "give a local --out (or run each size on its own into the URL)")
    if is_remote(parent) and choice.layout == "list":
        raise ConfigError(f"{parent}: the list layout writes dozens of files per image, too many for object "
                          "storage; choose --layout packed, wds or tfrecord for a remote --out")
    folders = [child_location(parent, STAGE_NAMES[s]) if (multi or out is None) else parent for s in sizes]
    settings = [dataclasses.replace(options.settings(values, folder), out_dir=folder) for folder in folders]
    for setting in settings:
        _refuse_unlistable(choice, setting.out_dir)

    # One pool for planning and cutting, started in the background while this process reads the
    # annotations and plans (the fork server's imports take ~0.5 s, a sixth of a 1,000-image run).
    pool = options.pool(settings[0].workers, WORKER_MODULES)
    with _started_pool(pool, 1 if dry_run else settings[0].workers) as started, Inputs() as sources:
        faces, class_info, marks, dets = _read_inputs(sources, annotations, format, images, landmarks, landmark_format,
                                                      landmark_images, detections, classes, allow_drops)
        if parallel_planning(len(faces) + len(marks), mining):
            started.wait()
        # Planning is ~1 s per 1,600 images, but mining detects in every face image: a run of
        # hours, shown like the cutting.
        bar = progress_bar(len(faces) + len(marks), "mtcnn mining" if mining else "mtcnn planning",
                           settings[0].progress and not dry_run)
        bar.update(0)
        # Each mined chunk's boxes are kept in --out until the run is complete (`MinedStore`).
        mined = MinedStore(settings[0].out_dir, mining) if mining is not None and not dry_run else None
        try:
            planned = plan_run(faces, marks, first.cfg, values.seed, pool, dets, mining=mining, progress=bar.update,
                               mined=mined)
        finally:
            bar.close()
        if mined is not None:
            mined.report()
        started.wait()
        if dry_run:
            shown = {"size": sizes[0]} if not multi else {"sizes": sizes}
            return RunSummary("mtcnn", None, {"command": "mtcnn", **shown, "dry_run": True, **planned.counts()})
        _refuse_starved(planned)
        inputs = sources.describe(annotations=annotations, landmarks=landmarks, detections=detections,
                                 pnet=mining.nets.pnet if mining else None, rnet=mining.nets.rnet if mining else None)
        runs = []
        for stage, setting in zip(stages, settings):
            tasks, stage_values, resolved = options.shard(planned.items, values, stage.resolved, key=lambda item: item.key)
            run = RunDescription(
                command="mtcnn", version=__version__,
                config=resolved.decisive() | class_info | choice.config() | mining_record,
                config_sources=resolved.decisive_sources, seed=stage_values.seed, layout=choice.manifest_layout(),
                shard_size=stage_values.shard_size, inputs=inputs, planned_shards=len(tasks),
                plan=planned.counts() | {"channel_order": CHANNEL_ORDER}, skipped=tuple(planned.skipped))
            job = MtcnnJob(job_path(setting.out_dir), STAGE_NAMES[stage.size], choice.layout, stage.size,
                           stage.cfg.pad, choice.image_format, job_path(images), job_path(landmark_images),
                           stage_values.seed, choice.tfrecord_split, choice.list_style, choice.absolute_paths,
                           mark_duplicates=stage.cfg.balance_mode in DUPLICATING_MODES,
                           landmark_plus_one=stage.cfg.landmark.cut_plus_one, follow_symlinks=follow_symlinks)
            runs.append((stage, setting, tasks, run, job))
        outcomes = _execute(runs, parent, pool) if multi else [execute(runs[0][4], runs[0][2], runs[0][3], settings[0], pool)]
        if mined is not None:
            mined.clear()   # the run is complete (or was already): nothing of the mining is left in --out
    summaries = []
    for (stage, setting, *_), outcome in zip(runs, outcomes):
        summaries.append(RunSummary("mtcnn", setting.out_dir, {
            **outcome.summary(), "out": str(setting.out_dir), "size": stage.size, "layout": choice.layout,
            "selected": planned.balance.totals()}, outcome.manifest))
    if not multi:
        return summaries[0]
    fields = {"command": "mtcnn", "sizes": sizes, "out": str(parent), "layout": choice.layout,
              "samples": sum(s.samples for s in summaries), "selected": planned.balance.totals(),
              "runs": {STAGE_NAMES[s.fields["size"]]: s.as_json() for s in summaries}}
    return RunSummary("mtcnn", parent, fields)


def _read_inputs(sources, annotations, format, images, landmarks, landmark_format, landmark_images, detections,  # noqa: ANN001
                 classes, allow_drops) -> tuple[list, dict, list, Any]:
    """Face records (of the chosen classes), their manifest record, landmark records, detections."""
    faces, class_info = (select_classes(sources.dataset(format, annotations, images, allow_drops=allow_drops,
                                                        sizes_from="--images"), classes)
                         if annotations else ([], {}))
    marks = (sources.dataset(landmark_format, landmarks, landmark_images, allow_drops=allow_drops,
                             sizes_from="--landmark-images").records
             if landmarks else [])
    if marks and not any(r.landmarks is not None for r in marks):
        raise ConfigError(f"{landmarks}: format {landmark_format} carries no landmarks")
    dets = read_detections(sources.local(detections)) if detections else None
    if dets is not None:
        match = match_detections(dets, faces)
        if match.matched == 0:
            raise InputError(detections, None, match.message())
    return faces, class_info, marks, dets


@contextlib.contextmanager
def _started_pool(pool: Any, workers: int) -> Iterator[threading.Event]:
    """Enter `pool` and start its workers from a background thread (a `WorkerPool` starts them
    on its first parallel map); yields an event set once they are up: wait for it before mapping
    anything else. A failure here is not reported: the next real map starts the pool again and
    raises it.

    The thread outlives the pool. The fork server it starts dies with the thread that started it
    (`samplegen.engine.lifeline`), and a worker's status is read through the fork server, so the
    pool is stopped (killed on an error, shut down otherwise) while both live, and never while the
    thread still starts workers: a worker stopped half-way through unpickling its queues prints
    a traceback after the run has gone."""
    started, done = threading.Event(), threading.Event()
    thread = None

    def start() -> None:
        try:
            for _ in pool.map(abs, [0] * workers):
                pass
        except Exception:  # noqa: BLE001 - see the docstring: the real map reports it
            pass
        finally:
            started.set()
        done.wait()

    try:
        with pool:
            if workers <= 1 or not isinstance(pool, WorkerPool):
                started.set()
            else:
                thread = threading.Thread(target=start, name="samplegen-warm-up", daemon=True)
                thread.start()
            try:
                yield started
            except BaseException:
                _through_signals(lambda: started.wait(1.0))
                raise
    finally:
        done.set()
        if thread is not None:
            _through_signals(lambda: (thread.join(1.0), not thread.is_alive())[1])


def _through_signals(wait: Callable[[], bool]) -> None:
    """Call `wait` until it returns True, through Ctrl-C and SIGTERM, then raise the first of them
    (starting workers takes a second or so; it must not be cut short, see `_started_pool`)."""
    signalled: BaseException | None = None
    while True:
        try:
            if wait():
                break
        except (KeyboardInterrupt, Terminated) as exc:
            signalled = signalled or exc
    if signalled is not None:
        raise signalled


@dataclass(frozen=True)
class _Stage:
    """One size's resolved configuration (without its ``detect:`` section) and the compat
    layer's file conventions (`compat_output`)."""

    size: int
    resolved: Resolved
    cfg: MtcnnConfig
    detect: dict
    output: dict


def _stage(size: int, options: Any, explicit: Mapping[str, Any], compat: str | None, hard_stage: bool) -> _Stage:
    layered = with_compat(options.resolve(PRESETS[size], explicit).layered, compat, hard_stage)
    resolved, detect_section = _split_detect(Resolved(layered))
    return _Stage(size, resolved, build_mtcnn_config(size, resolved), detect_section, compat_output(compat))


def _output_default(stage: _Stage, key: str, layout: str) -> str | None:
    """A compat preset's output convention, where the layout has that option (image files of
    wds/list; list dialect of list)."""
    applies = layout in ("wds", "list") if key == "image_format" else layout == "list"
    return stage.output.get(key) if applies else None


def _execute(runs: list, parent: Path, pool: Any) -> list:
    """``--size 12,24,48`` (`samplegen.pipelines.mtcnn_sizes`): the smallest size cuts every size
    from one decode, the larger sizes' shards staged; each larger size then adopts its shards."""
    staging = [staging_folder(parent, job.prefix, run.fingerprint) for _, _, _, run, job in runs[1:]]
    for folder in staging:
        folder.mkdir(parents=True, exist_ok=True)
    _, setting, tasks, run, job = runs[0]
    siblings = tuple(dataclasses.replace(r[4], out_dir=str(folder)) for r, folder in zip(runs[1:], staging))
    outcomes = [execute(dataclasses.replace(job, siblings=siblings), tasks, run, setting, pool)]
    for (_, setting, tasks, run, job), folder in zip(runs[1:], staging):
        outcomes.append(execute(StagedMtcnnJob(job, str(folder)), tasks, run, setting, pool))
        remove_staging(parent, folder)
    return outcomes


def _split_detect(resolved: Resolved) -> tuple[Resolved, dict]:
    """The MTCNN configuration without its ``detect:`` section (the mining's), and that section."""
    values = dict(resolved.layered.values)
    section = values.pop("detect", None) or {}
    sources = {k: v for k, v in resolved.sources.items() if not k.startswith("detect.") and k != "detect"}
    kept = Resolved(Layered(values, sources))
    kept.sources.update({k: v for k, v in resolved.sources.items() if k.startswith("detect.")})
    return kept, section


def _mining(size: int, pnet: str | Path | None, rnet: str | Path | None, preset: str, section: dict,
            sources: Mapping[str, str], images: str | Path | None,
            follow_symlinks: bool = False) -> tuple[MiningSpec | None, dict]:
    """The nets the planning workers mine with (checked here, once) and their manifest record."""
    if pnet is None:
        if rnet is not None:
            raise ConfigError("an RNet mines with a PNet: give --pnet too")
        if section:
            raise ConfigError("'detect' keys configure mining: give --pnet (and --rnet for size 48)")
        return None, {}
    if size == 48 and rnet is None:
        raise ConfigError("ONet (size 48) hard examples come from PNet + RNet detections: give --rnet too")
    if size == 24 and rnet is not None:
        raise ConfigError("RNet (size 24) hard examples come from PNet detections alone: drop --rnet")
    spec = net_spec(pnet, rnet)
    cfg, values = mining_config(preset, section, sources)
    check_nets(spec, cfg)
    record = {"detect": {"preset": preset, "stages": list(MINING_STAGES[size]), **values}}
    return MiningSpec(spec, cfg, job_path(images), follow_symlinks), record


def _refuse_unlistable(choice: LayoutChoice, out_dir: Path | str) -> None:
    """Trainers split list lines at single spaces: an absolute path with whitespace would break
    every line, so refuse it before writing anything."""
    if choice.layout != "list" or not choice.absolute_paths:
        return
    where = local_path(out_dir).resolve().as_posix()  # a list layout's --out is local (refused otherwise)
    if any(c.isspace() for c in where):
        raise ConfigError(f"{where}: the list layout writes absolute image paths and trainers split list "
                          "lines at spaces; choose an output folder without whitespace, or --relative-paths")


def _refuse_starved(planned: PlannedRun) -> None:
    """Nothing would be written: say why before creating any output."""
    starved = planned.starved()
    if starved:
        raise ConfigError(
            f"nothing to write: the ratio pos:neg:part:landmark {':'.join(map(str, planned.ratio))} "
            f"needs {' and '.join(starved)} samples and no image provided any "
            f"({len(planned.skipped)} images skipped while planning: {skip_reasons(planned.skipped)}); "
            f"fix the inputs, or give those classes a 0 share with --ratio")
    balance = planned.balance
    if balance.targets.sum() == 0 and balance.available.sum() > 0:
        # Every class was planned, but too few of one for a single unit of the ratio.
        shares = [(int(n) / share, CLASS_NAMES[code], int(n), share)
                  for code, share, n in zip(CLASS_ORDER, planned.ratio, balance.available) if share > 0]
        _, name, count, share = min(shares)
        raise ConfigError(
            f"nothing to write: the ratio pos:neg:part:landmark {':'.join(map(str, planned.ratio))} asks for "
            f"{share} {name} samples per unit and the images gave {count}; lower that share with --ratio, "
            "or add images")
