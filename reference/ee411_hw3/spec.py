"""EE-411 homework 3 (EPFL), part 1: backpropagation with the logistic loss.

D = 7 inputs, K = 5 hidden units, W = {'w_1': D x K, 'w_2': K x 1}; 40 points in the
handout's part 1, of which 12 (the derivation, 1.4) are graded by hand.
"""

from graders.spec import (
    Assignment,
    Case,
    Diagnosis,
    Fixed,
    FunctionCheck,
    GradientCheck,
    Keyed,
    Labels,
    Mapping,
    Mistake,
    NoLoops,
    Normal,
    Ordered,
    Question,
    StabilityCheck,
    Tolerance,
    Uniform,
    Value,
    cases,
)

D, K = 7, 5
W = Mapping.of(w_1=Normal((D, K), scale=0.5), w_2=Normal((K, 1), scale=0.5))
X = Normal(("B", D))
y = Labels(("B",))
TOL = Tolerance(rtol=1e-6, atol=1e-9)


def _extreme(y_values: list[float], z_values: list[float], name: str) -> Case:
    return Case(args=(Fixed(y_values), Fixed(z_values)), name=name)


ASSIGNMENT = Assignment(
    id="ee411-hw3",
    title="EE-411 Homework 3: Neural networks (part 1, backpropagation)",
    version="1",
    cell_timeout_s=120,
    total_timeout_s=600,
    questions=(
        Question(
            id="1.1", title="predict(X, W)", points=5,
            checks=(
                FunctionCheck(
                    symbol="predict", points=4,
                    cases=cases((X, W), {"B": 1}, {"B": 4}, {"B": 16}),
                    output=Ordered(("z_1", "z_2", "y_hat")),
                    tolerance=TOL,
                    diagnoses=(Diagnosis(
                        Mistake.TRANSPOSED, credit=0.5,
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
                    symbol="gradient", points=10,
                    cases=cases((X, y, W), {"B": 3}, {"B": 8}, {"B": 20}),
                    output=Keyed(("w_1", "w_2")),
                    tolerance=Tolerance(rtol=1e-5, atol=1e-8),
                    loss="average_loss", wrt=2,
                    diagnoses=(
                        Diagnosis(Mistake.SUM_OVER_BATCH, credit=0.5,
                                  feedback="the gradient is summed over the batch; the "
                                           "handout asks for the gradient of the average "
                                           "loss (divide by B)"),
                        Diagnosis(Mistake.SIGN_FLIP, credit=0.3,
                                  feedback="the gradient has the wrong sign (this is the "
                                           "direction of descent, not the gradient)"),
                    ),
                ),
                NoLoops(symbol="gradient", points=2),
            ),
        ),
    ),
)
