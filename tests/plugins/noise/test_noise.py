from plugins.noise import NoiseSampler, NoiseSettings


def test_samples_one_in_n_past_the_threshold_per_window() -> None:
    now = [0.0]
    sampler = NoiseSampler(NoiseSettings(threshold=3, sample_rate=5, window_secs=10), clock=lambda: now[0])
    kept = [sampler.keep("GET", "h", "/p") for _ in range(13)]
    assert kept == [True] * 3 + [True, False, False, False, False, True, False, False, False, False]
    assert sampler.report()["dropped_flows"] == 8
    assert sampler.keep("GET", "h", "/other")          # endpoints counted apart
    now[0] = 11.0
    assert all(sampler.keep("GET", "h", "/p") for _ in range(3))   # a new window


def test_disabled_keeps_everything() -> None:
    sampler = NoiseSampler(NoiseSettings(enabled=False, threshold=1, sample_rate=100))
    assert all(sampler.keep("GET", "h", "/") for _ in range(50))
