"""`run_detect`: the ``samplegen detect`` command as a library function, and the mining spec the
MTCNN pipeline uses to detect inside its planning workers (`MiningSpec`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from samplegen import __version__, embedded
from samplegen.config.layers import load_preset
from samplegen.config.resolve import Resolved
from samplegen.detect import DetectConfig, NetSpec, load_nets
from samplegen.detect.config import PRESETS, build_detect_config
from samplegen.engine.manifest import RunDescription
from samplegen.engine.run import execute
from samplegen.errors import ConfigError
from samplegen.pipelines.detect_shards import DetectJob
from samplegen.pipelines.inputs import Inputs
from samplegen.pipelines.options import RunOptions, job_path, run_options
from samplegen.pipelines.summary import RunSummary

PREFIX = "dets"


@dataclass(frozen=True)
class MiningSpec:
    """What a planning worker needs to detect faces itself (picklable): nets, config, images root."""

    nets: NetSpec
    cfg: DetectConfig
    images_root: str | None
    follow_symlinks: bool = False


def net_spec(pnet: str | Path | None, rnet: str | Path | None) -> NetSpec:
    """The nets of a run; model files must exist (their problems are reported by `load_nets`)."""
    if pnet is None:
        raise ConfigError("detection needs a PNet model (--pnet PNET.onnx)")
    for path in (pnet, rnet):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{path}: no such model file")
    return NetSpec(str(pnet), str(rnet) if rnet is not None else None)


def resolve_detect(preset: str, options: RunOptions, overrides: Mapping[str, Any] | None = None
                   ) -> tuple[DetectConfig, Resolved]:
    """(config, resolved values) of a detect preset: preset < --config < SAMPLEGEN_* < `overrides`."""
    if preset not in PRESETS:
        raise ConfigError(f"no detect preset named {preset!r} (known: {', '.join(sorted(PRESETS))})")
    resolved = dataclasses.replace(options, overrides=overrides or {}).resolve(PRESETS[preset])
    return build_detect_config(resolved), resolved


def mining_config(preset: str, section: Mapping[str, Any], sources: Mapping[str, str]) -> tuple[DetectConfig, dict]:
    """The detect config of a mining run: `preset` with the ``detect:`` section of the MTCNN
    configuration on top (from its --config file, ``--set detect.KEY=VALUE``); `sources` are that
    configuration's, their ``detect.`` keys naming where each override came from."""
    if preset not in PRESETS:
        raise ConfigError(f"no detect preset named {preset!r} (known: {', '.join(sorted(PRESETS))})")
    own = {k[len("detect."):]: v for k, v in sources.items() if k.startswith("detect.")}
    layered = load_preset(PRESETS[preset])
    if section:
        layered = layered.merge(section, own or "command line")
    resolved = Resolved(layered)
    return build_detect_config(resolved), resolved.method_values


def check_nets(spec: NetSpec, cfg: DetectConfig) -> None:
    """Load and check the models once in the parent, so a bad model stops the run before any work."""
    load_nets(spec, cfg)


def run_detect(pnet: str | Path | None = None, rnet: str | Path | None = None, *, preset: str = "ipazc",
               annotations: str | Path | None = None, format: str = "auto", images: str | Path | None = None,
               out: str | Path | None = None, workers: int | None = None, seed: int | None = None,
               shard_size: int | None = None, shards: int | None = None, max_errors: int | None = None,
               resume: bool = False, overwrite: bool = False, progress: bool = False, config: str | Path | None = None,
               overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
               engine: str = "local", ray_address: str | None = None, ray_env: Sequence[str] = (),
               verify: bool = False, follow_symlinks: bool = False, allow_drops: bool = False) -> RunSummary:
    """Run the MTCNN cascade (PNet, optionally RNet) over every image, like ``samplegen detect``.

    With no `annotations`, the embedded sample and, without `pnet`, the embedded P-Net and R-Net.
    Writes ``dets-NNNNNN.jsonl`` shards (`detect_shards`) that ``samplegen mtcnn --detections
    OUT`` reads as a folder; `overrides` are keys of the detect preset (``{"pnet.threshold": 0.5}``).
    """
    if annotations is None:
        annotations, format, images = embedded.WIDER, "wider", embedded.ROOT
        if pnet is None:
            pnet, rnet = embedded.PNET, embedded.RNET if rnet is None else rnet
    options = run_options(out=out, workers=workers, seed=seed, shard_size=shard_size, shards=shards,
                          max_errors=max_errors, resume=resume, overwrite=overwrite, progress=progress,
                          config=config, overrides=overrides or {}, environ=environ, engine=engine,
                          ray_address=ray_address, ray_env=ray_env, verify=verify,
                          follow_symlinks=follow_symlinks)
    spec = net_spec(job_path(pnet), job_path(rnet))
    cfg, resolved = resolve_detect(preset, options, options.overrides)
    values = resolved.engine()
    check_nets(spec, cfg)
    settings = options.settings(values, Path("samplegen-out") / "detect")
    with Inputs() as sources:
        dataset = sources.dataset(format, annotations, images, allow_drops=allow_drops, sizes_from="--images")
        inputs = sources.describe(annotations=annotations, pnet=spec.pnet, rnet=spec.rnet)
    tasks, values, resolved = options.shard(dataset.records, values, resolved, key=lambda record: record.key)
    run = RunDescription(
        command="detect", version=__version__, config={**resolved.decisive(), "preset": preset},
        config_sources=resolved.decisive_sources, seed=values.seed, layout="jsonl", shard_size=values.shard_size,
        inputs=inputs,
        planned_shards=len(tasks), plan={"stages": ["pnet", "rnet"] if spec.rnet else ["pnet"]})
    job = DetectJob(job_path(settings.out_dir), PREFIX, spec, cfg, job_path(images), follow_symlinks)
    with options.pool(settings.workers, (DetectJob.__module__,)) as pool:
        outcome = execute(job, tasks, run, settings, pool)
    fields = {**outcome.summary(), "out": str(settings.out_dir), "preset": preset,
              "stages": run.plan["stages"]}
    return RunSummary("detect", settings.out_dir, fields, outcome.manifest)

