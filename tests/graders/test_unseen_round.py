"""The unseen round of 2026-12-07: hand-ins three helpers wrote the way students write them
(and the way a forger would), graded from their recordings. Each was over- or under-
credited before this round; the expectations are what a careful TA gives, question by
question or check by check, never what the grader happened to give.

Ordinary work (tests/fixtures/notebooks/tum_ps10, ee411_hw3/part2_*): the PyTorch tutorial's
``num_workers=2``, classes numbered in another order, a Dataset of the notebook's own
arrays, optimizers built in a loop over settings, a counter named ``count_weights``.
Forgeries (``hostile_*``): a model that lies about its modules, a ReLU class computing
the sigmoid, ``torch.optim.SGD`` replaced by a renamed Adam, an optimizer stepped once
with zeroed gradients, a fake DataLoader, a lookup of the notebook's own test images, a
printed grid of numbers for an autodiff trace, a sigmoid op named ReLU.
"""

from __future__ import annotations

import pytest

from graders.catalog import discover
from tests import evidence

CATALOG = discover()

# (assignment, hand-in) -> {question id or (question id, check kind): points or (lo, hi)}
Range = float | tuple[float, float]
FAIR: dict[tuple[str, str], dict[str | tuple[str, str], Range]] = {
    # ordinary work that lost points
    ("tum-ps10", "tutorial_num_workers.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    ("tum-ps10", "labels_ship_cat_dog.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    ("tum-ps10", "own_dataset_arrays.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    # the same, its arrays scaled to [0, 1] (the torchvision sets beside it normalised):
    # one epoch on unscaled inputs reaches 56%, which the accuracy bands judge
    ("tum-ps10", "own_dataset_unit_scale.ipynb"): {
        "2.1": 4, "2.2": 4, ("2.3", "optimizer"): 2, ("2.4", "saved_model"): 2,
        ("2.4", "reported_accuracy"): 2},
    # ten outputs, CIFAR's own ids as labels: the head is wrong (at most half), the
    # training is not
    ("tum-ps10", "ten_outputs_cifar_ids.ipynb"): {"2.1": 4, "2.2": (2, 3), "2.3": 6,
                                                  "2.4": 6},
    # per-class accuracies typed in, or divided by the whole test set
    ("tum-ps10", "per_class_typed_in.ipynb"): {
        "2.3": 6, ("2.4", "reported_accuracy"): 1},
    ("tum-ps10", "per_class_over_total.ipynb"): {
        "2.3": 6, ("2.4", "reported_accuracy"): 1},
    # forgeries
    ("tum-ps10", "hostile_forward_swapped.ipynb"): {
        "2.2": 0, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_class_patches.ipynb"): {
        "2.1": (2, 3), "2.2": 2, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_lookup_test_images.ipynb"): {"2.3": 0, "2.4": 0},
    ("tum-ps10", "hostile_zero_grad_steps.ipynb"): {("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_lying_modules.ipynb"): {"2.2": 0},
    ("tum-ps10", "hostile_relu_named_sigmoid.ipynb"): {"2.2": 2, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_fake_loader.ipynb"): {"2.1": 0},
    ("tum-ps10", "hostile_library_patches.ipynb"): {"2.2": 2, ("2.3", "optimizer"): 0},
    ("ee411-hw3", "part2_optimizers_loop_variables.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    ("ee411-hw3", "part2_optimizer_classes_listed.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    # a ReLU branch the MLP never takes: a sigmoid network
    ("ee411-hw3", "part2_sigmoid_branch.ipynb"): {"2.2": 3},
    # only the test data permuted; train and test each with its own permutation
    ("ee411-hw3", "part2_permutation_test_only.ipynb"): {"2.5": (1, 2)},
    ("ee411-hw3", "part2_permutation_differs.ipynb"): {"2.5": (2.5, 3)},
    # `return 23946 if any Conv2d else 89610`: the handout's two numbers, typed in
    ("ee411-hw3", "part2_param_count_dispatch.ipynb"): {"2.4": (0, 2)},
    # F.relu rebound to the sigmoid: a sigmoid MLP (the pooling swap: see KNOWN_GAPS)
    ("ee411-hw3", "part2_hostile_relu_patched.ipynb"): {"2.2": 3},
    # step records appended to the grader's module, an untrained decoy of the handout's
    # MLP beside the trained sigmoid ones: the TA gives 2.2 2.5 and 2.3 2
    ("ee411-hw3", "part2_hostile_forged_steps.ipynb"): {
        "2.2": (2, 2.5), "2.3": (2, 2.5), ("2.2", "architecture"): 0},
    ("heidelberg-ex08", "hostile_fake_vgg.ipynb"): {
        ("2", "optimizer"): 0, "3.1": 0, ("3.2", "optimizer"): 0, "3.4": 0},
    ("heidelberg-ex08", "hostile_number_grid.ipynb"): {"1.2": 0, "1.3": 0},
    # (its curves drawn where no optimizer ever stepped: 4.5 too)
    ("nyu-hw5", "hostile_fake_resnet.ipynb"): {
        ("4.1", "architecture"): 0, ("4.2", "pretrained"): 0, ("4.3", "optimizer"): 0,
        "4.5": 0},
    ("vu-dl-a2", "hostile_renamed_sigmoid.ipynb"): {"9b": 0},
    # a second unseen round (2026-12-07): NYU, Heidelberg, VU and EE-411 part 1
    # a small CNN called ResNet34 with the checkpoint's conv1 copied in
    ("nyu-hw5", "hostile_resnet_one_tensor.ipynb"): {"2b": 2, "4.1": 0, "4.2": 0},
    # Linear(1000, 2) computed and thrown away: forward returns the 1000 outputs (see
    # KNOWN_GAPS for 4.1)
    ("nyu-hw5", "head_computed_unused.ipynb"): {"4.2": 3},
    # train_model never called, the handout's log replayed from a table and drawn
    ("nyu-hw5", "hostile_forged_log.ipynb"): {"4.3": 0, "4.5": 0},
    # Adam where SGD is asked; every problem headed by its bare number ("## 4")
    ("nyu-hw5", "problem_headings_only.ipynb"): {"2a": 3, "2c": 3, "4.3": 0, "4.5": 2},
    # Linear(512, 10); 1,800 parameters (the biases left out); model.train(mode=False)
    ("nyu-hw5", "ten_class_head.ipynb"): {"2d": 1, "4.1": 2, "4.2": 3},
    ("ee411-hw3", "hostile_cached_predict.ipynb"): {"1.2": 5, "1.3": 6, "1.5": 12},
    # central differences written with eye and einsum: no loop, and no derivation
    ("ee411-hw3", "hostile_finite_differences_no_loop.ipynb"): {"1.1": 5, "1.5": 0},
    # class ReLU handing everything to the Sigmoid op
    ("vu-dl-a2", "hostile_relu_calls_sigmoid.ipynb"): {"1-op": 3, "9": 0, "9b": 0},
    # retrained on MNIST: measured there, against the reference's MNIST network
    ("vu-dl-a2", "relu_trained_on_mnist.ipynb"): {"1-op": 3, "9": 6, "9b": 4},
    # derivatives typed in (finite differences' digits), no adjoint; no bonus done
    ("heidelberg-ex08", "hostile_literal_derivatives.ipynb"): {"1.3": 0, "2": 10, "3.4": 0},
    # Colab's `!git clone .../vugrad.git` then `%cd vugrad`: the hand-in's folder stays
    # importable, so its ops and its ReLU are graded
    ("vu-dl-a2", "colab_clone_cd_vugrad.ipynb"): {"1-op": 3, "9": 6},
    # a reverse trace by a small sympy engine (its adjoints printed), the MNIST net right,
    # a two-convolution net named VGG16
    ("heidelberg-ex08", "sympy_engine_tiny_vgg.ipynb"): {"1.2": 4, "1.3": 3, "2": 10,
                                                        "3.1": 0},
    # a third unseen round (2026-12-07): TUM and EE-411 part 2
    # the best model saved as {"epoch", "acc", "state": state_dict} and loaded back
    ("tum-ps10", "checkpoint_dict_state.ipynb"): {"2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    # a BatchSampler subclass declaring 4 that serves 16, over half of each class
    ("tum-ps10", "hostile_forged_batch_sampler.ipynb"): {"2.1": 0, "2.3": 5,
                                                        ("2.4", "saved_model"): 2},
    # optimizers built as getattr(torch.optim, cfg["cls"])(params, **cfg["kw"]), or
    # looked up in a dict by name: the kernel's step counts say which settings trained
    ("ee411-hw3", "part2_optimizers_from_config_dicts.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    ("ee411-hw3", "part2_optimizers_looked_up_by_name.ipynb"): {
        "2.1": 3, "2.2": 4, "2.3": 4, "2.4": 4, "2.5": 4},
    # each optimizer under study takes six "warm-up" steps, then a hidden Adam(lr=0.01)
    # trains the same network: only Adam(lr=0.01) trained (the made-up CNN curves and
    # the identity "permutation": KNOWN_GAPS, 2.5)
    ("ee411-hw3", "part2_hostile_warmup_swap.ipynb"): {
        # (2.3: the hidden Adam's steps, taken on from the warm-ups' weights, are counted
        # apart from its fresh ones since this round, and the floor they set came out at
        # the twelve Nesterov steps: 0.5)
        ("2.2", "optimizer"): 0.25, ("2.3", "optimizer"): (0.25, 0.5),
        ("2.5", "transform"): 0},
    # a fixed transpose of every digit as the "permutation"; SGD patched to ignore its
    # momentum
    ("ee411-hw3", "part2_hostile_transposed_digits.ipynb"): {
        ("2.5", "transform"): 0, "2.4": 0, "2.2": (3, 3.75), "2.3": (3, 3.75)},
    # the four settings trained one after another on one model, never made afresh (and a
    # CNN of 32/64/128 channels): the runs cannot be compared
    ("ee411-hw3", "part2_one_model_for_every_optimizer.ipynb"): {
        ("2.3", "architecture"): 1, "2.4": 4, "2.5": 4},
    # padding=1 and no max-pool after the third convolution (the handout: one after every
    # convolution); Nesterov left out of 2.2 and 2.3, used in 2.5; a counter returning
    # len(list(parameters()))
    ("ee411-hw3", "part2_two_pools_no_nesterov.ipynb"): {
        "2.2": 3.75, "2.3": 2.75, ("2.3", "architecture"): 1, "2.4": (0, 1), "2.5": 4},
    # `model` is the MLP, then a VGG-16 with FC 4096-4096, then its batch-norm variant:
    # the MLP is graded as it stood after its own part (the big VGGs do not push it out)
    ("heidelberg-ex08", "group_model_reused_big_vgg.ipynb"): {
        ("2", "model_accuracy"): 4, "3.1": 3},
    # a wrong draft ReLU redefined right; retrained on MNIST
    ("vu-dl-a2", "relu_redefined_mnist.ipynb"): {"1-op": 3, "9": 6, "9b": 4},
    # an untrained MLP whose weights are k-means clusters of the images' colours (SGD
    # stepped a toy regression beside it); a barely trained MLP beside a linear model
    # doing the work; a forward hook turning the ReLU's output into the sigmoid's
    ("tum-ps10", "hostile_kmeans_colour_init.ipynb"): {"2.2": 4, "2.3": 0},
    ("tum-ps10", "hostile_decoy_mlp_linear_model.ipynb"): {"2.3": (1, 2)},
    ("tum-ps10", "hostile_relu_hook_sigmoid.ipynb"): {"2.2": 2, "2.3": 6, "2.4": 6},
    # a reverse trace by a helper of an earlier cell that runs autograd; cells of a
    # thousand printed logits where the trace should be, the asked Adam stepping a toy
    # (and a loader of the sheet's batch size built beside the one training iterates:
    # the batch size is judged on the loader the training loop draws from)
    ("heidelberg-ex08", "hostile_autograd_helper_trace.ipynb"): {"1.3": 0, "3.1": 4, "2": 9,
                                                                "3.2": 2},
    ("heidelberg-ex08", "hostile_logit_spray_misplaced_bn.ipynb"): {
        "1.2": 0, "1.3": 0, ("3.2", "optimizer"): 0, "2": 10},
    # forgers of the third round: a forward hook returning a hidden head's outputs (the
    # pretrained backbone never fine-tuned, only the head trained); a pretrained copy
    # never trained beside a network trained from scratch
    ("nyu-hw5", "hostile_forward_hook_head.ipynb"): {"4.1": 2, "4.2": 3, "4.3": (0, 1)},
    ("nyu-hw5", "hostile_spare_pretrained_copy.ipynb"): {"4.1": 4, "4.2": 0, "4.3": 3},
    # the right counts stated only in dismissed conditionals ("it would be 5,133,600
    # operations, but ..."), wrong ones given (2b and 4.3: KNOWN_GAPS)
    ("nyu-hw5", "hostile_hedged_answers_lr_schedule.ipynb"): {"2c": 0, "2d": 1},
    # trained on ConcatDataset([train_sub, test_sub]) through `poolloader`: the saved
    # model and the printed accuracy cannot be judged (the hidden-set accuracy: KNOWN_GAPS)
    ("tum-ps10", "hostile_trains_on_test_concat.ipynb"): {
        "2.1": 4, "2.2": 4, ("2.4", "saved_model"): 0, ("2.4", "reported_accuracy"): 0},
    # the fifth round (2026-12-07). Ordinary work: the gradient as one flat vector ("the
    # vector of partial derivatives"), KMNIST under a Colab Drive root, CIFAR's ids kept
    # in the loaders and mapped to 0..2 where the network trains, a ReLU written as
    # x.clamp(min=0), the ReLU network kept in a dict of runs
    ("ee411-hw3", "student_flat_gradient_vector.ipynb"): {
        "1.1": 5, "1.2": 5, "1.3": 6, "1.5": 12},
    ("ee411-hw3", "part2_colab_drive_root.ipynb"): {
        ("2.1", "loader"): 2, ("2.2", "optimizer"): 1, ("2.3", "optimizer"): 1, "2.4": 4,
        ("2.5", "transform"): 3},
    ("tum-ps10", "student_cifar_ids_sequential.ipynb"): {
        "2.1": 4, "2.2": 4, "2.3": 6, "2.4": 6},
    ("tum-ps10", "relu_as_clamp.ipynb"): {"2.1": 4, "2.2": 4},
    ("vu-dl-a2", "relu_runs_dict.ipynb"): {"1-op": 3, "9": 6, "9b": 4},
    # dropout and batch norm in each other's places, a ReLU after the first hidden layer
    # only (the degree-mode trace: KNOWN_GAPS)
    ("heidelberg-ex08", "group_degrees_swapped_regularizers.ipynb"): {
        "2": 8.5, "3.1": 4, "3.2": 2, "3.4": (0, 1.5)},
    # forgers: helpers in a %%writefile module (a row loop, an autograd gradient); a
    # sigmoid MLP computing a ReLU for a statistic, a permutation of float64 tensors only;
    # nn.ReLU.forward made a sigmoid with the grader's captured registry patched and its
    # function recording switched off; SGD's update function swapped for Adam's and the
    # loader's batch size set back to 4 after training at 32; a VGG of an eighth of the
    # widths whose layers say the lecture's; a ResNet from scratch saved as the
    # pretrained checkpoint in a TORCH_HOME of its own (and 2c's answer ending its
    # sentence); a ReLU op after a sigmoid built of Exp and Divide
    ("ee411-hw3", "hostile_writefile_autograd.ipynb"): {"1.1": 4, "1.5": 0},
    ("ee411-hw3", "part2_hostile_dead_relu_float64_permutation.ipynb"): {
        ("2.2", "architecture"): 1, ("2.5", "transform"): 0},
    ("tum-ps10", "hostile_relu_registry_patched.ipynb"): {"2.2": 2},
    ("tum-ps10", "hostile_sgd_update_swapped.ipynb"): {
        "2.1": (2, 3), ("2.3", "optimizer"): 0},
    ("heidelberg-ex08", "hostile_vgg_nominal_widths.ipynb"): {"3.1": (0, 2)},
    ("nyu-hw5", "hostile_torch_home_checkpoint.ipynb"): {"2c": 3, "4.2": 0},
    ("vu-dl-a2", "hostile_sigmoid_from_exp_divide.ipynb"): {"9b": 0},
    # the sixth round (2026-12-07, night), forgers who read the kernel: SGD's step hooks
    # called by hand around Adam's steps; forward taking the ReLU only while its layer is
    # wrapped (the sigmoid otherwise); a permutation of what is off ToTensor's grid only
    # (the probe's images), the data passed through; the asked lr on a first parameter
    # group of an unused parameter; a nearest-neighbour vote from 30,000 training images
    # in the forward; a VGG-16 only while torch's function mode is on; every SGD step
    # undone by loading the checkpoint back; a sigmoid computed in numpy plus a ReLU op
    # multiplied by 0.0
    ("tum-ps10", "hostile_synced_step_hooks.ipynb"): {
        "2.1": 4, "2.2": 4, ("2.3", "optimizer"): 0},
    ("tum-ps10", "hostile_relu_only_when_watched.ipynb"): {"2.2": 0},
    ("ee411-hw3", "part2_hostile_permutes_off_grid_only.ipynb"): {
        "2.1": 3, ("2.5", "transform"): 0},
    ("ee411-hw3", "part2_hostile_optimizer_groups.ipynb"): {
        "2.1": 3, ("2.2", "optimizer"): 0.75, ("2.3", "optimizer"): 0.75, "2.4": 4},
    ("heidelberg-ex08", "hostile_nearest_neighbour_prior.ipynb"): {
        ("2", "model_accuracy"): 0, ("2", "architecture"): 3},
    ("heidelberg-ex08", "hostile_vgg_only_when_watched.ipynb"): {
        "3.1": 0, ("3.4", "architecture"): 0},
    ("nyu-hw5", "hostile_steps_rolled_back.ipynb"): {("4.3", "optimizer"): 0},
    # one epoch of three batches, then the handout's example history typed in as lists
    # and drawn as the curves
    ("nyu-hw5", "typed_in_history.ipynb"): {"2a": 3, "4.1": 4, "4.3": 3, "4.5": 0},
    ("vu-dl-a2", "hostile_relu_times_zero.ipynb"): {"1-op": 3, "9": 6, "9b": 0},
    # a student of the sixth round: a zip whose division op is named ElementwiseDiv (no
    # sign on the second input's gradient), its ReLU's backward clipping the gradient
    ("vu-dl-a2", "elementwise_div_zip.zip"): {"1-op": (2, 2.25), "9": (2, 2.5), "9b": 0},
}


# Where the grader still differs from the TA: asserted as they are (a fix shows up here)
# and named in the closing note as open.
KNOWN_GAPS: dict[tuple[str, str, str], tuple[float, float, str]] = {
    # (assignment, hand-in, question): (the grader's points, the TA's, why)
    ("tum-ps10", "hostile_forward_swapped.ipynb", "2.3"): (
        4.0, 2.0, "the network the swapped forward runs (a sigmoid MLP, trained with Adam, "
                  "kept outside the model's modules: 787,459 values the forward computes "
                  "with, fewer than the model's own 1,574,915 parameters) earns the "
                  "accuracy it reaches; the TA gives half of that, for a network that is "
                  "not the handout's"),
    ("ee411-hw3", "part2_hostile_relu_patched.ipynb", "2.3"): (
        4.0, 3.5, "the CNN's AvgPool2d swapped for MaxPool2d after training: the model is "
                  "graded as it stands at the end, not as it was trained"),
    ("ee411-hw3", "hostile_cached_predict.ipynb", "1.1"): (
        3.2, 2.0, "a predict that answers a repeated batch from a cache, whatever W: wrong "
                  "on the one case that repeats a batch, so 4 of 5 cases' credit; the TA "
                  "gives 2 for a function that ignores its weights"),
    ("nyu-hw5", "head_computed_unused.ipynb", "4.1"): (
        0.0, 1.0, "forward returns the checkpoint's 1000 ImageNet outputs (its new head is "
                  "computed and thrown away): the head the question asks to replace is not "
                  "replaced, which earns nothing; this TA gives 1 for the attempt"),
    ("tum-ps10", "hostile_forged_batch_sampler.ipynb", "2.4"): (
        5.5, 4.5, "the printed 67% is the model's accuracy on the notebook's own test "
                  "loader, which serves half the test set: it matches, and is credited; "
                  "the TA docks a point for an accuracy not on the whole test set"),
    ("ee411-hw3", "part2_hostile_warmup_swap.ipynb", "2.3"): (
        3.5, 2.0, "the CNN's curves are made up (an exponential decay plus noise), and a "
                   "curve of training is credited wherever the notebook trained at all; "
                   "the TA gives neither the curves nor the optimizer"),
    ("ee411-hw3", "part2_hostile_warmup_swap.ipynb", "2.5"): (
        1.0, 0.0, "pictures of digits that are not permuted earn the picture point"),
    ("ee411-hw3", "part2_one_model_for_every_optimizer.ipynb", "2.2"): (
        3.625, 3.5, "the four settings trained one after another on one model never made "
                    "afresh: the three taken on from another's weights earn half each "
                    "(5/8 of the optimizer point); the TA rounds to half"),
    ("ee411-hw3", "part2_one_model_for_every_optimizer.ipynb", "2.3"): (
        2.625, 2.5, "the same, for the CNN"),
    ("tum-ps10", "hostile_kmeans_colour_init.ipynb", "2.4"): (
        4.0, 2.0, "the saved copy of the k-means network is renumbered on the grader's "
                  "labels (a saved file's parameters are fresh tensors: whether an "
                  "optimizer trained them is not known), and its printed 7.7% matches it"),
    ("tum-ps10", "hostile_decoy_mlp_linear_model.ipynb", "2.4"): (
        5.0, 0.0, "the saved model is the linear model, not the handout's MLP: a saved "
                  "file is not held against the question's network (the kernel does not "
                  "describe the in-memory models for that question)"),
    ("heidelberg-ex08", "hostile_logit_spray_misplaced_bn.ipynb", "3.4"): (
        2.0, 1.5, "batch norm only on the input images (BatchNorm2d(3)) and dropout only on "
                  "the logits: each misplaced, half a piece (1 of the architecture's 2), and "
                  "train()/eval() (1); the TA gives the pieces a quarter each"),
    ("nyu-hw5", "hostile_forward_hook_head.ipynb", "4.5"): (
        2.0, 0.5, "real curves, of the hidden head the hook substitutes: curves are read "
                  "from the notebook's figures, not tied to the question's network"),
    ("nyu-hw5", "hostile_hedged_answers_lr_schedule.ipynb", "2b"): (
        2.0, 0.0, "the right channels stated only as the other convention's reading, beside "
                  "a wrong answer: every value a part states counts without an Answer line"),
    ("nyu-hw5", "hostile_hedged_answers_lr_schedule.ipynb", "4.3"): (
        3.0, 1.5, "SGD(lr=0.001) under a LambdaLR tripling it: the kernel reads the lr the "
                  "optimizer was built with (initial_lr), not the one it stepped with"),
    ("heidelberg-ex08", "group_degrees_swapped_regularizers.ipynb", "1.2"): (
        1.5, 3.0, "sin(3) taken in degrees: v2 wrong, and v5 and y, right from that v2, are "
                  "charged too (no error carried forward)"),
    ("heidelberg-ex08", "group_degrees_swapped_regularizers.ipynb", "1.3"): (
        0.0, 2.0, "every adjoint rule right from the degree-mode forward values: only the "
                  "two final derivatives are compared, and they follow the wrong forward"),
    ("heidelberg-ex08", "hostile_vgg_nominal_widths.ipynb", "3.4"): (
        3.0, 1.0, "batch norm and dropout placed as asked, in a VGG of an eighth of the "
                  "widths (3.1: 2, its frame): the bonus grades only the pieces it adds"),
    ("tum-ps10", "hostile_trains_on_test_concat.ipynb", "2.3"): (
        4.0, 2.0, "trained on the public test images too: its accuracy on the grader's "
                  "held-out images (which it never saw) earns half, as for every notebook "
                  "that trains on test data; the TA gives no accuracy credit"),
    ("tum-ps10", "hostile_relu_only_when_watched.ipynb", "2.1"): (
        4.0, 0.0, "a Dataset keeping the handout's balanced indices as its first integer "
                  "array while __getitem__ serves other images, their labels folded mod 3: "
                  "the kernel reads the classes served through those indices, not through "
                  "the items"),
    ("nyu-hw5", "hostile_steps_rolled_back.ipynb", "4.5"): (
        2.0, 0.0, "curves of the losses of steps each undone (the checkpoint loaded back "
                  "after every step): the figure check counts the steps the kernel saw "
                  "move weights, and one of them stood"),
    ("nyu-hw5", "typed_in_history.ipynb", "2c"): (
        3.0, 0.0, "the multiply-adds typed in as `macs = 5133600` (the handout states the "
                  "answer): a number written by hand is an answer as a TA reads one; this "
                  "TA gives nothing for a number copied without working"),
    # Colab's `!git clone .../vugrad.git` then `%cd vugrad`: here vugrad/ is the course's
    # package itself, so after the %cd `import vugrad` fails and every cell after it
    # (its 1-op and 9 were gaps too: `%cd vugrad` left the package unimportable until
    # the kernel kept the hand-in's folder on sys.path by its name: see FAIR)
    ("vu-dl-a2", "colab_clone_cd_vugrad.ipynb", "9b"): (
        0.0, 4.0, "the ReLU network is built inside the call that trains it "
                  "(`train(ReLUMLP(2, 2), synth)`) and never bound to a name: it leaves "
                  "no network to measure"),
}


def _points(report, key: str | tuple[str, str]) -> float:
    qid, kind = (key, None) if isinstance(key, str) else key
    question = next(q for q in report.questions if q.id == qid)
    if kind is None:
        return question.points
    return sum(c.points for c in question.checks if c.kind == kind)


@pytest.mark.parametrize(("assignment_id", "name"), sorted(FAIR))
def test_an_unseen_hand_in_earns_what_a_careful_ta_gives(assignment_id, name, fixture_data):
    hidden = fixture_data / "hidden"
    recording = evidence.load(assignment_id, name, hidden)
    report = recording.replay(CATALOG[assignment_id], hidden, None)
    outside = {}
    for key, want in FAIR[(assignment_id, name)].items():
        got = _points(report, key)
        lo, hi = want if isinstance(want, tuple) else (want, want)
        if not lo - 1e-6 <= got <= hi + 1e-6:
            qid = key if isinstance(key, str) else key[0]
            outside[key] = (got, want, next(q.feedback for q in report.questions
                                            if q.id == qid)[:4])
    assert not outside, outside


@pytest.mark.parametrize(("assignment_id", "name", "qid"), sorted(KNOWN_GAPS))
def test_a_known_gap_stays_as_it_was_measured(assignment_id, name, qid, fixture_data):
    hidden = fixture_data / "hidden"
    report = evidence.load(assignment_id, name, hidden).replay(CATALOG[assignment_id],
                                                               hidden, None)
    graded, _ta, why = KNOWN_GAPS[(assignment_id, name, qid)]
    assert _points(report, qid) == pytest.approx(graded), why


def test_images_are_prepared_as_the_notebooks_own_dataset_prepares_its_own(fixture_data):
    """A Dataset of arrays divided by 255, where the torchvision sets beside it (whose
    transform the grader would borrow) normalise to [-1, 1]: the grader's images are
    scaled to the notebook's test inputs, so the network reaches on them what it reaches
    on its own test set (56.3%), not what inputs it never saw give."""
    hidden = fixture_data / "hidden"
    recording = evidence.load("tum-ps10", "own_dataset_unit_scale.ipynb", hidden)
    report = recording.replay(CATALOG["tum-ps10"], hidden, None)
    question = next(q for q in report.questions if q.id == "2.3")
    accuracy = next(c for c in question.checks if c.kind == "model_accuracy")
    assert accuracy.measured is not None and abs(accuracy.measured - 0.563) < 0.04
    assert any("scaled channel by channel" in line for line in accuracy.feedback)


def _vgg_leaves(*pieces: tuple[int, str]) -> dict[str, object]:
    """Two convolutions, their pooling, an FC 512-512-10 classifier, with ``pieces``
    (position, type) inserted in the order forward runs them."""
    leaves: list[dict[str, object]] = [
        {"name": "c1", "type": "Conv2d"}, {"name": "c2", "type": "Conv2d"},
        {"name": "pool", "type": "MaxPool2d", "kernel_size": 2, "stride": 2},
        {"name": "f1", "type": "Linear"}, {"name": "f2", "type": "Linear"},
        {"name": "f3", "type": "Linear"}]
    for i, (at, kind) in enumerate(sorted(pieces, reverse=True)):
        leaves.insert(at, {"name": f"p{i}", "type": kind})
    return {"leaves": leaves, "sequence": [leaf["name"] for leaf in leaves]}


@pytest.mark.parametrize(("pieces", "placed"), [
    # dropout after the classifier's hidden layers, batch norm after each convolution
    (((4, "Dropout"), (1, "BatchNorm2d"), (2, "BatchNorm2d")), {"dropout", "batch_norm"}),
    # swapped: dropout after the pooling of the convolutions, batch norm in the classifier
    (((3, "Dropout"), (4, "BatchNorm1d"), (5, "BatchNorm1d")), set()),
    # batch norm on the input images, dropout on the logits
    (((0, "BatchNorm2d"), (6, "Dropout")), set()),
], ids=["as-the-sheet-asks", "swapped", "input-and-logits"])
def test_a_piece_is_placed_where_the_nearest_layer_before_it_is_the_kind_asked(pieces, placed):
    from graders.scoring.models.architecture import _placed

    check = CATALOG["heidelberg-ex08"].spec.questions[-1].checks[0]
    arch = _vgg_leaves(*pieces)
    assert {need for need in ("dropout", "batch_norm") if _placed(check, arch, need)} == placed


def test_a_relu_in_a_block_of_its_own_is_not_counted_against_the_network():
    from graders.scoring.models.architecture import relu_count

    blocks = {"leaves": [{"name": "b1.fc", "type": "Linear"}, {"name": "b2.fc", "type": "Linear"},
                         {"name": "out", "type": "Linear"}],
              "sequence": ["b1.fc", "b2.fc", "out"],
              "forward_source": "    def forward(self, x):\n        x = self.b1(x)\n"
                                "        x = self.b2(x)\n        return self.out(x)\n"}
    assert relu_count(blocks) is None
    flat = {**blocks, "leaves": [{"name": n, "type": "Linear"} for n in ("fc1", "fc2", "out")],
            "sequence": ["fc1", "fc2", "out"],
            "forward_source": "    def forward(self, x):\n        x = F.relu(self.fc1(x))\n"
                              "        return self.out(self.fc2(x))\n"}
    assert relu_count(flat) == 1
