"""Bohamiann and DNGO: the pieces are what they claim (gradients, sampler, regression),
the models behave like Bayesian ones, and the optimizers work through LabAssistant."""

import json
import math
import os

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("scipy")

from labwatch import LabAssistant  # noqa: E402
from labwatch.hyperparameters import (  # noqa: E402
    Categorical,
    Condition,
    UniformFloat,
    UniformInt,
)
from labwatch.optimizers import DNGO, Bohamiann  # noqa: E402
from labwatch.optimizers._acquisition import (  # noqa: E402
    acquisition,
    expected_improvement,
    lower_confidence_bound,
)
from labwatch.optimizers._adam import Adam, train_mlp  # noqa: E402
from labwatch.optimizers._blr import BayesianLinearRegression  # noqa: E402
from labwatch.optimizers._bnn import BayesianNeuralNetwork  # noqa: E402
from labwatch.optimizers._candidates import CandidateSpace  # noqa: E402
from labwatch.optimizers._mlp import MLP  # noqa: E402
from labwatch.optimizers._sghmc import sample  # noqa: E402
from labwatch.optimizers.encoding import UnitEncoder  # noqa: E402
from labwatch.searchspace import SearchSpace  # noqa: E402
from sacred import Experiment  # noqa: E402

# small settings for speed; the defaults are exercised by bench/bench_labwatch.py
FAST_BOHAMIANN = dict(burn_in=300, n_samples=20, keep_every=20)
FAST_DNGO = dict(steps=300)


def numeric_gradient(f, theta, h=1e-6):
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = h
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


# ---------------------------------------------------------------- the network


def test_mlp_backward_agrees_with_finite_differences():
    rng = np.random.default_rng(0)
    net = MLP(3, hidden=(7, 5), n_outputs=2)
    theta = net.init(rng) + rng.normal(0, 0.3, net.size)  # non-zero biases too
    X = rng.normal(size=(11, 3))
    R = rng.normal(size=(11, 2))

    def loss(t):
        return float((net.forward(t, X)[0] * R).sum())

    out, acts = net.forward(theta, X)
    analytic = net.backward(theta, acts, R)
    assert analytic.shape == (net.size,) == (3 * 7 + 7 + 7 * 5 + 5 + 5 * 2 + 2,)
    np.testing.assert_allclose(analytic, numeric_gradient(loss, theta), rtol=1e-6, atol=1e-8)


def test_mlp_batched_prediction_equals_one_network_at_a_time():
    rng = np.random.default_rng(1)
    net = MLP(2, hidden=(6, 6))
    thetas = np.stack([net.init(rng) for _ in range(4)])
    X = rng.normal(size=(9, 2))
    many = net.predict_many(thetas, X)
    assert many.shape == (4, 9, 1)
    for t, out in zip(thetas, many):
        np.testing.assert_allclose(out, net.forward(t, X)[0])
    np.testing.assert_allclose(net.features(thetas[0], X).shape, (9, 6))


def test_bnn_potential_gradient_agrees_with_finite_differences():
    rng = np.random.default_rng(2)
    model = BayesianNeuralNetwork(rng, hidden=(5, 4), weight_prior_std=0.7)
    X = rng.normal(size=(8, 2))
    y = rng.normal(size=8)
    model.net = MLP(2, model.hidden, 1)
    theta = np.concatenate([model.net.init(rng), [-1.3]])  # weights, then log noise

    analytic = model.potential_gradient(theta, X, y)
    numeric = numeric_gradient(lambda t: model.potential(t, X, y), theta)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)
    # a minibatch's likelihood term is scaled up to the whole data set, the prior is not
    half = model.potential_gradient(theta, X[:4], y[:4], scale=2.0)
    prior = model.potential_gradient(theta, X[:0], y[:0])
    both = model.potential_gradient(theta, X[:4], y[:4])
    np.testing.assert_allclose(half - prior, 2 * (both - prior))


# ---------------------------------------------------------------- the sampler


def test_sghmc_recovers_a_one_dimensional_gaussian():
    rng = np.random.default_rng(0)
    mu, sd = 3.0, 0.5  # U = (theta - mu)^2 / (2 sd^2), started six sd away
    samples = sample(
        lambda t: (t - mu) / sd**2,
        np.array([0.0]),
        rng,
        n_samples=3000,
        burn_in=1000,
        keep_every=10,
        lr=0.05,
    )
    assert samples.shape == (3000, 1)
    assert abs(samples.mean() - mu) < 0.1 * sd
    assert 0.9 < samples.std() / sd < 1.1  # an optimiser would collapse to the mode


def test_sghmc_with_minibatches_recovers_bayesian_linear_regression():
    rng = np.random.default_rng(0)
    n, noise_sd, alpha = 200, 2.0, 1.0
    X = rng.normal(size=(n, 2))
    X[:, 1] = 0.6 * X[:, 0] + 0.8 * X[:, 1]  # correlated posterior
    y = X @ np.array([1.0, -2.0]) + noise_sd * rng.normal(size=n)
    precision = alpha * np.eye(2) + X.T @ X / noise_sd**2
    cov = np.linalg.inv(precision)
    mean = cov @ X.T @ y / noise_sd**2

    def grad_u(w, batch=20):  # minibatch estimate of the full gradient
        rows = rng.integers(0, n, batch)
        xb, yb = X[rows], y[rows]
        return (n / batch) * xb.T @ (xb @ w - yb) / noise_sd**2 + alpha * w

    samples = sample(grad_u, np.zeros(2), rng, 2000, burn_in=2000, keep_every=20, lr=0.02)
    sd = np.sqrt(np.diag(cov))
    got = np.cov(samples.T)
    assert np.all(np.abs(samples.mean(0) - mean) < 0.25 * sd)
    assert np.all(np.abs(np.sqrt(np.diag(got)) / sd - 1) < 0.15)
    corr = cov[0, 1] / (sd[0] * sd[1])
    assert corr < -0.5
    assert abs(got[0, 1] / np.sqrt(got[0, 0] * got[1, 1]) - corr) < 0.1


# ---------------------------------------------------------------- Adam and the regression


def test_adam_minimises_a_badly_scaled_quadratic():
    scales = np.array([1e-2, 1.0, 1e2])
    adam = Adam(np.array([1.0, 1.0, 1.0]), lr=0.05)
    for _ in range(2000):
        adam.step(scales * (adam.theta - 2.0))
    np.testing.assert_allclose(adam.theta, 2.0, atol=1e-3)


def test_train_mlp_fits_a_smooth_function():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(100, 1))
    y = np.sin(2 * X[:, 0])
    net = MLP(1, (20, 20))
    theta0 = net.init(rng)
    theta = train_mlp(net, theta0, X, y, rng, steps=1500, batch_size=32)

    def mse(t):
        return float(((net.forward(t, X)[0][:, 0] - y) ** 2).mean())

    assert mse(theta) < 0.01 < mse(theta0)


def gp_form(Phi, y, alpha, beta, Phi_star):
    """The same Bayesian linear regression written as a Gaussian process."""
    K = Phi @ Phi.T / alpha + np.eye(len(y)) / beta
    k_star = Phi_star @ Phi.T / alpha
    mean = k_star @ np.linalg.solve(K, y)
    var = (Phi_star * Phi_star).sum(1) / alpha + 1 / beta
    var -= np.einsum("ij,ji->i", k_star, np.linalg.solve(K, k_star.T))
    sign, logdet = np.linalg.slogdet(K)
    log_ml = -0.5 * (y @ np.linalg.solve(K, y) + logdet + len(y) * np.log(2 * np.pi))
    return mean, var, log_ml


def test_bayesian_linear_regression_matches_the_closed_form():
    rng = np.random.default_rng(3)
    Phi = rng.normal(size=(30, 5))
    y = Phi @ rng.normal(size=5) + 0.3 * rng.normal(size=30)
    Phi_star = rng.normal(size=(7, 5))

    blr = BayesianLinearRegression(alpha=2.0, beta=10.0, optimize=False).fit(Phi, y)
    mean, var = blr.predict(Phi_star)
    want_mean, want_var, want_log_ml = gp_form(Phi, y, 2.0, 10.0, Phi_star)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-8)
    np.testing.assert_allclose(var, want_var, rtol=1e-8)
    assert blr.log_marginal_likelihood() == pytest.approx(want_log_ml, rel=1e-10)


def test_bayesian_linear_regression_maximises_the_evidence():
    rng = np.random.default_rng(4)
    Phi = rng.normal(size=(40, 6))
    y = Phi @ rng.normal(0, 0.5, size=6) + 0.2 * rng.normal(size=40)
    blr = BayesianLinearRegression().fit(Phi, y)
    a, b = blr.alpha, blr.beta
    assert 5 < b < 100  # the noise sd is 0.2: beta near 25
    best = gp_form(Phi, y, a, b, Phi[:1])[2]
    assert blr.log_marginal_likelihood() == pytest.approx(best, rel=1e-10)
    for da in (0.8, 1.0, 1.25):
        for db in (0.8, 1.0, 1.25):
            if (da, db) != (1.0, 1.0):
                assert gp_form(Phi, y, a * da, b * db, Phi[:1])[2] < best


# ---------------------------------------------------------------- the surrogates


def one_dimensional_fit(cls, **kw):
    space = SearchSpace({"x": UniformFloat(0.0, 1.0)})
    opt = cls(space, seed=0, **kw)
    xs = np.linspace(0.35, 0.55, 12)
    opt.update([{"x": float(x)} for x in xs], [float(np.sin(12 * x)) for x in xs], [None] * 12)
    opt.fit()
    return opt


@pytest.mark.parametrize("cls", [Bohamiann, DNGO])
def test_predictive_variance_grows_away_from_the_data(cls):
    opt = one_dimensional_fit(cls)  # the default settings
    inside = np.array([[0.4], [0.45], [0.5]])
    outside = np.array([[0.0], [0.05], [0.95], [1.0]])
    mean_in, sd_in = opt.predict(inside)
    _, sd_out = opt.predict(outside)
    assert sd_out.min() > 4 * sd_in.max()
    np.testing.assert_allclose(mean_in, np.sin(12 * inside[:, 0]), atol=0.05)


# ---------------------------------------------------------------- the acquisition


def test_expected_improvement_is_the_expectation_it_claims():
    rng = np.random.default_rng(0)
    mean, sd, best = 1.3, 0.7, 1.0
    draws = rng.normal(mean, sd, 400_000)
    monte_carlo = np.maximum(best - draws, 0).mean()
    assert expected_improvement(mean, sd, best) == pytest.approx(monte_carlo, rel=0.02)
    assert lower_confidence_bound(1.0, 0.5, kappa=2.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match='Unknown acquisition .PI.: use "EI" or "LCB"'):
        acquisition("PI")


def test_candidates_are_canonical_encodings_of_configurations():
    solver = Categorical(["sgd", "adam"])
    space = SearchSpace(
        {
            "solver": solver,
            "momentum": UniformFloat(0.0, 0.9) | Condition(solver, ["sgd"]),
            "layers": UniformInt(1, 5),
        }
    )
    encoder = UnitEncoder(space)
    candidates = CandidateSpace(encoder)
    rng = np.random.default_rng(0)
    X = np.vstack(
        [candidates.random(50, rng), candidates.neighbours(np.full(4, 0.5), 50, 0.2, rng)]
    )
    for x in X:
        values = encoder.decode(x)
        space.validate(values)
        np.testing.assert_allclose(encoder.encode(values), x, atol=1e-12)
    assert {encoder.decode(x)["solver"] for x in X} == {"sgd", "adam"}


# ---------------------------------------------------------------- the optimizers


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def suggestions(cls, seed, n, **kw):
    space = SearchSpace({"x": [UniformFloat(-5, 10), UniformFloat(0, 15)]})
    opt = cls(space, seed=seed, **kw)
    out = []
    for _ in range(n):
        v = opt.suggest_configuration()
        out.append(v)
        opt.update([v], [branin(v["x[0]"], v["x[1]"])], [None])
    return out


@pytest.mark.parametrize("cls, kw", [(Bohamiann, FAST_BOHAMIANN), (DNGO, FAST_DNGO)])
def test_the_same_seed_gives_the_same_suggestions(cls, kw):
    first = suggestions(cls, 7, 6, **kw)
    assert suggestions(cls, 7, 6, **kw) == first
    assert suggestions(cls, 8, 6, **kw)[3:] != first[3:]
    json.dumps(first)
    assert all(type(v) is float for s in first for v in s.values())


@pytest.mark.parametrize("cls, kw", [(Bohamiann, FAST_BOHAMIANN), (DNGO, FAST_DNGO)])
def test_lcb_acquisition_and_no_repeated_configurations(cls, kw):
    space = SearchSpace({"k": UniformInt(0, 3), "c": Categorical(["a", "b"])})
    opt = cls(space, seed=0, acquisition="LCB", init_points=2, **kw)
    seen = []
    for _ in range(8):
        v = opt.suggest_configuration()
        space.validate(v)
        seen.append((v["k"], v["c"]))
        opt.update([v], [v["k"] + (v["c"] == "b")], [None])
    assert len(set(seen)) == 8  # 8 configurations exist: none is suggested twice


def test_the_names_are_registered():
    import labwatch.optimizers as optimizers
    from labwatch.optimizers.bohamiann import Bohamiann as from_module
    from labwatch.optimizers.dngo import DNGOWrapper

    assert optimizers.Bohamiann is from_module is Bohamiann
    assert optimizers.DNGO is optimizers.DNGOWrapper is DNGOWrapper is DNGO
    assert {"Bohamiann", "DNGO", "DNGOWrapper"} <= set(optimizers.__all__)


@pytest.mark.parametrize("cls, kw", [(Bohamiann, FAST_BOHAMIANN), (DNGO, FAST_DNGO)])
def test_a_conditional_space_end_to_end_with_lab_assistant(cls, kw, tmp_path):
    ex = Experiment("conditional")

    @ex.config
    def cfg():
        lr = 0.1
        solver = "sgd"
        momentum = -1.0  # the search space's range is [0, 0.99]

    a = LabAssistant(ex, store=str(tmp_path / "runs"), optimizer=lambda s: cls(s, seed=0, **kw))

    @a.search_space
    def search_space():
        lr = UniformFloat(1e-4, 1.0, log_scale=True)
        solver = Categorical(["sgd", "adam"])
        momentum = UniformFloat(0.0, 0.99) | Condition(solver, ["sgd"])

    @ex.main
    def main(lr, solver, momentum):
        cost = (math.log10(lr) + 2) ** 2
        return cost + (abs(momentum - 0.9) if solver == "sgd" else 0.5)

    runs = [ex.run(named_configs=["search_space"]) for _ in range(7)]
    runs += [a.run_suggestion() for _ in range(3)]
    for run in runs:
        assert run.status == "COMPLETED"
        config = run.config
        assert 1e-4 <= config["lr"] <= 1.0
        if config["solver"] == "sgd":
            assert 0.0 <= config["momentum"] <= 0.99
        else:
            assert config["momentum"] == -1.0  # inactive: the config's value stays
    history = a.history("search_space")
    assert len(history) == 10
    assert all("momentum" not in values for values, _, _ in history if values["solver"] == "adam")
    optimizer = next(iter(a._optimizers.values()))
    assert isinstance(optimizer, cls) and optimizer.model is not None  # the model was used
    assert os.path.isdir(tmp_path / "runs")


def test_a_model_that_cannot_be_fitted_gives_a_random_configuration_and_a_warning(caplog):
    space = SearchSpace({"x": UniformFloat(0.0, 1.0)})
    opt = Bohamiann(space, seed=0, lr=5.0, burn_in=200, n_samples=5, keep_every=5)  # diverges
    opt.update([{"x": i / 10} for i in range(10)], [math.sin(i) for i in range(10)], [None] * 10)
    with caplog.at_level("WARNING", logger="labwatch"):
        values = opt.suggest_configuration()
    space.validate(values)
    assert "Bohamiann could not fit its model" in caplog.text
    assert "suggesting a random configuration" in caplog.text
