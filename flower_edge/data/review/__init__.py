"""`flower-edge data review`: find likely label errors, duplicates, leakage and outliers.

photos.py lists the photos (and the run's split); embed.py embeds them with a backbone
(TensorFlow); findings.py gets out-of-fold probabilities from a linear probe and hands
them with the embeddings to cleanlab (TF-free, the `review` extra); render.py writes
review.md / review.html / review.csv; quarantine.py moves approved photos out of the
data folder and back (manifest, sha256-checked). run.py ties them together.
"""
