"""One training epoch (784 -> 128 -> 10 and 64 -> 32 -> 10, ReLU, softmax-CE, SGD):
fastnn's compiled ``fit`` against the NumPy reference loop and PyTorch.

    pytest benchmarks/bench_training.py --benchmark-group-by=param
"""
import numpy as np
import pytest

import fastnn
from fastnn import reference as R

N = 12_000  # samples per epoch here; `fastnn bench` reports full 60,000-sample epochs
CASES = [((784, 128, 10), 1), ((784, 128, 10), 16), ((784, 128, 10), 64),
         ((784, 128, 10), 256), ((64, 32, 10), 64)]


def _data(sizes):
    rng = np.random.default_rng(0)
    return rng.random((N, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], N)


def _ids(case):
    sizes, batch = case
    return f"{'-'.join(map(str, sizes))}-b{batch}"


@pytest.fixture(params=CASES, ids=[_ids(c) for c in CASES])
def case(request):
    sizes, batch = request.param
    n = N // 10 if batch == 1 else N
    X, y = _data(sizes)
    return sizes, batch, X[:n], y[:n]


def test_fastnn_fit_epoch(benchmark, case):
    sizes, batch, X, y = case
    model = fastnn.Sequential([fastnn.Dense(sizes[0], sizes[1], seed=0), fastnn.ReLU(),
                               fastnn.Dense(sizes[1], sizes[2], seed=1)])
    opt = fastnn.SGD(model.parameters(), lr=0.01)
    benchmark.pedantic(model.fit, args=(X, y),
                       kwargs=dict(loss="cross_entropy", optimizer=opt, epochs=1,
                                   batch_size=batch, verbose=False),
                       rounds=3, warmup_rounds=1)


def test_numpy_reference_epoch(benchmark, case):
    sizes, batch, X, y = case
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b)).astype(np.float32) * np.float32(np.sqrt(2 / a))
               for a, b in zip(sizes, sizes[1:])]
    biases = [np.zeros(b, np.float32) for b in sizes[1:]]
    order = rng.permutation(len(X))
    benchmark.pedantic(R.mlp_train_epoch, args=(weights, biases, X, y, order),
                       kwargs=dict(lr=0.01, batch_size=batch), rounds=3, warmup_rounds=1)


def test_torch_epoch(benchmark, case):
    torch = pytest.importorskip("torch")
    sizes, batch, X, y = case
    torch.set_num_threads(fastnn.get_num_threads())
    net = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.ReLU(),
                              torch.nn.Linear(sizes[1], sizes[2]))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def epoch():
        perm = torch.randperm(len(X))
        for start in range(0, len(X), batch):
            idx = perm[start:start + batch]
            opt.zero_grad()
            loss_fn(net(tX[idx]), ty[idx]).backward()
            opt.step()

    benchmark.pedantic(epoch, rounds=3, warmup_rounds=1)
