"""Pictures of samples and assignments, drawn with OpenCV: pure functions returning uint8 BGR images.

`sheet` - the MTCNN contact sheet; `anchor_panels` - priors / points of one image per pyramid
level; `draw` - the shared primitives (palette, pixel rectangles, text, grids). No file I/O: the
``samplegen show`` commands read outputs and write the PNGs.
"""
