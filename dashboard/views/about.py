"""What the scores mean, how thresholds are chosen, the protocol."""

import pandas as pd
import streamlit as st
from ui import cached_bundle, choose_bundle

from anogan.errors import AnoganError

st.title("About anogan")
st.markdown(
    """
**The model.** A DCGAN (the TensorFlow tutorial's generator and discriminator) is trained on
*normal* images only. It learns to draw normal images and nothing else, so an image it cannot
reproduce is likely an anomaly.

**The scores** (higher = more anomalous):

* **anogan** — AnoGAN (Schlegl et al. 2017): search a latent code *z* so that G(*z*) matches the
  image; the score weighs the residual |x − G(z)| against the distance between the discriminator's
  features *f* of x and of G(z), by λ. The paper searches with 500 Adam steps (λ = 0.1). The
  **recommended recipe** (the default) takes the nearest of 16,384 sampled codes in *f* instead,
  divides the residual by the ink, uses the cosine feature distance, standardises the terms on normal
  validation images and adds the discriminator's own verdict on x (λ 0.7, critic weight 0.5).
* **encoder** — f-AnoGAN izi_f (Schlegl et al. 2019): an encoder trained with G and D frozen maps
  the image to *z* in one pass; score = MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x)))), κ = 1.
* **hybrid** — the encoder's *z* refined by a few AnoGAN steps; scored like anogan.
* **feature-knn** — not from the papers: the mean cosine distance between *f*(x) and its 5 nearest
  neighbours among the features of the normal training images kept in the bundle. Its
  "reconstruction" is the nearest normal training image.

The **residual map** |x − G(z)| shows *where* the image differs from what the model can draw
(for feature-knn: from the most similar normal training image).

**Inputs of another kind.** A constant, near-blank or saturated frame (outside the pixel statistics
of the bundle's normal images) is flagged as an anomaly whatever its score, with the reason shown.

**Thresholds** are set on a held-out split of *normal* training images (never on the data being
evaluated): by default a split-conformal threshold that flags at most 1 % of new normal images
when there are at least 99 validation images (with fewer, the largest validation score, which flags
about 1/(n + 1): the table below says when); with labelled anomalies from a validation set, the
F1-maximising threshold. The
**normalized score** maps a score to [0, 1] with 0.5 at the threshold.

**Protocol.** One-class: one (or more) classes are normal, every other class is an anomaly;
models train on normal training images only; results are reported on the official test split
as AUROC (threshold-free), AUPRC and F1.
"""
)
run = choose_bundle("about_bundle")
if run is not None:
    try:
        bundle = cached_bundle(run)
    except AnoganError as exc:
        st.error(str(exc))
        st.stop()
    meta = bundle.metadata
    st.subheader("This bundle")
    st.write(f"Dataset **{meta['dataset']['name']}**, normal class(es) "
             f"**{', '.join(bundle.class_names[c] for c in bundle.normal_classes)}**, "
             f"{meta['training']['epochs']} epochs, seed {meta['seed']}, "
             f"{meta['training']['n_train']} training and {meta['training']['n_val']} validation images.")
    recipe = meta.get("recipe")
    if recipe:
        replaced = ", ".join(f"{k} {v}" for k, v in recipe.get("overrides", {}).items())
        st.write(f"Recipe **{recipe['name']}**" + (f", with {replaced} replaced." if replaced else ".")
                 + f" Scored by default with **{recipe['method']}**.")
    else:
        st.write("Trained before recipes: scored by default as then.")
    calibration = meta.get("calibration", {})
    if calibration:
        st.table(pd.DataFrame([
            {"method": method, "threshold": c["threshold"], "rule": c["rule"],
             "normal validation images": c["validation_summary"]["n"],
             "normal images flagged": (f"{c['expected_false_positive_rate']:.2%}"
                                       if c.get("expected_false_positive_rate") is not None else "–"),
             "settings": ", ".join(f"{k}={v}" for k, v in c["settings"].items())}
            for method, c in calibration.items()
        ]))
    else:
        st.info("No method is calibrated yet; scoring calibrates on first use.")
