"""EE-411 homework 3 (EPFL): part 1, backpropagation with the logistic loss; part 2,
classifying KMNIST with an MLP and a CNN.

Part 1: D = 7 inputs, K = 5 hidden units, W = {'w_1': D x K, 'w_2': K x 1}; 40 points,
of which 12 (the derivation, 1.4) are graded by hand. Part 2: 30 points (+5 bonus); the
written answers ("comment on your results", "explain") are graded by hand.
"""

from graders.spec import (
    ArchitectureCheck,
    Assignment,
    Case,
    Conv2d,
    Diagnosis,
    Drawing,
    Fixed,
    FunctionCheck,
    GradientCheck,
    Keyed,
    Labels,
    Layer,
    Layout,
    Linear,
    LoaderCheck,
    LoaderSplit,
    Mapping,
    Mistake,
    ModelLocator,
    NoLoops,
    Normal,
    OptimizerCheck,
    OptimizerSetting,
    Ordered,
    ParamCountCheck,
    PlotCheck,
    Question,
    StabilityCheck,
    Tolerance,
    TransformCheck,
    Uniform,
    Value,
    cases,
)

D, K = 7, 5
W = Mapping.of(w_1=Normal((D, K), scale=0.5), w_2=Normal((K, 1), scale=0.5))
X = Normal(("B", D))
y = Labels(("B",))
TOL = Tolerance(rtol=1e-6, atol=1e-9)
# one batch given twice, with other weights each time: a predict that remembers its
# answers by X (a cache keyed on X.tobytes()) answers the second call with the first's
X_TWICE = Fixed([[round(0.37 * ((3 * i + 5 * j) % 11) - 1.8, 2) for j in range(D)]
                 for i in range(3)])


def _extreme(y_values: list[float], z_values: list[float], name: str) -> Case:
    return Case(args=(Fixed(y_values), Fixed(z_values)), name=name)


def _large_logits(scale: float, name: str) -> Case:
    """A batch whose logits z_2 are of the order of +-scale, of both signs: w_2 is
    (scale, -scale, scale, -scale, 0), so each logit is scale times a difference of
    hidden activations (drawn, a w_2 of one sign gave every logit the same sign)."""
    w_2 = Fixed([[scale], [-scale], [scale], [-scale], [0.0]])
    weights = Mapping.of(w_1=Normal((D, K), scale=0.5), w_2=w_2)
    return Case(args=(X, y, weights), dims=(("B", 20),), name=name)


GRADIENT_LAYOUTS = (
    Layout("the labels y as a (B, 1) column", columns=(1,)),
    Layout("w_2 as a (K,) vector", flat=((2, "w_2"),)),
    Layout("y as a (B, 1) column and w_2 as a (K,) vector", columns=(1,),
           flat=((2, "w_2"),)),
)


MEMORY = ModelLocator()
RELU, POOL = Layer("ReLU"), Layer("MaxPool2d", 2)
MLP_LAYERS = (Layer("Flatten"), Linear(784, 100), RELU, Linear(100, 100), RELU,
              Linear(100, 10))
CNN_LAYERS = (Conv2d(1, 16, 3), RELU, POOL, Conv2d(16, 32, 3), RELU, POOL, Conv2d(32, 64, 3),
              RELU, POOL, Layer("Flatten"), Linear(64, 10))

# takes the handout's 1x28x28 images too: a counter that runs a forward pass (torchinfo's
# summary of a (1, 28, 28) input) counts it as it counts the handout's models
UNSEEN_LAYERS = (Conv2d(1, 5, 3), RELU, Layer("Flatten"), Linear(5 * 26 * 26, 7), RELU,
                 Linear(7, 3))

# an optimizer stepped once for show, before another network is trained, is no training
# with it (an epoch of KMNIST in batches of 64 is 938 steps)
MIN_STEPS = 5

OPTIMIZERS = (
    OptimizerSetting.of("SGD", lr=0.01),
    OptimizerSetting.of("SGD", lr=0.01, momentum=0.9, nesterov=True),
    OptimizerSetting.of("Adam", lr=0.01),
    OptimizerSetting.of("Adam", lr=1),
)

PART2 = (
    Question(
        id="2.1", title="KMNIST loaders (50000 / 10000 / test) and a look at the data",
        points=3, section=r"2\.1|load",
        checks=(
            LoaderCheck(points=2, splits=(
                LoaderSplit("training", 50_000, train=True),
                LoaderSplit("validation", 10_000, train=True),
                LoaderSplit("test", 10_000, train=False))),
            PlotCheck(points=1, section=r"2\.1|load|visuali", shows=Drawing.PICTURES),
        ),
    ),
    Question(id="2.1b", title="Which transform is necessary", points=1, manual=True),
    Question(
        id="2.2", title="MLP 784-100-100-10 (ReLU), four optimizers, learning curves",
        points=4, budget_s=1200,
        checks=(
            ArchitectureCheck(points=2, locate=MEMORY,
                              layers=(Linear(784, 100), Linear(100, 100), Linear(100, 10)),
                              parameters=89_610, requires=("relu",),
                              input_shape=(1, 28, 28), logits=True),
            OptimizerCheck(points=1, settings=OPTIMIZERS, min_steps=MIN_STEPS),
            PlotCheck(points=1, section=r"2\.2|MLP|perceptron", shows=Drawing.CURVES,
                      of_training=True),
        ),
    ),
    Question(id="2.2b", title="MLP: comments on the four optimizers", points=2, manual=True),
    Question(
        id="2.3", title="CNN (16/32/64 channels, 3x3, max-pooling), four optimizers, curves",
        points=4, budget_s=1200,
        checks=(
            ArchitectureCheck(points=2, locate=MEMORY,
                              layers=(Conv2d(1, 16, 3), Conv2d(16, 32, 3), Conv2d(32, 64, 3),
                                      Linear(None, 10)),
                              requires=("max_pool",), each=(("max_pool", "Conv2d"),),
                              input_shape=(1, 28, 28), logits=True),
            OptimizerCheck(points=1, settings=OPTIMIZERS, min_steps=MIN_STEPS),
            PlotCheck(points=1, section=r"2\.3|CNN|convolution", shows=Drawing.CURVES,
                      of_training=True),
        ),
    ),
    Question(id="2.3b", title="CNN: comments on the four optimizers", points=2, manual=True),
    Question(
        id="2.4", title="A function counting a model's parameters", points=4,
        # a function counting weights and biases of any model: also tried on one the
        # handout never shows (a count typed in for its two models is no function);
        # named like what it does: count_params, count_weights, n_parameters, numel
        # (not save_weights, train_..., plot_...: those do something else with a model)
        checks=(ParamCountCheck(points=4, pattern=r"(?i)^(?!.*(save|load|train|plot|init|"
                                                  r"show|draw|fit))(.*param|.*count|.*numel|"
                                                  r".*weights)",
                                models=(MLP_LAYERS, CNN_LAYERS), unseen=(UNSEEN_LAYERS,)),),
    ),
    Question(id="2.4b", title="Do more parameters mean better performance?", points=2,
             manual=True),
    Question(
        id="2.5", title="PermutedKMNIST: RandomPermutation as the last transform", points=4,
        budget_s=1200,
        checks=(
            TransformCheck(points=3, last="RandomPermutation", permutes=True),
            # "Visualize the new dataset": pictures of permuted digits, not curves
            PlotCheck(points=1, section=r"2\.5|permut", shows=Drawing.PICTURES),
        ),
    ),
    Question(id="2.5b", title="PermutedKMNIST: observations", points=4, manual=True),
    Question(id="2.6", title="Bonus: improving validation performance", points=5,
             manual=True),
)

ASSIGNMENT = Assignment(
    id="ee411-hw3",
    title="EE-411 Homework 3: Neural networks (part 1, backpropagation)",
    version="1",
    reference_notebook="solution_notebook.py",
    datasets=("KMNIST",),
    # training runs only in 2.2, 2.3 and 2.5 (their own budgets); any other cell of this
    # handout takes seconds, and one that hangs (a recursive glob) must not hold a worker
    cell_timeout_s=300,
    total_timeout_s=3600,
    questions=(
        Question(
            id="1.1", title="predict(X, W)", points=5,
            checks=(
                FunctionCheck(
                    symbol="predict", points=4,
                    cases=(*cases((X, W), {"B": 1}, {"B": 4}, {"B": 16}),
                           Case(args=(X_TWICE, W), name="a batch of 3"),
                           Case(args=(X_TWICE, W), name="the same batch, other weights")),
                    output=Ordered(("z_1", "z_2", "y_hat")),
                    tolerance=TOL,
                    # the right values in a transposed layout: a presentation
                    # difference, costing a fifth (as a TA would take off)
                    diagnoses=(Diagnosis(
                        Mistake.TRANSPOSED, credit=0.8,
                        feedback="z_1 is transposed: the handout's batch is B x D, so z_1 "
                                 "must be B x K"),),
                ),
                NoLoops(symbol="predict", points=1),
            ),
        ),
        Question(
            id="1.2", title="logistic_loss(y, y_hat)", points=5,
            checks=(
                FunctionCheck(
                    symbol="logistic_loss", points=5,
                    cases=cases((y, Uniform(("B",), 0.02, 0.98)), {"B": 2}, {"B": 5}, {"B": 32}),
                    output=Value("the loss"), tolerance=TOL,
                    layouts=(Layout("y and y_hat as (B, 1) columns", columns=(0, 1)),),
                    diagnoses=(Diagnosis(
                        Mistake.SUM_OVER_BATCH, credit=0.4,
                        feedback="the loss is summed over the batch; the handout asks for "
                                 "the average"),),
                ),
            ),
        ),
        Question(
            id="1.3", title="stable_logistic_loss(y, z_2)", points=6,
            checks=(
                FunctionCheck(
                    symbol="stable_logistic_loss", points=3,
                    cases=cases((y, Normal(("B",), scale=3.0)), {"B": 2}, {"B": 6}, {"B": 32}),
                    output=Value("the loss"), tolerance=TOL,
                    layouts=(Layout("y and z_2 as (B, 1) columns", columns=(0, 1)),),
                    diagnoses=(Diagnosis(
                        Mistake.SUM_OVER_BATCH, credit=0.4,
                        feedback="the loss is summed over the batch; the handout asks for "
                                 "the average"),),
                ),
                StabilityCheck(
                    symbol="stable_logistic_loss", points=3,
                    cases=(
                        _extreme([0.0] * 5, [-1e10] * 5, "y = 0, z_2 = -1e10"),
                        _extreme([0.0], [1e10], "y = 0, z_2 = +1e10"),
                        _extreme([1.0, 0.0], [1e10, -1e10], "y = (1, 0), z_2 = (+1e10, -1e10)"),
                        _extreme([1.0, 0.0], [-1e10, 1e10], "y = (1, 0), z_2 = (-1e10, +1e10)"),
                        _extreme([0.0, 1.0, 0.0, 1.0], [-800.0, 800.0, 750.0, -750.0],
                                 "|z_2| = 800"),
                    ),
                    output=Value("the loss"), tolerance=TOL,
                ),
            ),
        ),
        Question(id="1.4", title="Backpropagation derivation", points=12, manual=True),
        Question(
            id="1.5", title="gradient(X, y, W)", points=12,
            checks=(
                GradientCheck(
                    symbol="gradient", points=8,
                    cases=cases((X, y, W), {"B": 3}, {"B": 8}, {"B": 20}),
                    output=Keyed(("w_1", "w_2")),
                    tolerance=Tolerance(rtol=1e-5, atol=1e-8),
                    loss="average_loss", wrt=2,
                    layouts=GRADIENT_LAYOUTS,
                    # "derive ... using the backpropagation algorithm": an estimate by
                    # finite differences or by autograd is not the derivation asked for
                    numeric=("approx_fprime", "check_grad", "approx_derivative", "autograd"),
                    # w_2's gradient right with w_1's wrong is the output layer derived
                    # and the chain rule through the hidden layer missed: credit for the
                    # part that is right, most of it for the harder w_1
                    shares=(0.7, 0.3),
                    diagnoses=(
                        Diagnosis(Mistake.SUM_OVER_BATCH, credit=0.5,
                                  feedback="the gradient is summed over the batch; the "
                                           "handout asks for the gradient of the average "
                                           "loss (divide by B)"),
                        Diagnosis(Mistake.SIGN_FLIP, credit=0.3,
                                  feedback="the gradient has the wrong sign (this is the "
                                           "direction of descent, not the gradient)"),
                        # the right numbers in the wrong orientation: a presentation slip,
                        # as in 1.1 (a gradient has its weight's shape, so that
                        # W - lr * gradient works)
                        Diagnosis(Mistake.TRANSPOSED, credit=0.8,
                                  feedback="the gradient is transposed: each gradient must "
                                           "have its weight's shape (w_1: D x K, w_2: K x 1)"),
                    ),
                ),
                NoLoops(symbol="gradient", points=2),
                # "the final implementation should be stable" (the handout, 1.4): at logits
                # in the hundreds and of 1e9, backpropagating through dL/dy_hat divides by
                # y_hat (1 - y_hat), which is 0 there, and a finite-difference gradient
                # loses every digit to cancellation. Last, so that the loop-free credit
                # depends on the values alone.
                StabilityCheck(
                    symbol="gradient", points=2,
                    cases=(_large_logits(1000.0, "logits in the hundreds"),
                           _large_logits(1e10, "logits of about +-1e9")),
                    output=Keyed(("w_1", "w_2")),
                    tolerance=Tolerance(rtol=1e-5, atol=1e-8),
                    layouts=GRADIENT_LAYOUTS,
                ),
            ),
        ),
        *PART2,
    ),
)
