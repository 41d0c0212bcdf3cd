"""The vocabulary an assignment's ``spec.py`` is written in, and nothing else.

Everything here is declarative and made of frozen dataclasses, so that a spec is plain
data: ``reference/<id>/spec.py`` builds one ``Assignment`` named ``ASSIGNMENT`` and never
runs grading logic itself. Shapes may name dimensions ("B") that each case binds.
"""

from graders.spec.assignment import Assignment, Question
from graders.spec.functions import (
    FunctionCheck,
    GradientCheck,
    Layout,
    NoLoops,
    StabilityCheck,
)
from graders.spec.layers import (
    TO_TENSOR,
    Conv2d,
    Layer,
    LayerSpec,
    Linear,
    Transform,
    layer_name,
    layer_parameters,
    layer_wire,
)
from graders.spec.models import (
    AccuracyBand,
    ArchitectureCheck,
    Check,
    HiddenSet,
    LoaderCheck,
    LoaderSplit,
    ModelAccuracyCheck,
    ModelCheck,
    ModelLocator,
    OptimizerCheck,
    OptimizerSetting,
    ParamCountCheck,
    PlotCheck,
    ReportedAccuracyCheck,
    SavedModelCheck,
    TransformCheck,
)
from graders.spec.values import (
    Case,
    Diagnosis,
    Dim,
    Fixed,
    Generator,
    Keyed,
    Labels,
    Mapping,
    Mistake,
    Normal,
    Ordered,
    Output,
    Shape,
    Tolerance,
    Uniform,
    Value,
    Visibility,
    cases,
)

__all__ = [
    "TO_TENSOR", "AccuracyBand", "ArchitectureCheck", "Assignment", "Case", "Check",
    "Conv2d", "Diagnosis", "Dim", "Fixed", "FunctionCheck", "Generator", "GradientCheck",
    "HiddenSet", "Keyed", "Labels", "Layer", "LayerSpec", "Layout", "Linear", "LoaderCheck",
    "LoaderSplit", "Mapping", "Mistake", "ModelAccuracyCheck", "ModelCheck",
    "ModelLocator", "NoLoops", "Normal", "OptimizerCheck", "OptimizerSetting", "Ordered",
    "Output", "ParamCountCheck", "PlotCheck", "Question", "ReportedAccuracyCheck",
    "SavedModelCheck", "Shape", "StabilityCheck", "Tolerance", "Transform",
    "TransformCheck", "Uniform", "Value", "Visibility", "cases", "layer_name",
    "layer_parameters", "layer_wire",
]
