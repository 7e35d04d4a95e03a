"""scikit-learn's own MLP tests, run against fastnn.sklearn.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is read at
collection time, its import of ``MLPClassifier``/``MLPRegressor`` is swapped for
``fastnn.sklearn``'s, and its test functions (with their parametrize marks) become this
module's.  Nothing of its text is stored here.  The tests listed in ``SKIPPED`` read or
call scikit-learn's private attributes and are skipped with the reason given.
"""
import importlib.util
import types

import numpy as np
import pytest

pytest.importorskip("sklearn")

UPSTREAM = "sklearn.neural_network.tests.test_mlp"
SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
FASTNN_IMPORT = "from fastnn.sklearn import MLPClassifier, MLPRegressor"

#: upstream tests that depend on scikit-learn's private implementation, with the reason
SKIPPED = {
    "test_fit": "builds a fitted estimator by assigning scikit-learn's private attributes "
                "(_coef_grads, _coef_velocity, _no_improvement_count, ...) before "
                "partial_fit (the same SGD arithmetic is checked against scikit-learn in "
                "test_sklearn.py::test_sgd_matches_sklearn_exactly)",
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate of "
                                    "scikit-learn's SGDOptimizer (the invscaling schedule "
                                    "is checked against scikit-learn in test_sklearn.py)",
    "test_adaptive_learning_rate": "reads the private _optimizer.learning_rate of "
                                   "scikit-learn's SGDOptimizer (the adaptive schedule is "
                                   "checked against scikit-learn in test_sklearn.py)",
    "test_gradient": "calls the private MLP._loss_grad_lbfgs with scikit-learn's "
                     "per-layer work arrays (fastnn's gradient is checked against finite "
                     "differences in test_sklearn_lbfgs.py)",
}


def _load_upstream() -> types.ModuleType:
    spec = importlib.util.find_spec(UPSTREAM)
    if spec is None or spec.origin is None:
        pytest.skip(f"{UPSTREAM} is not installed with scikit-learn",
                    allow_module_level=True)
    with open(spec.origin, encoding="utf-8") as f:
        source = f.read()
    if source.count(SKLEARN_IMPORT) != 1:
        raise RuntimeError(f"{spec.origin} no longer imports the estimators with "
                           f"{SKLEARN_IMPORT!r}: update the import swap in {__file__}")
    module = types.ModuleType("sklearn_test_mlp_on_fastnn")
    module.__file__ = spec.origin
    code = compile(source.replace(SKLEARN_IMPORT, FASTNN_IMPORT), spec.origin, "exec")
    exec(code, module.__dict__)
    return module


_upstream = _load_upstream()


def test_upstream_estimators_are_fastnns():
    from fastnn import sklearn as fastnn_sklearn
    assert _upstream.MLPClassifier is fastnn_sklearn.MLPClassifier
    assert _upstream.MLPRegressor is fastnn_sklearn.MLPRegressor


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name, at its default seed."""
    return 42


for _name, _test in vars(_upstream).items():
    if _name.startswith("test_") and callable(_test):
        if _name in SKIPPED:
            _test = pytest.mark.skip(reason=SKIPPED[_name])(_test)
        globals()[_name] = _test


def test_skip_list_names_upstream_tests():
    assert set(SKIPPED) <= {name for name in vars(_upstream) if name.startswith("test_")}
    assert np.all([isinstance(reason, str) and reason for reason in SKIPPED.values()])
