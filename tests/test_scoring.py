import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from anogan.data.datasets import to_model_range
from anogan.errors import AnoganError
from anogan.scoring.inversion import LATENT_BANK_SEED
from anogan.scoring.methods import METHODS
from anogan.scoring.scorer import Scorer
from anogan.scoring.settings import ScoringSettings


@pytest.mark.parametrize("method", METHODS)
def test_every_method_ranks_anomalies_higher(scoring_bundle, shapes_dataset, fast_settings, method):
    scores = Scorer(scoring_bundle, method, fast_settings).score(shapes_dataset.x_test).score
    assert roc_auc_score(shapes_dataset.y_test != 0, scores) > 0.75


@pytest.mark.parametrize("method", METHODS)
def test_score_does_not_depend_on_batch_company_or_order(scoring_bundle, shapes_dataset, fast_settings, method):
    scorer = Scorer(scoring_bundle, method, fast_settings)
    images = shapes_dataset.x_test
    alone = scorer.score(images[:5]).score
    order = np.random.default_rng(0).permutation(len(images))
    mixed = scorer.score(images[order]).score
    position = {index: p for p, index in enumerate(order)}
    np.testing.assert_allclose(mixed[[position[i] for i in range(5)]], alone, rtol=1e-4)


def test_schema_fields_agree_with_each_other(scoring_bundle, shapes_dataset, fast_settings):
    images = shapes_dataset.x_test[:6]
    result = Scorer(scoring_bundle, "anogan", fast_settings).score(images)
    assert len(result) == 6
    assert result.reconstruction.shape == result.anomaly_map.shape == (6, 28, 28)
    assert result.z.shape == (6, scoring_bundle.latent_dim)
    np.testing.assert_allclose(result.anomaly_map, np.abs(to_model_range(images)[..., 0] - result.reconstruction), atol=1e-5)
    np.testing.assert_allclose(result.residual_score, result.anomaly_map.sum(axis=(1, 2)), rtol=1e-4)
    np.testing.assert_allclose(result.score, 0.9 * result.residual_score + 0.1 * result.discrimination_score, rtol=1e-5)


def test_encoder_score_is_mse_plus_kappa_times_feature_mse(scoring_bundle, shapes_dataset):
    result = Scorer(scoring_bundle, "encoder", ScoringSettings(kappa=2.0)).score(shapes_dataset.x_test[:4])
    np.testing.assert_allclose(result.score, result.residual_score + 2.0 * result.discrimination_score, rtol=1e-5)
    np.testing.assert_allclose(result.residual_score, (result.anomaly_map**2).mean(axis=(1, 2)), rtol=1e-4)


@pytest.mark.slow
def test_inversion_lowers_the_loss_and_restarts_never_hurt(scoring_bundle, shapes_dataset):
    images = shapes_dataset.x_test[:8]
    start = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0)).score(images).score
    single = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=30)).score(images).score
    restarts = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=30, restarts=3)).score(images).score
    assert single.mean() < start.mean()
    assert np.all(restarts <= single + 1e-4)


def test_inversion_is_compiled_once_for_every_batch(scoring_bundle, shapes_dataset):
    scorer = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=3, batch_size=8))
    for size in (3, 8, 13):
        scorer.score(shapes_dataset.x_test[:size])
    assert scorer.traces() == 1


def test_latent_bank_starts_at_the_sample_the_discriminator_sees_most_like_x(scoring_bundle, shapes_dataset):
    images = shapes_dataset.x_test[:10]
    small = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=32))
    large = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=256))
    bank = np.random.default_rng(LATENT_BANK_SEED).standard_normal((256, scoring_bundle.latent_dim))
    found_small, found_large = small.invert(images), large.invert(images)
    # every start is one of the bank's samples, and the larger bank holds the smaller one, so its nearest
    # sample is at least as close
    assert all(np.any(np.all(np.isclose(bank.astype(np.float32), z, atol=1e-6), axis=1)) for z in found_large.z)
    assert np.all(found_large.feature_cosine <= found_small.feature_cosine + 1e-5)
    random_start = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0)).invert(images)
    assert found_large.feature_cosine.mean() < random_start.feature_cosine.mean()


def test_latent_bank_search_ranks_anomalies_and_is_compiled_once(scoring_bundle, shapes_dataset):
    scorer = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=256, batch_size=16))
    scores = scorer.score(shapes_dataset.x_test).score
    assert roc_auc_score(shapes_dataset.y_test != 0, scores) > 0.75
    for size in (3, 17):
        scorer.score(shapes_dataset.x_test[:size])
    assert scorer.traces() == 1
    standardised = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=256, batch_size=16,
                                                                    standardize=True, critic_weight=1.0))
    assert set(standardised.term_stats) >= {"residual_l1", "critic"}
    assert roc_auc_score(shapes_dataset.y_test != 0, standardised.score(shapes_dataset.x_test).score) > 0.75
    with pytest.raises(AnoganError, match="latent bank"):
        ScoringSettings(latent_bank=-1)
    with pytest.raises(AnoganError, match="restarts"):
        ScoringSettings(latent_bank=64, restarts=2)


def test_several_bank_candidates_keep_the_lowest_loss_or_average_the_terms(scoring_bundle, shapes_dataset):
    images = shapes_dataset.x_test
    base = dict(steps=0, latent_bank=256, lam=0.7)
    one = Scorer(scoring_bundle, "anogan", ScoringSettings(**base)).invert(images)
    best = Scorer(scoring_bundle, "anogan", ScoringSettings(**base, bank_candidates=8)).invert(images)
    mean = Scorer(scoring_bundle, "anogan", ScoringSettings(**base, bank_candidates=8, bank_choice="mean"))
    averaged = mean.invert(images)
    assert np.all(best.loss <= one.loss + 1e-4) and np.any(best.loss < one.loss - 1e-4)
    assert not np.allclose(averaged.residual_l1, one.residual_l1)
    np.testing.assert_array_equal(averaged.z, one.z)  # the maps and z stay the nearest candidate's
    assert mean.traces() == 1
    with pytest.raises(AnoganError, match="bank candidates"):
        ScoringSettings(bank_candidates=4)
    with pytest.raises(AnoganError, match="bank choice"):
        ScoringSettings(latent_bank=64, steps=0, bank_choice="median")


def test_a_pruned_bank_keeps_exactly_the_samples_nearest_to_some_normal_training_image(scoring_bundle):
    normals = scoring_bundle.reference_images()
    full = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=256))
    pruned = Scorer(scoring_bundle, "anogan", ScoringSettings(steps=0, latent_bank=256, prune_bank=True))
    starts_full, starts_pruned = full.invert(normals).z, pruned.invert(normals).z
    # each normal training image keeps its start, and no sample survives that is no normal image's start
    np.testing.assert_array_equal(starts_pruned, starts_full)
    assert len(pruned.state()["bank_latents"]) == len(np.unique(starts_full, axis=0)) < 256
    assert "prune_bank" in pruned.settings.relevant_to("anogan")


def test_pruning_the_bank_needs_a_bank_and_the_normal_training_images(trained_run):
    from dataclasses import replace

    with pytest.raises(AnoganError, match="latent bank"):
        ScoringSettings(prune_bank=True)
    metadata = {**trained_run.metadata, "files": {k: v for k, v in trained_run.metadata["files"].items()
                                                  if k != "reference.npz"}}
    with pytest.raises(AnoganError, match="anogan method with these settings needs the normal training images"):
        Scorer(replace(trained_run, metadata=metadata, _reference=None), "anogan",
               ScoringSettings(latent_bank=16, prune_bank=True))


def test_hybrid_starts_from_the_encoder(scoring_bundle, shapes_dataset):
    images = shapes_dataset.x_test[:4]
    encoder = Scorer(scoring_bundle, "encoder").score(images)
    hybrid_zero = Scorer(scoring_bundle, "hybrid", ScoringSettings(hybrid_steps=0)).score(images)
    np.testing.assert_allclose(hybrid_zero.z, encoder.z, atol=1e-5)


def test_encoder_methods_need_an_encoder(trained_run):
    for method in ("encoder", "hybrid"):
        with pytest.raises(AnoganError, match="train-encoder"):
            Scorer(trained_run, method)


def test_bad_settings_and_inputs_are_refused(scoring_bundle):
    with pytest.raises(AnoganError, match="lambda"):
        ScoringSettings(lam=1.5)
    with pytest.raises(AnoganError, match="restarts"):
        ScoringSettings(restarts=0)
    with pytest.raises(AnoganError, match="unknown method"):
        Scorer(scoring_bundle, "magic")
    with pytest.raises(AnoganError, match="uint8"):
        Scorer(scoring_bundle, "encoder").score(np.zeros((2, 28, 28), np.float32))


def test_empty_batch_gives_empty_scores(scoring_bundle):
    result = Scorer(scoring_bundle, "encoder").score(np.zeros((0, 28, 28), np.uint8))
    assert len(result) == 0 and result.z.shape == (0, scoring_bundle.latent_dim)


def test_feature_knn_finds_a_normal_training_image_as_its_own_nearest_neighbour(scoring_bundle):
    reference = scoring_bundle.reference_images()[:4]
    result = Scorer(scoring_bundle, "feature-knn", ScoringSettings(neighbours=1)).score(reference)
    np.testing.assert_allclose(result.score, 0.0, atol=1e-5)
    np.testing.assert_allclose(result.reconstruction, to_model_range(reference)[..., 0])
    assert np.all(result.anomaly_map == 0) and np.all(np.isnan(result.z))


def test_feature_knn_schema_and_neighbours(scoring_bundle, shapes_dataset):
    images = shapes_dataset.x_test[:6]
    one = Scorer(scoring_bundle, "feature-knn", ScoringSettings(neighbours=1)).score(images)
    five = Scorer(scoring_bundle, "feature-knn", ScoringSettings(neighbours=5)).score(images)
    assert np.all(five.score >= one.score - 1e-6)
    assert np.all((one.score >= -1e-6) & (one.score <= 2 + 1e-6))
    np.testing.assert_allclose(five.score, five.discrimination_score)
    np.testing.assert_allclose(five.anomaly_map, np.abs(to_model_range(images)[..., 0] - five.reconstruction), atol=1e-6)
    np.testing.assert_allclose(five.residual_score, five.anomaly_map.mean(axis=(1, 2)), rtol=1e-5)


def test_feature_knn_is_compiled_once_for_every_batch(scoring_bundle, shapes_dataset):
    scorer = Scorer(scoring_bundle, "feature-knn")
    for size in (3, 8, 300):
        scorer.score(np.resize(shapes_dataset.x_test, (size, 28, 28)))
    assert scorer.traces() == 1


def test_feature_knn_needs_the_reference_images_and_enough_of_them(trained_run):
    from dataclasses import replace

    metadata = {**trained_run.metadata, "files": {k: v for k, v in trained_run.metadata["files"].items()
                                                  if k != "reference.npz"}}
    with pytest.raises(AnoganError, match="normal training images"):
        Scorer(replace(trained_run, metadata=metadata, _reference=None), "feature-knn")
    with pytest.raises(AnoganError, match="at least 100 reference images"):
        Scorer(trained_run, "feature-knn", ScoringSettings(neighbours=100))
    with pytest.raises(AnoganError, match="neighbours"):
        ScoringSettings(neighbours=0)


def test_standardized_terms_are_centred_on_the_normal_validation_images(scoring_bundle, fast_settings):
    from dataclasses import replace

    settings = replace(fast_settings, residual="ink", feature_distance="cosine", standardize=True, lam=0.5)
    scorer = Scorer(scoring_bundle, "hybrid", settings)
    normals = scoring_bundle.validation_images()
    assert abs(float(scorer.score(normals).score.mean())) < 1e-3
    assert scorer.term_stats["residual_ink"][1] > 0


def test_ink_residual_and_cosine_terms_are_bounded_and_the_default_is_anogan(scoring_bundle, shapes_dataset,
                                                                             fast_settings):
    scorer = Scorer(scoring_bundle, "hybrid", fast_settings)
    terms = scorer.invert(shapes_dataset.x_test)
    assert ((terms.residual_ink >= 0) & (terms.residual_ink <= 1)).all()
    assert ((terms.feature_cosine >= -1e-6) & (terms.feature_cosine <= 2)).all()
    paper = scorer.score(shapes_dataset.x_test)
    np.testing.assert_allclose(paper.score, 0.9 * terms.residual_l1 + 0.1 * terms.feature_l1, rtol=1e-5)
    np.testing.assert_allclose(paper.residual_score, terms.residual_l1)


def test_aligned_residual_forgives_a_one_pixel_shift_and_multiscale_a_move_within_a_block():
    import tensorflow as tf

    from anogan.scoring.inversion import aligned_residual, multiscale_residual

    def bar(column):
        ink = np.zeros((1, 28, 28, 1), np.float32)
        ink[0, 4:24, column, 0] = 1.0
        return tf.constant(ink)

    x = bar(12)
    pixel = float(tf.reduce_sum(tf.abs(x - bar(13))))
    assert pixel == 40.0
    assert float(aligned_residual(x, bar(13))[0]) == 0.0
    assert float(aligned_residual(x, bar(15))[0]) == 40.0  # three pixels away: no shift of one pixel fits
    assert float(multiscale_residual(x, x)[0]) == 0.0
    # columns 12 and 13 share their 2x2 and 4x4 blocks: only the pixel scale sees the move
    assert float(multiscale_residual(x, bar(13))[0]) == pytest.approx(pixel / 3)


@pytest.mark.parametrize("residual", ["multiscale", "aligned"])
def test_new_residuals_are_bounded_and_standardise(scoring_bundle, shapes_dataset, fast_settings, residual):
    from dataclasses import replace

    terms = Scorer(scoring_bundle, "hybrid", fast_settings).invert(shapes_dataset.x_test)
    values = getattr(terms, f"residual_{residual}")
    assert ((values >= 0) & (values <= 1)).all()
    if residual == "aligned":  # the unshifted G(z) is one of the shifts tried
        assert (values <= terms.residual_ink + 1e-6).all()
    settings = replace(fast_settings, residual=residual, feature_distance="cosine", standardize=True, lam=0.5)
    scorer = Scorer(scoring_bundle, "hybrid", settings)
    assert abs(float(scorer.score(scoring_bundle.validation_images()).score.mean())) < 1e-3
    scores = scorer.score(shapes_dataset.x_test).score
    assert roc_auc_score(shapes_dataset.y_test != 0, scores) > 0.75


def test_critic_term_adds_the_standardised_discriminator_verdict(scoring_bundle, shapes_dataset, fast_settings):
    from dataclasses import replace

    from anogan.data.datasets import to_model_range

    two_terms = replace(fast_settings, residual="ink", feature_distance="cosine", standardize=True, lam=0.5)
    scorer = Scorer(scoring_bundle, "hybrid", replace(two_terms, critic_weight=0.5))
    images = shapes_dataset.x_test[:20]
    terms = scorer.invert(images)
    logits = scoring_bundle.discriminator(to_model_range(images), training=False).numpy().ravel()
    np.testing.assert_allclose(terms.critic, -logits, rtol=1e-4, atol=1e-4)
    mean, std, _ = scorer.term_stats["critic"]
    without = Scorer(scoring_bundle, "hybrid", two_terms, state={"term_stats": scorer.term_stats}).score(images).score
    np.testing.assert_allclose(scorer.score(images).score, without + 0.5 * (terms.critic - mean) / std,
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(AnoganError, match="standardise"):
        ScoringSettings(critic_weight=0.5)
    with pytest.raises(AnoganError, match="critic weight"):
        ScoringSettings(critic_weight=-1.0, standardize=True)


def test_complexity_baseline_subtracts_the_standardised_total_variation_of_x(scoring_bundle, shapes_dataset,
                                                                             fast_settings):
    from dataclasses import replace

    two_terms = replace(fast_settings, residual="ink", feature_distance="cosine", standardize=True, lam=0.5)
    scorer = Scorer(scoring_bundle, "hybrid", replace(two_terms, complexity_weight=0.5))
    images = shapes_dataset.x_test[:20]
    ink = images.astype(np.float64) / 255.0
    variation = np.abs(np.diff(ink, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(ink, axis=2)).sum(axis=(1, 2))
    terms = scorer.invert(images)
    np.testing.assert_allclose(terms.complexity, variation, rtol=1e-3, atol=1e-2)
    mean, std, largest = scorer.term_stats["complexity"]
    without = Scorer(scoring_bundle, "hybrid", two_terms, state={"term_stats": scorer.term_stats})
    expected = without.score(images).score - 0.5 * (np.minimum(terms.complexity, largest) - mean) / std
    np.testing.assert_allclose(scorer.score(images).score, expected, rtol=1e-4, atol=1e-4)
    blank = np.zeros((1, 28, 28), np.uint8)
    assert scorer.invert(blank).complexity[0] == 0
    # noise is more complex than any normal: it is excused no more than the most complex normal would be
    noise = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    assert scorer.invert(noise).complexity.min() > largest
    excused = without.score(noise).score - scorer.score(noise).score
    np.testing.assert_allclose(excused, 0.5 * (largest - mean) / std, rtol=1e-4, atol=1e-4)
    with pytest.raises(AnoganError, match="standardise"):
        ScoringSettings(complexity_weight=0.5)
    with pytest.raises(AnoganError, match="complexity weight"):
        ScoringSettings(complexity_weight=-1.0, standardize=True)


def test_new_term_settings_are_checked_and_round_trip_through_the_cli():
    from dataclasses import replace

    from anogan.cli import build_parser
    from anogan.cli.options import named_settings

    with pytest.raises(AnoganError, match="residual"):
        ScoringSettings(residual="l2")
    with pytest.raises(AnoganError, match="feature distance"):
        ScoringSettings(feature_distance="dot")
    settings = ScoringSettings(lam=0.5, residual="ink", feature_distance="cosine", standardize=True, hybrid_steps=7,
                               critic_weight=0.25, complexity_weight=0.5, latent_bank=128)
    args = build_parser().parse_args(["score", "x", "--model", "m", "--method", "hybrid", "--out", "o.csv",
                                       *settings.as_flags()])
    assert replace(ScoringSettings(), **named_settings(args)) == settings
    assert ScoringSettings().as_flags(base=settings)[:2] == ["--lam", "0.1"]
    assert "--no-standardize" in ScoringSettings().as_flags(base=settings)
    assert ScoringSettings().as_flags() == []
