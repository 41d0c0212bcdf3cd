"""Recorded evidence: what the sandbox reported for the fixture hand-ins, committed as
JSON under ``tests/recordings`` so that scorer tests replay it (``Grader.rescore``)
instead of training networks again in every CI run.

A recording is only as good as the kernel code that gathered it: each one names the
version of that code (a hash of its sources), the fixture file and the hidden labels it
was scored with, and replaying a stale one fails with the command that records it anew
(``make record``). The sandbox tests (``make test-all``) still grade every fixture for
real.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graders.catalog import LoadedAssignment
from graders.pipeline.grade import rescore
from graders.results import GradeReport, report_from_json, report_to_json

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "tests" / "recordings"
NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"

# What decides the evidence a submission produces: the code injected into the kernel,
# how the host turns its messages into records, and the data it trains on. The plan the
# kernel is given (calls, model requests) is compared as data, not as code, so that a
# refactor of the host side that plans the same requests needs no new recording.
EVIDENCE_SOURCES = ("graders/kernel", "graders/runner/kernel_code.py",
                    "graders/runner/execute.py", "graders/protocol.py",
                    "service/fixtures.py")

# ta_*: written by hand the way students write (Colab leftovers, their own names and
# classes, quick training runs), each with what a careful TA gives it in its first cell:
# a correct one in an unusual style, a conceptual mistake, an incomplete one, and one
# that must not earn the credit it looks like it earns (tests/graders/test_ta_ranges.py).
TA = ("ta_correct_unusual.ipynb", "ta_conceptual.ipynb", "ta_incomplete.ipynb",
      "ta_fool.ipynb")

# The hand-ins that are recorded, by assignment: (fixture folder, file names).
MANIFEST: dict[str, tuple[str, tuple[str, ...]]] = {
    "tum-ps10": ("tum_ps10", (
        "correct.ipynb", "wrong_architecture.ipynb", "never_trained.ipynb",
        "best_model_not_best.ipynb", "best_state_alias.ipynb",
        "wrong_printed_accuracy.ipynb", "wrong_batch_size.ipynb", *TA,
        # an unseen round of hand-ins (2026-12-07): written as students write, and forged
        "tutorial_num_workers.ipynb", "labels_ship_cat_dog.ipynb", "own_dataset_arrays.ipynb",
        "per_class_typed_in.ipynb", "per_class_over_total.ipynb", "ten_outputs_cifar_ids.ipynb",
        "hostile_forward_swapped.ipynb", "hostile_class_patches.ipynb",
        "hostile_lookup_test_images.ipynb", "hostile_zero_grad_steps.ipynb",
        "hostile_lying_modules.ipynb", "hostile_relu_named_sigmoid.ipynb",
        "hostile_fake_loader.ipynb", "hostile_library_patches.ipynb",
        # its own Dataset scaled to [0, 1] beside torchvision sets normalised to [-1, 1]
        "own_dataset_unit_scale.ipynb",
        # an unseen round (2026-12-07, the third): the best model saved in a checkpoint
        # dict, a batch sampler that serves other than it says, training on train + test
        "checkpoint_dict_state.ipynb", "hostile_forged_batch_sampler.ipynb",
        "hostile_trains_on_test_concat.ipynb",
        # forgers: an untrained MLP initialised by k-means on colours, a decoy MLP beside a
        # linear model that does the work, a forward hook turning ReLU into the sigmoid
        "hostile_kmeans_colour_init.ipynb", "hostile_decoy_mlp_linear_model.ipynb",
        "hostile_relu_hook_sigmoid.ipynb",
        # the fifth round: CIFAR's ids kept in the loaders, a ReLU written as a clamp;
        # forgers: nn.ReLU.forward made a sigmoid with the captured registry patched,
        # SGD's update function swapped for Adam's
        "student_cifar_ids_sequential.ipynb", "relu_as_clamp.ipynb",
        "hostile_relu_registry_patched.ipynb", "hostile_sgd_update_swapped.ipynb",
        # the sixth: SGD's step hooks called by hand around Adam's steps; a ReLU only
        # while the layer's forward is wrapped, a dataset serving other than its indices
        "hostile_synced_step_hooks.ipynb", "hostile_relu_only_when_watched.ipynb")),
    "heidelberg-ex08": ("heidelberg_ex08", (
        "group_correct.ipynb", "group_flawed_a.ipynb", "ex08-jordan-hinton-lovelace.zip",
        "group_names_reused.ipynb", "group_model_reused.ipynb", *TA,
        "hostile_fake_vgg.ipynb", "hostile_number_grid.ipynb",
        # an unseen round (2026-12-07, the second): derivatives typed in with no adjoints,
        # and a reverse trace by a sympy engine beside a tiny net named VGG16
        "hostile_literal_derivatives.ipynb", "sympy_engine_tiny_vgg.ipynb",
        # the third: `model` bound to the MLP, then to a VGG-16 with FC 4096, then to its
        # batch-norm variant (the earlier models' memory kept within the cap)
        "group_model_reused_big_vgg.ipynb",
        # forgers: a reverse trace by autograd in a helper of an earlier cell, cells of
        # printed logits where the trace should be
        "hostile_autograd_helper_trace.ipynb", "hostile_logit_spray_misplaced_bn.ipynb",
        # the fifth: a VGG of an eighth of the widths whose layers say the lecture's, and
        # dropout and batch norm in each other's places
        "hostile_vgg_nominal_widths.ipynb", "group_degrees_swapped_regularizers.ipynb",
        # the sixth: a nearest-neighbour vote from a bank of training images in the
        # forward, a VGG-16 only while torch's function mode is on
        "hostile_nearest_neighbour_prior.ipynb", "hostile_vgg_only_when_watched.ipynb")),
    "nyu-hw5": ("nyu_hw5", (
        "student_correct.ipynb", "student_code_answers.ipynb", "student_flawed_a.ipynb",
        "student_flawed_b.ipynb", "hostile_fake_resnet.ipynb",
        # an unseen round (2026-12-07, the second)
        "hostile_resnet_one_tensor.ipynb", "head_computed_unused.ipynb",
        "hostile_forged_log.ipynb", "problem_headings_only.ipynb", "ten_class_head.ipynb",
        # the third: a forward hook returning a hidden head's outputs, a pretrained copy
        # never trained beside a network trained from scratch, hedged answers
        "hostile_forward_hook_head.ipynb", "hostile_spare_pretrained_copy.ipynb",
        "hostile_hedged_answers_lr_schedule.ipynb",
        # the fifth: a ResNet trained from scratch saved as the pretrained checkpoint in a
        # TORCH_HOME of its own
        "hostile_torch_home_checkpoint.ipynb",
        # the sixth: every SGD step undone by loading the checkpoint back; the handout's
        # example history typed in as lists and drawn
        "hostile_steps_rolled_back.ipynb", "typed_in_history.ipynb")),
    "vu-dl-a2": ("vu_dl_a2", (
        "student_notebook.ipynb", "vugrad-master.zip", "edited-files.zip", "ops.py", *TA,
        "hostile_renamed_sigmoid.ipynb",
        # an unseen round (2026-12-07, the second)
        "relu_trained_on_mnist.ipynb", "hostile_relu_calls_sigmoid.ipynb",
        # the third: a wrong draft ReLU redefined, the network retrained on MNIST
        "relu_redefined_mnist.ipynb",
        # the fifth: the ReLU network kept in a dict of runs; a ReLU put after a sigmoid
        # built of Exp and Divide
        "relu_runs_dict.ipynb", "hostile_sigmoid_from_exp_divide.ipynb",
        # the sixth: a sigmoid made in numpy, plus a ReLU op multiplied by 0.0; Colab's
        # `!git clone` and `%cd vugrad`; a zip whose division op is `ElementwiseDiv`
        "hostile_relu_times_zero.ipynb", "colab_clone_cd_vugrad.ipynb",
        "elementwise_div_zip.zip")),
    "ee411-hw3": ("ee411_hw3", (
        "part2_correct.ipynb", "part2_wrong_mlp.ipynb", "part2_wrong_optimizer.ipynb",
        "part2_param_count_weights_only.ipynb", "part2_no_permutation.ipynb",
        "part2_wrong_split.ipynb", "part2_no_plots.ipynb",
        "part2_permutation_per_image.ipynb", "part2_permutation_lambda.ipynb", *TA,
        "part2_optimizers_loop_variables.ipynb", "part2_optimizer_classes_listed.ipynb",
        "part2_sigmoid_branch.ipynb", "part2_permutation_test_only.ipynb",
        "part2_permutation_differs.ipynb", "part2_param_count_dispatch.ipynb",
        "part2_hostile_relu_patched.ipynb", "part2_hostile_forged_steps.ipynb",
        # an unseen round (2026-12-07, the second)
        "hostile_cached_predict.ipynb", "hostile_finite_differences_no_loop.ipynb",
        # the third: optimizers built from config dicts or looked up by name, six
        # warm-up steps before a hidden Adam trains, a transpose as the permutation
        "part2_optimizers_from_config_dicts.ipynb", "part2_optimizers_looked_up_by_name.ipynb",
        "part2_hostile_warmup_swap.ipynb", "part2_hostile_transposed_digits.ipynb",
        # the four optimizers trained one after another on one model, never made afresh
        "part2_one_model_for_every_optimizer.ipynb",
        # a CNN that pools after two of its three convolutions; no Nesterov in 2.2/2.3
        "part2_two_pools_no_nesterov.ipynb",
        # the fifth: the gradient as one flat vector, KMNIST read from a Colab Drive path;
        # forgers: helpers (a row loop, autograd) in a module written by %%writefile, a
        # sigmoid MLP computing a ReLU for a statistic, a permutation of float64 only
        "student_flat_gradient_vector.ipynb", "part2_colab_drive_root.ipynb",
        "hostile_writefile_autograd.ipynb", "part2_hostile_dead_relu_float64_permutation.ipynb",
        # the sixth: a permutation of what is off ToTensor's grid only; Adam's asked lr on
        # a first group holding an unused parameter
        "part2_hostile_permutes_off_grid_only.ipynb", "part2_hostile_optimizer_groups.ipynb")),
}
REFERENCE = "reference"  # the recording of an assignment's reference notebook


def evidence_version() -> str:
    h = hashlib.sha256()
    for entry in EVIDENCE_SOURCES:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(file.relative_to(ROOT)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()[:16]


def plan_digest(assignment_id: str) -> str:
    """The model requests the kernel is asked to answer for this assignment, and which
    check each answers (the function calls are checked by ``rescore`` itself)."""
    from graders.pipeline.model_plan import plan_models

    assignment = _catalog()[assignment_id]
    requests, answers = plan_models(assignment.spec, assignment.solution)
    body = json.dumps({"requests": [[r.id, r.body] for r in requests],
                       "answers": sorted([*k, v] for k, v in answers.items())},
                      sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


@functools.cache
def _catalog() -> dict[str, LoadedAssignment]:
    from graders.catalog import discover

    return discover()


def labels_digest(hidden_dir: Path) -> str:
    """The hidden labels a recording was scored against (images do not matter here)."""
    h = hashlib.sha256()
    for path in sorted(hidden_dir.glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            h.update(path.name.encode())
            h.update(np.ascontiguousarray(data["labels"]).tobytes())
    return h.hexdigest()[:16]


def fixture_digest(assignment_id: str, name: str) -> str:
    if name == REFERENCE:
        return ""
    folder, _ = MANIFEST[assignment_id]
    return hashlib.sha256((NOTEBOOKS / folder / name).read_bytes()).hexdigest()[:16]


def path_of(assignment_id: str, name: str) -> Path:
    return RECORDINGS / assignment_id / f"{name}.json"


class StaleRecording(AssertionError):
    """A recording made by other kernel code, from another file, or on other labels."""


@dataclass(frozen=True)
class Recording:
    assignment_id: str
    name: str
    report: GradeReport
    calibration: dict[str, float]
    # what the run measured on the reference itself (only for the reference's recording)
    measured: dict[str, float]

    def replay(self, assignment: LoadedAssignment, hidden_dir: Path,
               calibration: dict[str, float] | None = None) -> GradeReport:
        """The report the current scorers give this evidence: nothing runs."""
        return rescore(self.report, assignment, hidden_dir=hidden_dir,
                       calibration=self.calibration if calibration is None else calibration)


def write(assignment_id: str, name: str, report: GradeReport,
          calibration: dict[str, float] | None, hidden_dir: Path,
          measured: dict[str, float] | None = None) -> Path:
    target = path_of(assignment_id, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "evidence_version": evidence_version(),
        "plan": plan_digest(assignment_id),
        "fixture_sha256": fixture_digest(assignment_id, name),
        "labels": labels_digest(hidden_dir),
        "calibration": calibration or {},
        "measured": measured or {},
        "report": json.loads(report_to_json(report)),
    }
    target.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return target


def load(assignment_id: str, name: str, hidden_dir: Path | None) -> Recording:
    """The recording, checked against the current kernel code, fixture file and (unless
    ``hidden_dir`` is None: nothing will be scored against labels) hidden labels."""
    target = path_of(assignment_id, name)
    shown = f"tests/recordings/{assignment_id}/{target.name}"
    if not target.exists():
        raise StaleRecording(f"no recording {shown}: run `make record`")
    body = json.loads(target.read_text())
    problems = []
    if body["evidence_version"] != evidence_version():
        problems.append("the kernel-side code changed since it was recorded")
    if body.get("plan") != plan_digest(assignment_id):
        problems.append("the spec now asks the kernel for other evidence")
    if body["fixture_sha256"] != fixture_digest(assignment_id, name):
        problems.append("the fixture file changed")
    if hidden_dir is not None and body["labels"] != labels_digest(hidden_dir):
        problems.append("the fixture data's hidden labels changed")
    if problems:
        raise StaleRecording(f"{shown} is stale ({'; '.join(problems)}): "
                             "run `make record` and commit tests/recordings")
    return Recording(assignment_id, name, report_from_json(json.dumps(body["report"])),
                     {k: float(v) for k, v in body["calibration"].items()},
                     {k: float(v) for k, v in body["measured"].items()})


def seed_calibration(assignment: LoadedAssignment, *, datasets_dir: Path, hidden_dir: Path,
                     jobs_root: Path) -> None:
    """Put the recorded reference accuracies where a server on this data looks for its
    calibration, so that starting it trains nothing. Only for data whose reference
    accuracies are the recorded ones (the service tests' MNIST is the same as the
    recording's: it is made before the KMNIST whose size differs)."""
    import sys

    from graders.calibrate import _where
    from graders.sandbox.config import SandboxConfig

    recording = load(assignment.spec.id, REFERENCE, None)
    config = SandboxConfig(python_env=Path(sys.prefix), jobs_root=jobs_root,
                           datasets_dir=datasets_dir)
    _, target, fingerprint = _where(assignment, config, hidden_dir)
    target.write_text(json.dumps({
        "fingerprint": fingerprint, "accuracies": recording.measured,
        "report": json.loads(report_to_json(recording.report))}))
