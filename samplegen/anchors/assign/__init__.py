"""Assigners: which GT (if any) each prior is responsible for, in mmdetection's encoding.

`max_iou` (mmdet ``MaxIoUAssigner``), `torchvision` (``Matcher`` / ``SSDMatcher``), `atss`
(``ATSSAssigner``), `points` (FCOS); all return a `result.Assignment` and share the chunked IoU
machinery of `overlaps`.
"""
from samplegen.anchors.assign.atss import assign_atss
from samplegen.anchors.assign.max_iou import assign_max_iou, assign_wrt_overlaps
from samplegen.anchors.assign.points import assign_fcos, assign_fcos_tv
from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.assign.torchvision import assign_tv_matcher, assign_tv_ssd_matcher, tv_match_wrt_overlaps

__all__ = ["Assignment", "assign_atss", "assign_fcos", "assign_fcos_tv", "assign_max_iou", "assign_tv_matcher",
           "assign_tv_ssd_matcher", "assign_wrt_overlaps", "tv_match_wrt_overlaps"]
