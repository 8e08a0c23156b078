"""lab/network_view.py: snapshot schedule, neuron maps, neuron health and the network diagram."""
import numpy as np
import pytest

from lab.config import TrainConfig
from lab.network_view import (MAX_SHOWN, forward_layers, health_summary, layer_sizes, layers_of, network_figure,
                              neuron_health, neuron_maps, plane_grid)
from lab.train import load_data, predict, snapshot_limit, snapshot_steps, train
from micrograd import MLP


@pytest.mark.parametrize("total", [1, 7, 100, 101, 250, 5000, 100_000])
def test_snapshot_schedule_is_even_bounded_and_ends_at_the_last_step(total):
    steps = snapshot_steps(total)
    assert steps[0] == 1 and steps[-1] == total
    assert len(steps) == min(total, 100) and steps == sorted(set(steps))
    gaps = np.diff(steps)
    if len(gaps):
        assert gaps.max() - gaps.min() <= 1  # evenly spaced, up to rounding


def test_a_run_keeps_the_weights_of_its_snapshot_steps():
    config = TrainConfig(hidden=(4,), steps=250)
    result = train(config)
    assert sorted(result.snapshots) == snapshot_steps(250)
    constant = config.replace(lr_schedule="constant")  # so a shorter run takes the same first steps
    full, short = train(constant), train(constant.replace(steps=37))
    assert len(short.snapshots) == 37 and np.array_equal(full.snapshots[1], short.snapshots[1])
    assert short.snapshots[37].tolist() != short.params  # the weights step 37's loss used, before its update
    assert full.history["train_loss"][:37] == short.history["train_loss"]


def test_big_nets_keep_fewer_snapshots():
    assert snapshot_limit(337) == 100 and snapshot_limit(50_000) == 10 and snapshot_limit(10**7) == 2


@pytest.fixture(scope="module")
def trained():
    config = TrainConfig(hidden=(4, 3), activation="tanh", steps=30)
    result = train(config)
    train_set, _ = load_data(config)
    return config, result.params, train_set


def test_the_last_layer_is_the_networks_output(trained):
    config, params, train_set = trained
    *_, (_, output) = forward_layers(config, params, train_set.X)
    np.testing.assert_allclose(output[:, 0], predict(config, params, train_set.X), rtol=1e-12, atol=1e-12)
    assert layer_sizes(config, 2, len(params)) == [2, 4, 3, 1]


def test_a_neurons_map_is_its_activation_recomputed_by_the_scalar_engine(trained):
    config, params, train_set = trained
    xs, ys, maps = neuron_maps(config, params, train_set.X, resolution=7)
    assert [m.shape for m in maps] == [(4, 7, 7), (3, 7, 7), (1, 7, 7)]
    net = MLP(2, [4, 3, 1], activation="tanh")
    net.load_parameters(params)
    for row, col in [(0, 0), (3, 5), (6, 2)]:
        x = [xs[col], ys[row]]  # the map's [row, col] is the point (xs[col], ys[row])
        for layer_index, layer in enumerate(net.layers):
            x = layer(x)
            x = x if isinstance(x, list) else [x]
            for neuron, value in enumerate(x):
                assert maps[layer_index][neuron, row, col] == pytest.approx(value.data, rel=1e-12, abs=1e-12)
            x = [v.data for v in x]


def test_dead_relus_and_saturated_units_are_counted():
    X = np.random.default_rng(0).normal(size=(50, 2))
    # layer 1 of 3 neurons: a healthy one, one dead (always negative), one huge
    layer1 = [[1.0, 0.5, 0.0], [0.0, 0.0, -1.0], [40.0, 40.0, 0.0]]
    output = [[1.0, 1.0, 1.0, 0.0]]
    params = [v for neuron in layer1 + output for v in neuron]
    relu = TrainConfig(hidden=(3,), activation="relu")
    assert neuron_health(relu, params, X) == [{"size": 3, "dead": [1], "saturated": []}]
    tanh = TrainConfig(hidden=(3,), activation="tanh")
    assert neuron_health(tanh, params, X) == [{"size": 3, "dead": [], "saturated": [2]}]
    assert health_summary(neuron_health(relu, params, X)) == "layer 1: 1 of 3 dead"


def test_the_diagram_has_a_heatmap_per_neuron_and_a_line_per_weight():
    config = TrainConfig(hidden=(4, 4), steps=5)
    result = train(config)
    train_set, _ = load_data(config)
    fig = network_figure(config, result.params, train_set.X, train_set.y)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 2 + 4 + 4 + 1
    [weights] = [t for t in fig.data if t.name == "weights"]
    assert len(weights.text) == 2 * 4 + 4 * 4 + 4 * 1  # one hover point per weight
    matrices = [W for W, _ in layers_of(result.params, [2, 4, 4, 1])]  # biases are not lines
    assert sorted(weights.text) == sorted(f"w = {w:.3g}" for W in matrices for w in W.ravel())
    lines = [shape for shape in fig.layout.shapes if shape.type == "path"]  # one SVG path per colour and width
    assert sum(shape.path.count("M") for shape in lines) == len(weights.text)  # a segment per weight
    positive = sum(float(w) >= 0 for W in matrices for w in W.ravel())
    assert sum(shape.path.count("M") for shape in lines if shape.line.color == "#1f77b4") == positive
    assert all(shape.layer == "below" for shape in lines)  # under the maps
    xs, ys, points = plane_grid(train_set.X)
    assert heatmaps[0].z.shape == (len(ys), len(xs))


def test_wide_layers_show_sixteen_neurons_and_say_how_many_are_hidden():
    config = TrainConfig(hidden=(20,), steps=2)
    result = train(config)
    train_set, _ = load_data(config)
    fig = network_figure(config, result.params, train_set.X)
    assert len([t for t in fig.data if t.type == "heatmap"]) == 2 + MAX_SHOWN + 1
    assert any("4 more not shown" in a.text for a in fig.layout.annotations)


def test_inputs_that_are_not_two_dimensional_get_histograms():
    config = TrainConfig(dataset="sine", hidden=(3,), steps=2, lr=0.03)
    result = train(config)
    train_set, _ = load_data(config)
    fig = network_figure(config, result.params, train_set.X)
    assert not [t for t in fig.data if t.type == "heatmap"]
    assert len([t for t in fig.data if t.type == "bar"]) == train_set.n_features + 3 + 1


def test_dead_neurons_are_outlined_in_the_diagram():
    X = np.random.default_rng(0).normal(size=(50, 2))
    params = [1.0, 0.5, 0.0, 0.0, 0.0, -1.0, 1.0, 1.0, 0.0]
    fig = network_figure(TrainConfig(hidden=(2,), activation="relu"), params, X)
    assert [s.line.color for s in fig.layout.shapes if s.type == "rect"] == ["#d62728"]
    assert any("1 dead" in a.text for a in fig.layout.annotations)
