"""One module per family of anchor / point methods, each the same set of functions that an entry
of `samplegen.anchors.methods.METHODS` carries: ``validate``, ``geometry``, ``priors``, ``label``
and (where anchors can be fitted) ``fit_space``."""
