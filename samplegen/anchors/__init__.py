"""Anchor / point labelling as mmdetection computes it: priors, assign, sample, encode (pure numpy)."""
