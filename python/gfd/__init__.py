# SPDX-License-Identifier: MIT
"""gfd: Gradient Flow Drifting from Python.

Drift a cloud of samples into a target distribution given only as a point cloud, along the
Wasserstein-2 gradient flow of a divergence between kernel density estimates; estimate densities
and scores; measure two-sample distances; train a one-step generator.

Arrays are N x d, one point per row, float64 or float32 (kept as given: the target of a flow and
the data of a KDE set the precision). C-contiguous arrays are used without a copy; others are
copied once. Errors: bad arguments raise ValueError (TypeError for a wrong type), a flow that
diverges raises FloatingPointError naming the step; both carry the C++ library's message.

    import gfd
    target = gfd.toy.sample("8gaussians", 2000, seed=0)
    x = gfd.drift(target, n=1000)                 # 1000 particles from N(mean, sd^2 I)
    p = gfd.kde(target, bandwidth="scott")
    p.logpdf(x), p.score(x)
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from . import metrics, toy
from ._core import KDE, FlowState, Generator

__all__ = [
    "drift", "Flow", "FlowReport", "FlowState", "kde", "KDE", "train", "Generator",
    "load_generator", "toy", "metrics", "kernels", "divergences", "steppers", "evaluators",
    "__version__",
]
__version__ = "0.1.0"


def kernels() -> dict:
    """The kernel names with what each is, in the registry's order."""
    return dict(_core.kernels())


def divergences() -> dict:
    """The divergence names (the flows' velocity fields) with what each is."""
    return dict(_core.divergences())


def steppers() -> dict:
    """The time-stepper names with what each is."""
    return dict(_core.steppers())


def evaluators() -> dict:
    """The kernel-sum evaluator names with what each is."""
    return dict(_core.evaluators())


@dataclass(frozen=True)
class FlowReport:
    """What a run returns besides the particles."""
    steps: int
    time: float
    bandwidth: float
    estimate: float
    mean_displacement: float
    converged: bool
    rejected_steps: int
    stop_reason: str


def _schedule(bandwidth, anneal) -> dict:
    """The bandwidth schedule of the command line's --bandwidth and --anneal:

    neither                 annealed from the cloud's scale to half Silverman's rule (default)
    bandwidth=0.3           fixed 0.3
    bandwidth="scott"       Scott's rule (or "silverman", "median") on the targets, every step
    anneal=True             annealed, both ends automatic
    anneal=(1.5, 0.1)       annealed from 1.5 to 0.1 (either may be None: automatic)
    anneal=..., bandwidth=B annealed down to B (a value), or to the rule B's automatic end
    """
    if anneal is None or anneal is False:
        if bandwidth is None:
            return {"bandwidth_kind": "anneal"}
        if isinstance(bandwidth, str):
            return {"bandwidth_kind": "rule", "rule": bandwidth}
        return {"bandwidth_kind": "fixed", "bandwidth": float(bandwidth)}
    s: dict = {"bandwidth_kind": "anneal"}
    if anneal is not True:
        try:
            start, end = anneal
        except (TypeError, ValueError):
            raise ValueError(f"gfd.Flow: anneal must be True or a pair (start, end), got {anneal!r}") from None
        if start is not None:
            s["h_start"] = float(start)
        if end is not None:
            s["h_end"] = float(end)
    if bandwidth is not None:
        if isinstance(bandwidth, str):
            s["rule"] = bandwidth
        elif "h_end" in s:
            raise ValueError(f"gfd.Flow: bandwidth={bandwidth!r} and anneal={anneal!r} both set the "
                             "final bandwidth; give only one")
        else:
            s["h_end"] = float(bandwidth)
    return s


def _progress_bar(progress, total, desc):
    """A tqdm bar when asked for (True) or by default (None) when tqdm is installed and stderr is a
    terminal; None otherwise."""
    if progress is False or total <= 0:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if progress:
            warnings.warn("gfd: progress=True needs tqdm (Debian: python3-tqdm); no progress bar",
                          stacklevel=3)
        return None
    if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None
    return tqdm(total=total, desc=desc, leave=False)


class Flow:
    """The gradient flow of a KDE divergence toward a target cloud (N x d, optionally weighted).

    Every divergence, kernel, stepper, evaluator and bandwidth schedule of the C++ library, in
    R^d or on the unit sphere (manifold="sphere"; points are unit vectors, the kernels act on the
    chordal distance, gaussian = von Mises-Fisher). Defaults are the C++ library's
    (gfd::flow_options). The target is kept (viewed when it is a C-contiguous float32/float64
    array, copied once otherwise); its dtype is the precision of every run.

    Bandwidth (gfd::bandwidth_schedule): see _schedule for bandwidth= and anneal=; a rule's value
    is multiplied by bandwidth_factor and re-chosen every rule_every steps (on targets and
    particles together with rule_include_particles); the automatic end of an annealing is
    anneal_end_factor times the rule, reached after anneal_fraction of the steps; multipliers
    sum the velocity over several bandwidths h c_1, h c_2, ...

    Names: see gfd.divergences(), gfd.kernels(), gfd.steppers(), gfd.evaluators(). Divergence
    parameters: alpha ("alpha"), mix=(a, b) ("mixed": a KL(p||q) + b chi2(q||p)), temperatures
    and affinity_floor ("drifting-deng"), epsilon ("sinkhorn": the entropic regularisation for
    the cost |x - y|^2 / 2; 0 = (diameter of the target / 100)^2), sinkhorn_iterations
    ("sinkhorn-drift"), projections ("sliced"), samples ("kl-exact": Monte Carlo draws per
    particle, used in d > 3) and divergence_seed (the draws of "sliced" and "kl-exact"); kernel
    parameter imq_beta ("imq"); evaluator parameters tolerance and leaf_size ("tree", "grid").
    """

    def __init__(self, target, *, weights=None, divergence: str = "kl", kernel: str = "gaussian",
                 evaluator: str = "exact", stepper: str = "euler", steps: int = 500,
                 dt: float = 0.5, max_displacement: float = 0.5,
                 bandwidth: Union[None, float, str] = None,
                 anneal: Union[None, bool, Tuple[Optional[float], Optional[float]]] = None,
                 multipliers: Optional[Sequence[float]] = None, bandwidth_factor: float = 1.0,
                 rule_every: int = 1, rule_include_particles: bool = False,
                 anneal_end_factor: float = 0.5, anneal_fraction: float = 0.6,
                 manifold: str = "euclidean",
                 retraction: bool = False, alpha: float = 0.5, mix: Tuple[float, float] = (1.0, 1.0),
                 temperatures: Optional[Sequence[float]] = None, affinity_floor: float = 1e-3,
                 epsilon: float = 0.0, sinkhorn_iterations: int = 100, projections: int = 64,
                 samples: int = 32, divergence_seed: int = 0,
                 imq_beta: float = 1.5, tolerance: float = 1e-3, leaf_size: int = 16,
                 speed_tolerance: float = 0.0, divergence_tolerance: float = -math.inf,
                 adaptive_tolerance: float = 0.05, dt_min: float = 1e-4, dt_max: float = 10.0,
                 dt_in_bandwidth_units: bool = True):
        self.target = _core.as_cloud(target, "gfd.Flow", "target")
        self.weights = None if weights is None else _core.as_cloud(weights, "gfd.Flow", "weights", 1)
        spec = {
            "divergence": divergence, "kernel": kernel, "evaluator": evaluator, "stepper": stepper,
            "steps": int(steps), "dt": float(dt), "max_displacement": float(max_displacement),
            "manifold": manifold, "retraction": bool(retraction), "alpha": float(alpha),
            "mix_reverse_kl": float(mix[0]), "mix_chi2": float(mix[1]),
            "affinity_floor": float(affinity_floor), "imq_beta": float(imq_beta),
            "epsilon": float(epsilon), "sinkhorn_iterations": int(sinkhorn_iterations),
            "projections": int(projections), "samples": int(samples),
            "seed": int(divergence_seed),
            "tolerance": float(tolerance), "leaf_size": int(leaf_size),
            "speed_tolerance": float(speed_tolerance),
            "divergence_tolerance": float(divergence_tolerance),
            "adaptive_tolerance": float(adaptive_tolerance), "dt_min": float(dt_min),
            "dt_max": float(dt_max), "dt_in_bandwidth_units": bool(dt_in_bandwidth_units),
            "factor": float(bandwidth_factor), "every": int(rule_every),
            "include_particles": bool(rule_include_particles),
            "end_factor": float(anneal_end_factor), "anneal_fraction": float(anneal_fraction),
        }
        if temperatures is not None:
            spec["temperatures"] = [float(t) for t in temperatures]
        if multipliers is not None:
            spec["multipliers"] = [float(m) for m in multipliers]
        spec.update(_schedule(bandwidth, anneal))
        _core.check_spec(spec)  # bad names and values raise here, before any work
        self._spec = spec

    @property
    def options(self) -> dict:
        """The options of this flow (a copy), as the C++ side reads them."""
        return dict(self._spec)

    @property
    def dtype(self):
        return self.target.dtype

    def __repr__(self) -> str:
        s = self._spec
        return (f"gfd.Flow(target={self.target.shape[0]}x{self.target.shape[1]} {self.target.dtype}, "
                f"divergence='{s['divergence']}', kernel='{s['kernel']}', evaluator='{s['evaluator']}', "
                f"stepper='{s['stepper']}', steps={s['steps']}, dt={s['dt']}, "
                f"bandwidth={s['bandwidth_kind']}, manifold='{s['manifold']}')")

    def default_start(self, n: int, seed: int = 0) -> np.ndarray:
        """The start of gfd.drift when no init is given, as the command line draws it for a target
        file: in R^d, N(mean, sd^2 I) with the target's mean and pooled standard deviation; on the
        sphere, uniform; from seed + 1, in the target's dtype."""
        return _core.default_start(self.target, int(n), int(seed), self._spec["manifold"])

    def run(self, start=None, *, n: Optional[int] = None, seed: int = 0,
            observer: Optional[Callable[[FlowState], Any]] = None, observe_every: int = 10,
            progress: Optional[bool] = None) -> Tuple[np.ndarray, FlowReport]:
        """Moves a copy of `start` (N x d; default: default_start(n or 1000, seed)) along the
        flow and returns (particles, FlowReport), the particles in the target's dtype.

        observer(state) is called every `observe_every` steps and after the last (0: only after
        the last) with a gfd.FlowState (step, time, bandwidth, estimate, particles, ...); returning
        False stops the run. progress: a tqdm bar (None: when tqdm is installed and stderr is a
        terminal). The GIL is released while the flow computes; Ctrl-C stops it.
        """
        if start is None:
            start = self.default_start(1000 if n is None else n, seed)
        elif n is not None:
            raise ValueError("gfd.Flow.run: give start or n, not both (start gives N)")
        steps = self._spec["steps"]
        bar = _progress_bar(progress, steps, "gfd flow")
        every = int(observe_every)
        if every < 0:
            raise ValueError(f"gfd.Flow.run: observe_every must be >= 0, got {every}")
        callback = observer
        spec = dict(self._spec, observe_every=every)
        if bar is not None:
            tick = max(1, steps // 100)
            spec["observe_every"] = tick if every == 0 else math.gcd(tick, every)
            done = [0]

            def callback(state):  # noqa: F811 - the bar, then the user's observer on its steps
                bar.update(state.step - done[0])
                done[0] = state.step
                if observer is not None and ((every > 0 and state.step % every == 0)
                                             or state.step == steps):
                    return observer(state)
                return True
        try:
            x, rep = _core.run_flow(self.target, self.weights, start, spec, callback)
        finally:
            if bar is not None:
                bar.close()
        return x, FlowReport(**rep)

    def velocity(self, x, bandwidth: float, time: float = 0.0, estimate: bool = False):
        """The flow's velocity at the particles x (N x d) for bandwidth h (summed over the
        schedule's multipliers; on the sphere, tangent): an N x d array, or (v, divergence
        estimate) with estimate=True."""
        v, est = _core.velocity(self.target, self.weights, x, self._spec, float(bandwidth),
                                float(time), bool(estimate))
        return (v, est) if estimate else v


def drift(target, init=None, n: Optional[int] = None, divergence: str = "kl",
          kernel: str = "gaussian", steps: int = 500, seed: int = 0, evaluator: str = "exact",
          *, observer=None, observe_every: int = 10, progress: Optional[bool] = None,
          return_report: bool = False, **options):
    """Drifts particles toward `target` (N x d) and returns the final particles.

    init: the start (an array, N x d), or None for n draws (default 1000) of the default start
    (Flow.default_start: N(mean, sd^2 I) of the target; uniform on the sphere). Every target point
    is used (no held-out split). The other options are gfd.Flow's (stepper, dt, bandwidth,
    anneal, manifold, alpha, tolerance, ...), with the command line's defaults; so
    `gfd drift --target T.npy --holdout 0 --seed S --n N --out X.npy` gives the same particles.
    The result has the dtype of init when init is given, else the target's. With
    return_report=True, returns (particles, FlowReport). As on the command line, `seed` also seeds
    the draws of "sliced" and "kl-exact" unless divergence_seed is given.
    """
    options.setdefault("divergence_seed", seed)
    flow = Flow(target, divergence=divergence, kernel=kernel, steps=steps, evaluator=evaluator,
                **options)
    x, report = flow.run(init, n=n, seed=seed, observer=observer, observe_every=observe_every,
                         progress=progress)
    if init is not None:
        dt = np.asarray(init).dtype
        if dt.kind == "f" and dt != x.dtype:
            x = x.astype(dt)
    return (x, report) if return_report else x


def kde(data, bandwidth: Union[float, str] = "scott", kernel: str = "gaussian", *, weights=None,
        evaluator: str = "exact", tolerance: float = 1e-3, leaf_size: int = 16,
        imq_beta: float = 1.5, manifold: str = "euclidean") -> KDE:
    """The kernel density estimate of `data` (N x d, optionally weighted): a gfd.KDE with
    logpdf(x), pdf(x), score(x), gradient(x) and mean_shift(x) for queries x (M x d).

    bandwidth: a number, or a rule on the data ("scott", "silverman", "median"). The data are
    copied into the KDE (it does not keep the array). On manifold="sphere" the density is with
    respect to the sphere's measure and the score is tangent.
    """
    return _core.make_kde(data, weights, bandwidth, kernel, float(imq_beta), evaluator,
                          float(tolerance), int(leaf_size), manifold)


def train(data, *, steps: int = 3000, batch: int = 512, divergence: str = "drifting-deng",
          kernel: str = "laplacian", bandwidth: Union[float, str] = "silverman",
          holdout: Union[int, str] = "auto", seed: int = 0, precision: str = "double",
          temperatures: Optional[Sequence[float]] = None, affinity_floor: float = 0.0,
          alpha: float = 0.5, mix: Tuple[float, float] = (1.0, 1.0), imq_beta: float = 1.5,
          observer: Optional[Callable[[dict], Any]] = None, progress: Optional[bool] = None,
          return_history: bool = False, labels=None, **options) -> Generator:
    """Trains a one-step generator on `data` (N x d) with the drifting loss, with the defaults of
    `gfd train` (Deng et al.'s field, Laplacian kernel, Silverman's bandwidth, 3000 steps of
    batch 512, min(2000, N/5) points held out for the sliced W2). Returns a gfd.Generator (and
    the list of progress dicts with return_history=True).

    options: the rest of gfd::generator_options by name (width, depth, widths, noise_dim, lr,
    warmup, lr_final, ema, eta, grad_clip, target_batch, multipliers, bandwidth_factor, scaling,
    observe_every, ...). observer(progress dict) is called every observe_every steps (default
    100) and after the last; returning False stops. precision="float" computes the drift in
    float. The GIL is released while training; Ctrl-C stops it.

    labels (N integers >= 0) trains a class-conditional generator with classifier-free guidance
    (Deng et al.'s grouped field; divergence must be "drifting-deng"): then generate(n, seed,
    cls=K, cfg=W). Its options: class_batch, positives, negatives, positive_bank, negative_bank,
    cfg_min, cfg_max, cfg_power (the flags of `gfd train --conditional`).
    """
    if precision not in ("double", "float"):
        raise ValueError(f"gfd.train: precision must be 'double' or 'float', got {precision!r}")
    data = _core.as_cloud(data, "gfd.train", "data")
    if holdout == "auto":
        holdout = min(2000, data.shape[0] // 5)
        if holdout < 2:
            holdout = 0
    opts = dict(options, steps=int(steps), batch=int(batch), bandwidth=bandwidth,
                holdout=int(holdout), seed=int(seed), float_drift=precision == "float")
    div_params = {"alpha": float(alpha), "mix_reverse_kl": float(mix[0]), "mix_chi2": float(mix[1]),
                  "affinity_floor": float(affinity_floor)}
    if temperatures is not None:
        div_params["temperatures"] = [float(t) for t in temperatures]
    bar = _progress_bar(progress, int(steps), "gfd train")
    callback = observer
    if bar is not None:
        done = [0]

        def callback(p):  # noqa: F811
            bar.update(p["step"] - done[0])
            done[0] = p["step"]
            return True if observer is None else observer(p)
    try:
        if labels is not None:
            labels = [float(v) for v in list(labels)]
            if precision == "float":
                raise ValueError("gfd.train: labels (conditional training) compute the field in double; "
                                 "drop precision='float'")
            if divergence != "drifting-deng":
                raise ValueError("gfd.train: labels (conditional training) need divergence='drifting-deng', "
                                 f"got {divergence!r}")
        model, history = _core.train_generator(data, opts, kernel, float(imq_beta), divergence,
                                               div_params, callback, labels)
    finally:
        if bar is not None:
            bar.close()
    return (model, history) if return_history else model


def load_generator(path: str) -> Generator:
    """Reads a model file written by Generator.save or `gfd train --out`."""
    return Generator.load(str(path))
