"""TUM EI 70360 (Machine Learning and Optimization), problem set 10.

The handout gives no points; these are ours: problem 1 (the cost of one SGD step) and
the "which class and why" of 2.4 are graded by hand. Accuracies are scored against the
reference notebook's accuracy on the same data (calibrated), on held-out images whose
labels never enter the sandbox.
"""

from graders.spec import (
    TO_TENSOR,
    AccuracyBand,
    ArchitectureCheck,
    Assignment,
    HiddenSet,
    Linear,
    LoaderCheck,
    LoaderSplit,
    ModelAccuracyCheck,
    ModelLocator,
    OptimizerCheck,
    OptimizerSetting,
    Question,
    ReportedAccuracyCheck,
    SavedModelCheck,
    Transform,
)

CAT, DOG, SHIP = 3, 5, 8
HIDDEN = HiddenSet("cifar10-hidden", classes=(CAT, DOG, SHIP))
IN_MEMORY = ModelLocator(names=("net", "model"), output_dim=3)
SAVED = ModelLocator(source="saved")
NORMALIZE = (TO_TENSOR, Transform("Normalize", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))

ASSIGNMENT = Assignment(
    id="tum-ps10",
    title="TUM EI 70360 Problem Set 10: neural networks with PyTorch",
    version="1",
    cell_timeout_s=1800,
    total_timeout_s=3600,
    reference_notebook="solution_notebook.py",
    datasets=("cifar-10-batches-py",),
    questions=(
        Question(id="1", title="Cost of one SGD step for an MLP", points=4, manual=True),
        Question(
            id="2.1", title="Data loaders: cat, dog, ship; 3000/1000 per class; batch 4",
            points=4,
            checks=(LoaderCheck(points=4, batch_size=4, splits=(
                LoaderSplit("training", 9000, train=True,
                            label_counts=((CAT, 3000), (DOG, 3000), (SHIP, 3000))),
                LoaderSplit("test", 3000, train=False,
                            label_counts=((CAT, 1000), (DOG, 1000), (SHIP, 1000))),
            )),),
        ),
        Question(
            id="2.2", title="MLP 3072-512-3 with ReLU", points=4,
            checks=(ArchitectureCheck(points=4, locate=IN_MEMORY,
                                      layers=(Linear(3072, 512), Linear(512, 3)),
                                      parameters=1_574_915, requires=("relu",),
                                      input_shape=(3, 32, 32), logits=True),),
        ),
        Question(
            id="2.3", title="Training with SGD (lr 0.001, momentum 0.9)", points=6,
            section=r"2\.3|train", budget_s=1800,
            checks=(ModelAccuracyCheck(points=4, locate=IN_MEMORY, data=HIDDEN,
                                       band=AccuracyBand(full_within=0.05, zero_within=0.25),
                                       fallback_transform=NORMALIZE),
                    # "Define a SGD optimizer with learning rate 0.001 and momentum 0.9"
                    # an epoch in batches of 4 is 2,250 steps: a handful is not training
                    OptimizerCheck(points=2, settings=(
                        OptimizerSetting.of("SGD", lr=0.001, momentum=0.9),), min_steps=100)),
        ),
        Question(
            id="2.4", title="Best model saved; overall and per-class test accuracy",
            points=6,
            checks=(
                # the grader's images too: a "model" that looks each test image up
                # reaches 100% on the notebook's own test set and chance on these
                SavedModelCheck(points=2, data=HIDDEN, fallback_transform=NORMALIZE),
                ModelAccuracyCheck(points=2, locate=SAVED, data=HIDDEN,
                                   band=AccuracyBand(full_within=0.05, zero_within=0.25),
                                   fallback_transform=NORMALIZE),
                ReportedAccuracyCheck(points=2, locate=ModelLocator(source="any"),
                                      per_class=("cat", "dog", "ship"), data=HIDDEN,
                                      fallback_transform=NORMALIZE),
            ),
        ),
        Question(id="2.4b", title="Which class is classified best, and why", points=2,
                 manual=True),
    ),
)
