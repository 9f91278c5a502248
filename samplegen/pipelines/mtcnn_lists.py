"""List dialects of the ``list`` layout (``--list-style``): the files each trainer family opens.

Every style writes the same crops into per-shard class folders (``PREFIX-000000/positive/...``)
and one list per class, one line per crop ``PATH CLS [NUMBERS]`` separated by single spaces;
the styles differ in file names, in what a landmark line carries and in one merged list:

- ``classic`` (default): ``pos_S.txt neg_S.txt part_S.txt landmark_S.txt``; pos/part lines carry
  the 4 box targets, landmark lines the 10 points (``x1 y1 ... x5 y5``); samplegen's historical
  layout, byte for byte (paths relative to the output folder).
- ``aittsmd``: as classic, the landmark list named ``landmark_S_aug.txt``, the name
  AITTSMD/MTCNN-Tensorflow's ``gen_imglist_{pnet,rnet,onet}.py`` open beside ``pos_S.txt``...
  Their ``gen_*_tfrecords.py`` read a line as ``path label`` + 4 box numbers (6 fields) or
  + 10 points (12 fields).
- ``dface``: kuaikuaikim/DFace (``dface/core/imagedb.py``, ``load_annotations``): JPEG crops (its
  ``real_image_path`` appends ``.jpg`` to any path not ending in it), landmark lines with 14
  numbers (4 box targets then the 10 points: 14 numbers fill ``bbox_target`` and
  ``landmark_target``, 10 would fill neither), and the merged ``imglist_anno_S.txt`` its
  ``train_*_net.py`` read (pos, part, neg, landmark lines, the order of its ``assemble_*_imglist.py``).

Shard folders name their images relative to the output folder. The top-level lists written at
the end do too for ``classic``; for the trainer dialects they name them absolutely
(``--relative-paths``: relative, as in the shards), so the trainer finds them whatever its
working directory (both trainers open the paths as written, relative to their own). Numbers are written with 9 significant digits, enough
to restore the float32 values exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from samplegen.mtcnn.crop_plan import CropPlan
from samplegen.mtcnn.labels import CLASS_ORDER, LANDMARK, NEG, PART, POS

FOLDERS = {POS: "positive", NEG: "negative", PART: "part", LANDMARK: "landmark"}
"""Class code -> image folder inside a shard (AITTSMD's names, B.8)."""


@dataclass(frozen=True)
class ListStyle:
    """One dialect: file names, landmark line contents, forced image format, merged list.

    Attributes:
        name: the ``--list-style`` value.
        names: class code -> list file name pattern (``{size}`` replaced by S).
        landmark_roi: landmark lines carry the 4 box targets before the 10 points (14 numbers).
        image_format: the image format the trainer needs (``"jpg"``), None for any.
        merged: the pattern of one list holding every class (in `merged_order`), or None.
        merged_order: classes of `merged`, in order.
    """

    name: str
    names: dict[int, str]
    landmark_roi: bool = False
    image_format: str | None = None
    merged: str | None = None
    merged_order: tuple[int, ...] = ()

    def list_names(self, size: int) -> dict[int, str]:
        """Class code -> list file name for crops of `size`, in `CLASS_ORDER`."""
        return {code: self.names[code].format(size=size) for code in CLASS_ORDER}

    def merged_name(self, size: int) -> str | None:
        return self.merged.format(size=size) if self.merged else None

    def line_fields(self, plan: CropPlan, row: int) -> str:
        """``CLS [NUMBERS]`` of one crop: pos/part ``cls roi``, neg ``cls``, landmark ``cls
        [roi] landmark``."""
        code = int(plan.cls[row])
        if code == NEG:
            values = []
        elif code == LANDMARK:
            values = (plan.roi[row].tolist() if self.landmark_roi else []) + plan.landmark[row].tolist()
        else:
            values = plan.roi[row].tolist()
        return " ".join([str(code)] + [f"{v:.9g}" for v in values])


_CLASSIC_NAMES = {POS: "pos_{size}.txt", NEG: "neg_{size}.txt", PART: "part_{size}.txt",
                  LANDMARK: "landmark_{size}.txt"}
LIST_STYLES: dict[str, ListStyle] = {
    "classic": ListStyle("classic", _CLASSIC_NAMES),
    "aittsmd": ListStyle("aittsmd", _CLASSIC_NAMES | {LANDMARK: "landmark_{size}_aug.txt"}),
    "dface": ListStyle("dface", _CLASSIC_NAMES, landmark_roi=True, image_format="jpg",
                       merged="imglist_anno_{size}.txt", merged_order=(POS, PART, NEG, LANDMARK)),
}
"""``--list-style`` name -> dialect (the only name table)."""
